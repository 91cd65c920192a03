"""A preallocated session cache computes exactly what DynamicCache computes, and never reallocates."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import LlamaConfig
from transformers.cache_utils import DynamicLayer

from core.server.blocks import BlockSpan
from core.server.preallocated_cache import PreallocatedCache, PreallocatedLayer
from tests.helpers.block_spans import reference_and_span
from tests.helpers.tiny_models import TINY_LLAMA

SHAPES: dict[str, dict[str, Any]] = {
    "grouped-query": {},
    "multi-head": {"hidden_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4},
}


def _span(shape: str) -> BlockSpan:
    return reference_and_span(LlamaConfig(**{**TINY_LLAMA, **SHAPES[shape]}), 0, 6)[1]


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("batch", [1, 2])
def test_steps_equal_dynamic_cache_bit_for_bit(shape, batch):
    span = _span(shape)
    dynamic, preallocated = span.new_cache(), span.new_cache(max_length=40)
    assert isinstance(preallocated, PreallocatedCache)
    generator = torch.Generator().manual_seed(1)
    position = 0
    for length in [7, 1, 1, 5, *[1] * 10, 3]:
        hidden = torch.randn(batch, length, span.hidden_size, generator=generator)
        expected = span.forward(hidden, 0, 6, dynamic, position)
        assert torch.equal(span.forward(hidden, 0, 6, preallocated, position), expected)
        position += length
    assert preallocated.get_seq_length() == position == 27
    for layer, reference in zip(preallocated.layers, dynamic.layers, strict=True):
        assert isinstance(layer, DynamicLayer) and isinstance(reference, DynamicLayer)
        assert torch.equal(layer.keys, reference.keys) and torch.equal(layer.values, reference.values)


def test_buffers_are_allocated_once_for_the_whole_length():
    span = _span("grouped-query")
    cache = span.new_cache(max_length=16)
    span.forward(torch.randn(1, 4, span.hidden_size), 0, 6, cache, 0)
    buffers = [_keys(layer).untyped_storage().data_ptr() for layer in cache.layers]
    for position in range(4, 16):
        span.forward(torch.randn(1, 1, span.hidden_size), 0, 6, cache, position)
    assert [_keys(layer).untyped_storage().data_ptr() for layer in cache.layers] == buffers
    assert _keys(cache.layers[0]).untyped_storage().nbytes() == 16 * 2 * 16 * 4  # tokens x kv heads x head dim x fp32


def test_writing_past_the_length_or_another_batch_is_refused():
    layer = PreallocatedLayer(max_length=4)
    layer.update(torch.zeros(1, 2, 3, 8), torch.zeros(1, 2, 3, 8))
    with pytest.raises(ValueError, match="holds 4 tokens"):
        layer.update(torch.zeros(1, 2, 2, 8), torch.zeros(1, 2, 2, 8))
    with pytest.raises(ValueError, match="batch of 1"):
        layer.update(torch.zeros(2, 2, 1, 8), torch.zeros(2, 2, 1, 8))
    keys, _ = layer.update(torch.ones(1, 2, 1, 8), torch.ones(1, 2, 1, 8))
    assert keys.shape == (1, 2, 4, 8) and keys[0, 0, 3].eq(1).all()


def _keys(layer: object) -> torch.Tensor:
    assert isinstance(layer, PreallocatedLayer)
    return layer.keys
