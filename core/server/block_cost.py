"""What one transformer block costs in memory: its weights plus its share of the attention (KV) cache.

Weights are counted from the block itself, built on the meta device from the config (no memory, any
architecture). For int8 and nf4 each linear layer's weight is counted as bitsandbytes stores it (see
core/server/quantize.py, which quantizes a real block that way); everything else stays in `dtype`.
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
               cache_tokens: int = 8192) -> BlockCost:
    """Memory of one block in `dtype`: its weights, quantized as asked, and the cache of `cache_tokens` tokens."""
    if dtype not in DTYPE_BYTES or quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown dtype {dtype!r} or quantization {quantization!r}")
    with torch.device("meta"):
        block = family.build_block(config, 0, 0)
    linears = [module for module in block.modules() if isinstance(module, torch.nn.Linear)]
    quantized = {id(linear.weight) for linear in linears} if quantization != "none" else set()
    weights = sum(quantized_weight_bytes(tuple(p.shape), quantization) if id(p) in quantized
                  else math.ceil(p.numel() * DTYPE_BYTES[dtype]) for p in block.parameters())
    return BlockCost(weights, cache_tokens * kv_bytes_per_token(config, dtype))


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
    """Key/value heads of one block's attention and the size of each head."""
    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    return kv_heads, int(getattr(config, "head_dim", None) or config.hidden_size // heads)


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
