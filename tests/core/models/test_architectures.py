"""Every architecture's blocks, split over two block spans as two servers would hold them, give the logits of
transformers' own model bit for bit (float32, CPU), at the prefill and at each decode step, with prompts longer
than every sliding window."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import PreTrainedModel

from core.client.model import _assign, build_client_model
from core.models import family_for
from core.models.layout import model_layout
from core.server.blocks import BlockSpan
from tests.helpers.block_spans import span_of
from tests.helpers.tiny_models import ARCHITECTURES, WINDOW, tiny_model

PROMPT = torch.tensor([[1, 17, 42, 99, 7, 300, 11, 23, 57, 101]])  # longer than WINDOW
STEPS = 8


def swarm_logits(model: PreTrainedModel, spans: list[BlockSpan], steps: int) -> list[torch.Tensor]:
    """Greedy decoding through the spans (each with its own cache), the client's parts taken from `model`."""
    layout = model_layout(model.config, family_for(model.config))
    client = build_client_model(layout.family, layout.decoder_config)
    _assign(client, {name: model.state_dict()[name] for name in layout.client_names()}, layout)
    caches = [span.new_cache(max_length=64) for span in spans]
    tokens, position, logits = PROMPT, 0, []
    with torch.inference_mode():
        for _ in range(steps):
            embeddings = client.model.embed_tokens(tokens)
            hidden = embeddings if client.model.embedding_norm is None else client.model.embedding_norm(embeddings)
            for span, cache in zip(spans, caches, strict=True):
                hidden = span.forward(hidden, span.start, span.end, cache, position)
            last = client.model.norm(hidden)[:, -1:]  # generate() keeps the last position's logits only
            step = client.family.transform_logits(client.config, client.lm_head(last))[:, -1]
            logits.append(step)
            position += tokens.shape[1]
            tokens = step.argmax(-1, keepdim=True)
    return logits


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_blocks_over_two_spans_equal_transformers_bit_for_bit(name):
    model: Any = tiny_model(name)
    assert PROMPT.shape[1] > WINDOW
    spans = [span_of(model, 0, 2), span_of(model, 2, 4)]
    ours = swarm_logits(model, spans, STEPS)
    with torch.inference_mode():
        local = model.generate(PROMPT, max_new_tokens=STEPS, min_new_tokens=STEPS, do_sample=False,
                               output_logits=True, return_dict_in_generate=True)
    for step, (mine, theirs) in enumerate(zip(ours, local.logits, strict=True)):
        assert torch.equal(mine, theirs), f"{name}: step {step} differs by {(mine - theirs).abs().max().item()}"


class SubSpan(BlockSpan):
    """A server's span of every block, run over [start, end) only, as a route that uses part of a server's
    span runs it: the session's cache still has a layer per served block."""

    def __init__(self, span: BlockSpan, start: int, end: int):
        self.__dict__.update(span.__dict__)
        self.run_start, self.run_end = start, end

    def forward(self, hidden: torch.Tensor, start: int, end: int, cache: Any = None, position: int = 0) -> torch.Tensor:
        return super().forward(hidden, self.run_start, self.run_end, cache, position)


@pytest.mark.parametrize("name", ["gemma3_text", "qwen2", "falcon-rw"])
def test_sessions_over_parts_of_a_span_equal_transformers(name):
    """Blocks 1:3 of a server holding 0:4 mix attention kinds (and ALiBi keys) at their own cache indices."""
    model: Any = tiny_model(name)
    whole = span_of(model, 0, 4)
    ours = swarm_logits(model, [SubSpan(whole, 0, 1), SubSpan(whole, 1, 3), SubSpan(whole, 3, 4)], STEPS)
    with torch.inference_mode():
        local = model.generate(PROMPT, max_new_tokens=STEPS, min_new_tokens=STEPS, do_sample=False,
                               output_logits=True, return_dict_in_generate=True)
    assert all(torch.equal(mine, theirs) for mine, theirs in zip(ours, local.logits, strict=True))
