"""Gemma 3 (its text decoder): Gemma 2's block with query/key norms, sliding-window and global layers in a
pattern, and a rotary embedding per layer type (local layers rotate at their own base frequency).

What the family needs beyond the standard decoder (core/models/decoder.py): per-kind rotary inputs (the
encoder takes the layer type), Gemma's scaled embedding and optional final soft-capping on the client.
Multimodal Gemma 3 checkpoints (model_type gemma3) serve their text decoder: its config is the nested
text_config and its tensors sit under the language model's prefix, both found by core/models/layout.py; the
vision tower is never read.
"""
from __future__ import annotations

from transformers.models.gemma3.modeling_gemma3 import (
    Gemma3DecoderLayer,
    Gemma3PreTrainedModel,
    Gemma3RMSNorm,
    Gemma3RotaryEmbedding,
    Gemma3TextScaledWordEmbedding,
)

from core.models.decoder import per_kind_rotary_inputs, standard_family
from core.models.gemma2 import scaled_embedding, soft_capped

GEMMA3 = standard_family(("gemma3_text", "gemma3"), Gemma3DecoderLayer, Gemma3RotaryEmbedding, Gemma3RMSNorm,
                         Gemma3PreTrainedModel, block_inputs=per_kind_rotary_inputs,
                         build_embedding=scaled_embedding(Gemma3TextScaledWordEmbedding), transform_logits=soft_capped)
