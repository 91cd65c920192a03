"""Falcon: parallel attention and MLP, multi-query (7B) or grouped-query attention (the "new decoder
architecture" of 40B/180B, with two layer norms per block), rotary positions or, in early checkpoints, ALiBi.

What the family needs beyond transformers' standard decoder convention:
- block inputs built as FalconModel builds them: rotary embeddings, and for ALiBi checkpoints the bias folded into
  an always-materialised causal mask (with transformers' own build_alibi_tensor, which rounds slopes to bfloat16);
- blocks take the cache as `layer_past` and the ALiBi tensor (or None), and return a tuple;
- the client's final norm is `ln_f`, a LayerNorm with bias.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from transformers import FalconConfig, PretrainedConfig
from transformers.models.falcon.modeling_falcon import (
    FalconDecoderLayer,
    FalconPreTrainedModel,
    FalconRotaryEmbedding,
    build_alibi_tensor,
)

from core.models.bloom import layer_norm, word_embedding
from core.models.decoder import attention_kinds, call_block, layer_builder, masks, no_module, same_logits
from core.models.family import FULL_ATTENTION, BlockKwargs, ModelFamily, StepContext


def falcon_inputs(context: StepContext) -> dict[str, BlockKwargs]:
    config, hidden = context.config, context.hidden_states
    position_embeddings = None if context.position_encoder is None else context.position_encoder(
        hidden, position_ids=context.position_ids)
    alibi = None
    if config.alibi:
        keys = torch.ones(hidden.shape[0], context.key_length(FULL_ATTENTION), dtype=torch.long, device=hidden.device)
        alibi = build_alibi_tensor(keys, config.num_attention_heads, dtype=hidden.dtype)
    kwargs: dict[str, BlockKwargs] = {}
    for kind, mask in masks(context, allow_is_causal_skip=False).items():
        if alibi is not None and mask is not None and mask.ndim == 4:
            mask = _with_alibi(mask, alibi, config, hidden)
        kwargs[kind] = {"alibi": alibi, "attention_mask": mask, "position_ids": context.position_ids,
                        "layer_past": context.cache, "use_cache": context.cache is not None,
                        "position_embeddings": position_embeddings}
    return kwargs


def _with_alibi(mask: torch.Tensor, alibi: torch.Tensor, config: PretrainedConfig, hidden: torch.Tensor) -> Any:
    """The causal mask with the ALiBi bias folded in, as FalconModel folds it for SDPA."""
    lowest = torch.finfo(hidden.dtype).min
    if mask.dtype == torch.bool:
        mask = torch.where(mask, torch.full((), 0.0, device=mask.device, dtype=hidden.dtype), lowest)
    alibi = alibi.reshape(hidden.shape[0], -1, *alibi.shape[1:])
    head_dim = config.hidden_size // config.num_attention_heads
    return torch.masked_fill(alibi / math.sqrt(head_dim), mask < -1, lowest)


def falcon_cache_heads_and_dim(config: PretrainedConfig) -> tuple[int, int]:
    """What FalconAttention caches per token: every query head's keys in the new decoder (it broadcasts its
    grouped keys before caching them), one shared head with multi-query attention, else one per head."""
    heads = int(config.num_attention_heads)
    head_dim = int(config.hidden_size) // heads
    if config.new_decoder_architecture:
        return heads, head_dim
    return (1 if config.multi_query else int(config.num_kv_heads)), head_dim


def rotary_unless_alibi(config: PretrainedConfig) -> torch.nn.Module | None:
    assert isinstance(config, FalconConfig)
    return None if config.alibi else FalconRotaryEmbedding(config=config)


FALCON = ModelFamily(
    model_types=("falcon",), build_block=layer_builder(FalconDecoderLayer), pretrained_base=FalconPreTrainedModel,
    build_position_encoder=rotary_unless_alibi, block_inputs=falcon_inputs, run_block=call_block,
    attention_kinds=attention_kinds, cache_heads_and_dim=falcon_cache_heads_and_dim, build_embedding=word_embedding,
    build_norm=layer_norm, build_embedding_norm=no_module, transform_logits=same_logits, final_norm_name="ln_f",
)
