"""Qwen 2 and 2.5: the standard decoder with biases on the query, key and value projections.

Its config lists each layer's attention kind (`layer_types`): with `use_sliding_window`, layers from
`max_window_layers` on attend within a sliding window, the others fully. The family needs nothing beyond the
standard decoder (core/models/decoder.py), which builds each kind's mask and cache layer.
"""
from __future__ import annotations

from transformers.models.qwen2.modeling_qwen2 import (
    Qwen2DecoderLayer,
    Qwen2PreTrainedModel,
    Qwen2RMSNorm,
    Qwen2RotaryEmbedding,
)

from core.models.decoder import standard_family

QWEN2 = standard_family(("qwen2",), Qwen2DecoderLayer, Qwen2RotaryEmbedding, Qwen2RMSNorm, Qwen2PreTrainedModel)
