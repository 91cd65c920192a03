"""Qwen 3 MoE: Qwen 3's attention with a mixture of experts in place of most MLPs.

A block's experts are one fused 3-D parameter per projection (transformers fuses the hub's per-expert tensors
on load; core/models/checkpoint.py does the same by name). The router picks `num_experts_per_tok` experts per
token; every expert's weights live on the server of the block, so the block cost counts them all
(core/server/block_cost.py) and int8/nf4 quantize them per expert (core/server/experts.py). Blocks listed in
`mlp_only_layers` are dense. Beyond that, the standard decoder (core/models/decoder.py).
"""
from __future__ import annotations

from transformers.models.qwen3_moe.modeling_qwen3_moe import (
    Qwen3MoeDecoderLayer,
    Qwen3MoePreTrainedModel,
    Qwen3MoeRMSNorm,
    Qwen3MoeRotaryEmbedding,
)

from core.models.decoder import standard_family

QWEN3_MOE = standard_family(("qwen3_moe",), Qwen3MoeDecoderLayer, Qwen3MoeRotaryEmbedding, Qwen3MoeRMSNorm,
                            Qwen3MoePreTrainedModel)
