"""Phi-3 (and Phi-3.5, Phi-4 mini): the standard decoder with fused projections (qkv_proj, gate_up_proj), a
sliding window on every layer when the config sets one, and LongRoPE scaling in its rotary embedding, which
picks its factors from the positions themselves. Nothing beyond the standard decoder (core/models/decoder.py).
"""
from __future__ import annotations

from transformers.models.phi3.modeling_phi3 import (
    Phi3DecoderLayer,
    Phi3PreTrainedModel,
    Phi3RMSNorm,
    Phi3RotaryEmbedding,
)

from core.models.decoder import standard_family

PHI3 = standard_family(("phi3",), Phi3DecoderLayer, Phi3RotaryEmbedding, Phi3RMSNorm, Phi3PreTrainedModel)
