"""The Llama family: Llama 2/3, Mistral, SmolLM2 (GQA, RoPE with every scaling variant transformers implements).

Blocks are transformers' own decoder layers, so numerics match local transformers exactly.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import PretrainedConfig
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

from core.models.family import ModelFamily

# (decoder layer, rotary embedding, norm) classes; each takes its own family's config class
_Layers = tuple[Callable[..., LlamaDecoderLayer | MistralDecoderLayer], type[torch.nn.Module], type[torch.nn.Module]]
_LAYERS: dict[str, _Layers] = {
    "llama": (LlamaDecoderLayer, LlamaRotaryEmbedding, LlamaRMSNorm),
    "mistral": (MistralDecoderLayer, MistralRotaryEmbedding, MistralRMSNorm),
}


def build_block(config: PretrainedConfig, index: int, local_index: int) -> torch.nn.Module:
    layer_class, _, _ = _LAYERS[config.model_type]
    block = layer_class(config, layer_idx=index)
    # The server's per-session cache holds only its own blocks, numbered from 0.
    block.self_attn.layer_idx = local_index
    return block


def build_rotary(config: PretrainedConfig) -> torch.nn.Module:
    _, rotary_class, _ = _LAYERS[config.model_type]
    return rotary_class(config=config)


def build_norm(config: PretrainedConfig) -> torch.nn.Module:
    _, _, norm_class = _LAYERS[config.model_type]
    return norm_class(config.hidden_size, eps=config.rms_norm_eps)


LLAMA = ModelFamily(model_types=("llama",), build_block=build_block, build_rotary=build_rotary,
                    build_norm=build_norm, pretrained_base=LlamaPreTrainedModel)
MISTRAL = ModelFamily(model_types=("mistral",), build_block=build_block, build_rotary=build_rotary,
                      build_norm=build_norm, pretrained_base=MistralPreTrainedModel)
