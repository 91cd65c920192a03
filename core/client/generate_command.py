"""`meadow generate`: stream a completion of a prompt through the swarm to stdout."""
from __future__ import annotations

import argparse
import sys

from transformers import TextStreamer

from core.config import Settings
from core.errors import UserFacingError
from core.models.prompts import encode_prompt
from core.swarm.dht import SwarmSelection


def run_generate(args: argparse.Namespace, swarm: SwarmSelection, settings: Settings) -> None:
    from core.client import AutoDistributedModelForCausalLM
    from core.models.source import resolve_model
    from core.models.weights import load_tokenizer

    if args.max_new_tokens < 1:
        raise UserFacingError("--max-new-tokens must be at least 1")
    source = resolve_model(args.model)
    tokenizer = load_tokenizer(source)
    model = AutoDistributedModelForCausalLM.from_pretrained(source, swarm=swarm, settings=settings)
    try:
        if args.chat and not tokenizer.chat_template:
            raise UserFacingError("This model has no chat template; drop --chat")
        input_ids = encode_prompt(tokenizer, [{"role": "user", "content": args.prompt}] if args.chat else args.prompt)
        sampling = {"do_sample": True, "temperature": args.temperature, "top_p": args.top_p} if args.temperature > 0 \
            else {"do_sample": False}
        streamer = TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        model.generate(input_ids, max_new_tokens=args.max_new_tokens, streamer=streamer, **sampling)
        sys.stdout.flush()
    finally:
        model.shutdown()
