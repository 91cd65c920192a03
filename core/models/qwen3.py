"""Qwen 3 (dense): the standard decoder with RMS norms on queries and keys (inside its attention) and an explicit
head size; per-layer attention kinds as Qwen 2. Nothing beyond the standard decoder (core/models/decoder.py)."""
from __future__ import annotations

from transformers.models.qwen3.modeling_qwen3 import (
    Qwen3DecoderLayer,
    Qwen3PreTrainedModel,
    Qwen3RMSNorm,
    Qwen3RotaryEmbedding,
)

from core.models.decoder import standard_family

QWEN3 = standard_family(("qwen3",), Qwen3DecoderLayer, Qwen3RotaryEmbedding, Qwen3RMSNorm, Qwen3PreTrainedModel)
