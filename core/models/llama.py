"""The Llama family: Llama 2/3, Mistral, SmolLM2 (GQA, RoPE with every scaling variant transformers implements).

Blocks are transformers' own decoder layers, so numerics match local transformers exactly. The family needs
nothing beyond the standard decoder (core/models/decoder.py); Mistral's sliding window, when its config sets
one, makes every block a sliding-window block.
"""
from __future__ import annotations

from transformers.models.llama.modeling_llama import (
    LlamaDecoderLayer,
    LlamaPreTrainedModel,
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
)
from transformers.models.mistral.modeling_mistral import (
    MistralDecoderLayer,
    MistralPreTrainedModel,
    MistralRMSNorm,
    MistralRotaryEmbedding,
)

from core.models.decoder import standard_family

LLAMA = standard_family(("llama",), LlamaDecoderLayer, LlamaRotaryEmbedding, LlamaRMSNorm, LlamaPreTrainedModel)
MISTRAL = standard_family(("mistral",), MistralDecoderLayer, MistralRotaryEmbedding, MistralRMSNorm,
                          MistralPreTrainedModel)
