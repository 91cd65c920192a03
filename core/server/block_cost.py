"""What one transformer block costs in memory: its weights plus its share of the attention (KV) cache.

Weights are counted from the block itself, built on the meta device from the config (no memory, any
architecture). For int8 and nf4 the numbers are estimates of what a quantized block would take.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from transformers import PretrainedConfig

from core.errors import UserFacingError
from core.models.family import ModelFamily
from core.wire import FLOAT_DTYPES

logger = logging.getLogger(__name__)

DTYPE_BYTES = {name: float(dtype.itemsize) for name, dtype in FLOAT_DTYPES.items()}
# Bytes per quantized weight, with the per-group scales (int8: one per row; nf4: fp32 absmax per 64 weights).
QUANTIZED_BYTES = {"int8": 1.0 + 1 / 256, "nf4": 0.5 + 4 / 64}
QUANTIZATIONS = ("none", *QUANTIZED_BYTES)


@dataclass(frozen=True)
class BlockCost:
    weight_bytes: int
    cache_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.cache_bytes


def block_cost(family: ModelFamily, config: PretrainedConfig, dtype: str, quantization: str = "none",
               cache_tokens: int = 8192) -> BlockCost:
    """Memory of one block in `dtype` (activations and cache) with weights quantized as asked."""
    if dtype not in DTYPE_BYTES or quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown dtype {dtype!r} or quantization {quantization!r}")
    with torch.device("meta"):
        block = family.build_block(config, 0, 0)
    matrices = sum(p.numel() for p in block.parameters() if p.dim() >= 2)  # what quantization would shrink
    vectors = sum(p.numel() for p in block.parameters() if p.dim() < 2)  # norms and biases stay in dtype
    per_weight = QUANTIZED_BYTES.get(quantization, DTYPE_BYTES[dtype])
    weights = matrices * per_weight + vectors * DTYPE_BYTES[dtype]
    return BlockCost(int(math.ceil(weights)), cache_tokens * kv_bytes_per_token(config, dtype))


def kv_bytes_per_token(config: PretrainedConfig, dtype: str) -> int:
    """Keys plus values of one token in one block."""
    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
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
