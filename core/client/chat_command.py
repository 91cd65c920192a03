"""`meadow chat`: an interactive terminal chat through the swarm, one KV-cached session per conversation.

With --new-swarm it first starts a local `meadow serve` of the whole model (the headless `make run`).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from transformers import TextStreamer

from core.config import Settings
from core.errors import UserFacingError
from core.events import parse_event
from core.launcher import spawn, stop_group
from core.swarm.dht import SwarmSelection

SESSION_TOKENS = 4096


def run_chat(args: argparse.Namespace, swarm: SwarmSelection, settings: Settings) -> None:
    server = None
    if swarm.new_swarm and not swarm.initial_peers:
        server, swarm.initial_peers = start_local_server(args.model, args.overrides)
        swarm.new_swarm = False
    try:
        _chat_loop(args, swarm, settings)
    finally:
        if server is not None:
            stop_group(server)


def start_local_server(model: str, overrides: list[str], timeout: float = 300.0) -> tuple[subprocess.Popen, list[str]]:
    """Start `meadow serve --new-swarm` for the whole model; returns it and its multiaddrs once ready."""
    print(f"Starting a local server for {model} ...", file=sys.stderr)
    command = ["serve", "--model", model, "--new-swarm"] + [f"--set={item}" for item in overrides]
    server = spawn(command, stderr=None)
    deadline = time.monotonic() + timeout
    assert server.stdout is not None
    for line in server.stdout:
        event = parse_event(line) or {}
        if event.get("event") == "ready":
            return server, list(event["multiaddrs"])
        if event.get("event") == "error" or time.monotonic() > deadline:
            break
    stop_group(server)
    raise UserFacingError(f"The local server did not start: {json.dumps(event) if event else 'no ready event'}")


def _chat_loop(args: argparse.Namespace, swarm: SwarmSelection, settings: Settings) -> None:
    from core.client import AutoDistributedModelForCausalLM
    from core.models.source import resolve_model
    from core.models.weights import load_tokenizer

    tokenizer = load_tokenizer(resolve_model(args.model))
    model = AutoDistributedModelForCausalLM.from_pretrained(args.model, swarm=swarm, settings=settings)
    messages: list[dict[str, str]] = []
    print("Chat through the swarm. Empty line or Ctrl-D quits; /reset starts over.", file=sys.stderr)
    try:
        session = model.inference_session(max_length=SESSION_TOKENS).__enter__()
        while True:
            try:
                text = input("you> ").strip()
            except EOFError:
                break
            if not text:
                break
            if text == "/reset" or session.position > SESSION_TOKENS - args.max_new_tokens - 512:
                session.__exit__(None, None, None)
                session = model.inference_session(max_length=SESSION_TOKENS).__enter__()
                messages.clear()
                if text == "/reset":
                    continue
            messages.append({"role": "user", "content": text})
            input_ids = encode_prompt_messages(tokenizer, messages)
            if not (session.history_is_prefix_of(input_ids) and input_ids.shape[1] > session.position):
                # the chat template re-tokenized the history differently: start over
                session.__exit__(None, None, None)
                session = model.inference_session(max_length=SESSION_TOKENS).__enter__()
            print("meadow> ", end="", flush=True)
            streamer = TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
            output = model.generate(input_ids, max_new_tokens=args.max_new_tokens, do_sample=False, streamer=streamer)
            reply = tokenizer.decode(output[0, input_ids.shape[1]:], skip_special_tokens=True)
            messages.append({"role": "assistant", "content": reply.strip()})
        session.__exit__(None, None, None)
    finally:
        model.shutdown()


def encode_prompt_messages(tokenizer, messages: list[dict[str, str]]):
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    return encoded["input_ids"]

