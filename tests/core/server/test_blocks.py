"""A server's BlockSpan computes what transformers' own model computes, for every RoPE variant."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import LlamaConfig, MistralConfig

from tests.helpers.block_spans import reference_and_span
from tests.helpers.tiny_models import TINY_LLAMA

ROPE_VARIANTS: dict[str, dict[str, Any]] = {
    "default": {"rope_type": "default", "rope_theta": 10000.0},
    "linear": {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0},
    "dynamic": {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0},
    "yarn": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0, "original_max_position_embeddings": 128},
    "llama3": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64, "rope_theta": 500000.0},
}


def _layer_inputs(model, input_ids: torch.Tensor) -> list[torch.Tensor]:
    """Inputs of every decoder layer (and the last layer's output), captured with forward hooks."""
    captured: list[torch.Tensor] = []
    hooks = [layer.register_forward_pre_hook(lambda _m, args, kwargs: captured.append(args[0] if args else
                                                                                    kwargs["hidden_states"]),
                                             with_kwargs=True) for layer in model.model.layers]
    hooks.append(model.model.layers[-1].register_forward_hook(lambda _m, _a, output: captured.append(
        output[0] if isinstance(output, tuple) else output)))
    try:
        with torch.no_grad():
            model(input_ids)
    finally:
        for hook in hooks:
            hook.remove()
    return captured


@pytest.mark.parametrize("variant", sorted(ROPE_VARIANTS))
def test_span_prefill_equals_transformers_layers(variant):
    config = LlamaConfig(**{**TINY_LLAMA, "rope_parameters": ROPE_VARIANTS[variant]})
    model, span = reference_and_span(config, 2, 5)
    input_ids = torch.randint(0, config.vocab_size, (2, 150))  # beyond original_max_position_embeddings
    inputs = _layer_inputs(model, input_ids)
    output = span.forward(inputs[2], 2, 5, cache=span.new_cache(), position=0)
    assert torch.equal(output, inputs[5])


@pytest.mark.parametrize("variant", ["default", "llama3"])
def test_span_incremental_steps_match_full_forward(variant):
    config = LlamaConfig(**{**TINY_LLAMA, "rope_parameters": ROPE_VARIANTS[variant]})
    model, span = reference_and_span(config, 0, 6)
    input_ids = torch.randint(0, config.vocab_size, (1, 20))
    inputs = _layer_inputs(model, input_ids)
    cache = span.new_cache()
    pieces = [span.forward(inputs[0][:, :12], 0, 6, cache=cache, position=0)]
    for position in range(12, 20):
        pieces.append(span.forward(inputs[0][:, position:position + 1], 0, 6, cache=cache, position=position))
    torch.testing.assert_close(torch.cat(pieces, dim=1), inputs[6], atol=1e-5, rtol=1e-5)


def test_sub_span_of_a_server_uses_its_own_cache_slots():
    config = LlamaConfig(**TINY_LLAMA)
    model, span = reference_and_span(config, 0, 6)
    input_ids = torch.randint(0, config.vocab_size, (1, 10))
    inputs = _layer_inputs(model, input_ids)
    cache = span.new_cache()
    first = span.forward(inputs[3][:, :6], 3, 6, cache=cache, position=0)
    second = span.forward(inputs[3][:, 6:], 3, 6, cache=cache, position=6)
    torch.testing.assert_close(torch.cat([first, second], dim=1), inputs[6], atol=1e-5, rtol=1e-5)


def test_mistral_blocks_build_and_match():
    config = MistralConfig(**{**TINY_LLAMA, "sliding_window": None})
    model, span = reference_and_span(config, 1, 4)
    input_ids = torch.randint(0, config.vocab_size, (1, 12))
    inputs = _layer_inputs(model, input_ids)
    assert torch.equal(span.forward(inputs[1], 1, 4, cache=span.new_cache()), inputs[4])
