"""Mixtral: Mistral's attention (a sliding window on every layer when the config sets one) with a sparse mixture
of experts in every block.

Hub checkpoints store each expert's w1, w2 and w3 apart under `block_sparse_moe.experts.N.`; transformers 5
fuses them into `mlp.experts.gate_up_proj` and `mlp.experts.down_proj` on load, and so does Meadow's by-name
loader (core/models/checkpoint.py, with transformers' own rules). All experts of a block live on its server: the
block cost counts every one (core/server/block_cost.py), and int8/nf4 quantize them per expert
(core/server/experts.py). Beyond that, the standard decoder (core/models/decoder.py).
"""
from __future__ import annotations

from transformers.models.mixtral.modeling_mixtral import (
    MixtralDecoderLayer,
    MixtralPreTrainedModel,
    MixtralRMSNorm,
    MixtralRotaryEmbedding,
)

from core.models.decoder import standard_family

MIXTRAL = standard_family(("mixtral",), MixtralDecoderLayer, MixtralRotaryEmbedding, MixtralRMSNorm,
                          MixtralPreTrainedModel)
