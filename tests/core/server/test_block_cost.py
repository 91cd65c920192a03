"""Block cost from the config: weights (exact for float dtypes, estimated when quantized) plus KV cache."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import LlamaConfig
from transformers.cache_utils import DynamicLayer

from core.errors import UserFacingError
from core.models import family_for
from core.server.block_cost import BlockCost, block_cost, blocks_that_fit, kv_bytes_per_token, quantized_weight_bytes
from core.server.quantize import module_bytes, quantize_block
from tests.helpers.block_spans import span_of
from tests.helpers.tiny_models import ARCHITECTURES, TINY_LLAMA, tiny_config, tiny_model

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


@pytest.mark.parametrize("name", ["mixtral", "qwen3_moe"])
@pytest.mark.parametrize("quantization", ["none", "int8", "nf4"])
def test_an_expert_heavy_block_holds_what_the_estimate_says(name, quantization):
    """Every expert counts: a real block of a mixture of experts, built and (for int8/nf4) quantized as a server
    builds it, holds exactly the estimated bytes."""
    config = tiny_config(name, hidden_size=128, moe_intermediate_size=96, intermediate_size=96)
    family = family_for(config)
    torch.manual_seed(0)
    block = family.build_block(config, 1, 0).to(torch.bfloat16)
    experts: list[Any] = [module for module in block.modules() if module.__class__.__name__.endswith("Experts")]
    assert len(experts) == 1 and experts[0].gate_up_proj.shape[0] == 4
    if quantization != "none":
        block = quantize_block(block, quantization, "cpu")
    assert module_bytes(block) == block_cost(family, config, "bfloat16", quantization, 0, index=1).weight_bytes


def test_the_costliest_block_sizes_a_model_whose_blocks_differ():
    config = tiny_config("qwen3_moe")  # block 0 is dense (mlp_only_layers), the others hold 4 experts
    family = family_for(config)
    dense, sparse = (block_cost(family, config, "float32", cache_tokens=0, index=index).weight_bytes
                     for index in (0, 1))
    assert dense != sparse
    assert block_cost(family, config, "float32", cache_tokens=0).weight_bytes == max(dense, sparse)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_the_cache_estimate_per_token_is_what_a_real_block_caches(name):
    """Falcon's attention caches every query head (new decoder) or one (multi-query), whatever its config's
    num_kv_heads says: the estimate follows the architecture, measured against a real step."""
    model = tiny_model(name)
    span = span_of(model, 0, 1)
    cache = span.new_cache()
    span.forward(torch.randn(1, 3, model.config.hidden_size), 0, 1, cache, 0)
    layer = cache.layers[0]
    assert isinstance(layer, DynamicLayer)  # full or sliding-window attention: both keep keys and values
    keys, values = layer.keys, layer.values
    assert kv_bytes_per_token(model.config, "float32") * 3 == keys.numel() * 4 + values.numel() * 4
