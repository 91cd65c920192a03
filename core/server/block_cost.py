"""What one transformer block costs in memory: its weights plus its share of the attention (KV) cache.

Weights are counted from the block itself, built on the meta device from the config (no memory, any
architecture), every expert of a mixture included. For int8 and nf4 each linear layer's weight, and each
expert's matrix, is counted as bitsandbytes stores it (see core/server/quantize.py, which quantizes a real
block that way); everything else stays in `dtype`.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from transformers import PretrainedConfig

from core.dtypes import FLOAT_DTYPES
from core.errors import UserFacingError
from core.models.family import ModelFamily
from core.server.experts import is_fused_experts, quantizable_expert_parameters

logger = logging.getLogger(__name__)

DTYPE_BYTES = {name: float(dtype.itemsize) for name, dtype in FLOAT_DTYPES.items()}
QUANTIZATIONS = ("none", "int8", "nf4")
NF4_BLOCKSIZE = 64  # weights per fp32 absmax scale; statistics are not compressed (no double quantization)


@dataclass(frozen=True)
class BlockCost:
    weight_bytes: int
    cache_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.cache_bytes


def block_cost(family: ModelFamily, config: PretrainedConfig, dtype: str, quantization: str = "none",
               cache_tokens: int = 8192, index: int | None = None) -> BlockCost:
    """Memory of one block in `dtype`: its weights, quantized as asked, and the cache of `cache_tokens` tokens.

    Block `index`, or the costliest of all (a model's blocks may differ: Qwen 3 MoE's dense ones)."""
    if dtype not in DTYPE_BYTES or quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown dtype {dtype!r} or quantization {quantization!r}")
    indices = range(int(config.num_hidden_layers)) if index is None else [index]
    weights = max(block_weight_bytes(family, config, i, dtype, quantization) for i in indices)
    return BlockCost(weights, cache_tokens * kv_bytes_per_token(config, dtype))


def block_weight_bytes(family: ModelFamily, config: PretrainedConfig, index: int, dtype: str,
                       quantization: str) -> int:
    """Bytes of block `index`'s weights, built on the meta device: quantized linear and expert matrices as
    bitsandbytes stores them (see quantized_weight_bytes), everything else in `dtype`."""
    with torch.device("meta"):
        block = family.build_block(config, index, 0)
    matrices: dict[int, tuple[int, ...]] = {}  # parameter id -> shape of each matrix it is quantized as
    if quantization != "none":
        for module in block.modules():
            if isinstance(module, torch.nn.Linear):
                matrices[id(module.weight)] = tuple(module.weight.shape)
            elif is_fused_experts(module):
                for parameter in quantizable_expert_parameters(module):
                    matrices[id(parameter)] = tuple(parameter.shape)
    return sum(_quantized_bytes(matrices[id(p)], quantization) if id(p) in matrices
               else math.ceil(p.numel() * DTYPE_BYTES[dtype]) for p in block.parameters())


def _quantized_bytes(shape: tuple[int, ...], quantization: str) -> int:
    """A 2-D weight, or a stack of expert matrices quantized one by one."""
    if len(shape) == 3:
        return shape[0] * quantized_weight_bytes(shape[1:], quantization)
    return quantized_weight_bytes(shape, quantization)


def quantized_weight_bytes(shape: tuple[int, ...], quantization: str) -> int:
    """A linear weight [out, in] as bitsandbytes keeps it: int8 with one fp32 scale per output row (LLM.int8),
    or nf4 packed two to a byte with one fp32 absmax per NF4_BLOCKSIZE weights and its 16-value fp32 code."""
    numel = math.prod(shape)
    if quantization == "int8":
        return numel + 4 * shape[0]
    if quantization == "nf4":
        return (numel + 1) // 2 + 4 * math.ceil(numel / NF4_BLOCKSIZE) + 4 * 16
    raise ValueError(f"unknown quantization {quantization!r}")


def kv_heads_and_dim(config: PretrainedConfig) -> tuple[int, int]:
    """Key/value heads one token adds to a block's attention cache and the size of each head, as the
    architecture's attention caches them."""
    from core.models import family_for

    return family_for(config).cache_heads_and_dim(config)


def kv_bytes_per_token(config: PretrainedConfig, dtype: str) -> int:
    """Keys plus values of one token in one block."""
    kv_heads, head_dim = kv_heads_and_dim(config)
    return int(2 * kv_heads * head_dim * DTYPE_BYTES[dtype])


def blocks_that_fit(usable_bytes: int, cost: BlockCost, total_blocks: int) -> int:
    """How many blocks fit in `usable_bytes`, at most the whole model; UserFacingError if none does."""
    count = min(total_blocks, usable_bytes // max(1, cost.total_bytes))
    if count < 1:
        raise UserFacingError(
            f"Not enough free memory for one block ({cost.total_bytes / 2**20:.0f} MiB needed, "
            f"{usable_bytes / 2**20:.0f} MiB usable after the reserve). Close other programs, lower "
            "server.vram_reserve_gb / server.ram_reserve_gb or server.max_length, or use a smaller --dtype.")
    return int(count)
