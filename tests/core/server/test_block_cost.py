"""Block cost from the config: weights (exact for float dtypes, estimated when quantized) plus KV cache."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import LlamaConfig

from core.errors import UserFacingError
from core.models import family_for
from core.server.block_cost import BlockCost, block_cost, blocks_that_fit, kv_bytes_per_token, quantized_weight_bytes
from tests.helpers.tiny_models import TINY_LLAMA

SMOLLM2: dict[str, Any] = {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
                           "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152}


def real_block_bytes(config: LlamaConfig, dtype: torch.dtype) -> int:
    block = family_for(config).build_block(config, 0, 0).to(dtype)
    return sum(p.numel() * p.element_size() for p in block.parameters())


@pytest.mark.parametrize("dtype_name, dtype", [("float32", torch.float32), ("bfloat16", torch.bfloat16)])
def test_float_weights_match_a_real_block(dtype_name, dtype):
    config = LlamaConfig(**TINY_LLAMA)
    cost = block_cost(family_for(config), config, dtype_name, cache_tokens=0)
    assert cost.weight_bytes == real_block_bytes(config, dtype)


def test_smollm2_block_and_cache():
    config = LlamaConfig(**SMOLLM2)
    cost = block_cost(family_for(config), config, "float32", cache_tokens=8192)
    matrices = 576 * 576 * 2 + 576 * 192 * 2 + 3 * 576 * 1536
    assert cost.weight_bytes == (matrices + 2 * 576) * 4
    assert kv_bytes_per_token(config, "float32") == 2 * 3 * 64 * 4
    assert cost.cache_bytes == 8192 * 2 * 3 * 64 * 4


def test_quantized_blocks_cost_less():
    config = LlamaConfig(**SMOLLM2)
    family = family_for(config)
    costs = {q: block_cost(family, config, "bfloat16", q, cache_tokens=0).weight_bytes for q in ("none", "int8", "nf4")}
    assert costs["none"] > costs["int8"] > costs["nf4"] > costs["none"] / 4


def test_blocks_that_fit():
    cost = BlockCost(weight_bytes=90, cache_bytes=10)
    assert blocks_that_fit(1050, cost, 30) == 10
    assert blocks_that_fit(10**9, cost, 30) == 30
    with pytest.raises(UserFacingError, match="Not enough free memory for one block"):
        blocks_that_fit(99, cost, 30)


def test_unknown_dtype_is_refused():
    config = LlamaConfig(**TINY_LLAMA)
    with pytest.raises(ValueError):
        block_cost(family_for(config), config, "float8")


def test_quantized_weight_layout():
    assert quantized_weight_bytes((14336, 4096), "int8") == 14336 * 4096 + 4 * 14336  # one fp32 scale per row
    assert quantized_weight_bytes((14336, 4096), "nf4") == 14336 * 4096 // 2 + 4 * 14336 * 4096 // 64 + 64
    assert quantized_weight_bytes((3, 7), "nf4") == 11 + 4 + 64  # odd count rounds up, one partial block
    with pytest.raises(ValueError):
        quantized_weight_bytes((4, 4), "fp8")
