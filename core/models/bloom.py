"""BLOOM: ALiBi instead of rotary positions, a layer norm on the embeddings, fused QKV with biases, eager attention.

What the family needs beyond transformers' standard decoder convention:
- block inputs: the ALiBi bias of the step (one slope per head times each key's position, over the cache and the
  new tokens) and an eager causal mask, built with transformers' own functions as BloomModel builds them; no
  position encoder;
- blocks take the cache as `layer_past` and return a tuple;
- on the client, the embedding layer norm (`word_embeddings_layernorm`) applied to every input embedding, and the
  final norm `ln_f`, both LayerNorms with biases.
"""
from __future__ import annotations

import torch
from transformers import PretrainedConfig
from transformers.models.bloom.modeling_bloom import BloomBlock, BloomPreTrainedModel, build_alibi_tensor

from core.models.decoder import attention_kinds, cache_heads_and_dim, call_block, layer_builder, masks, same_logits
from core.models.family import FULL_ATTENTION, BlockKwargs, ModelFamily, StepContext


def layer_norm(config: PretrainedConfig) -> torch.nn.Module:
    return torch.nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)


def word_embedding(config: PretrainedConfig) -> torch.nn.Embedding:
    return torch.nn.Embedding(config.vocab_size, config.hidden_size)


def bloom_inputs(context: StepContext) -> dict[str, BlockKwargs]:
    """ALiBi over every key the step's attention sees, and the causal mask; BLOOM has full attention only."""
    batch = context.hidden_states.shape[0]
    keys = torch.ones(batch, context.key_length(FULL_ATTENTION), dtype=torch.long,
                      device=context.hidden_states.device)
    alibi = build_alibi_tensor(keys, context.config.n_head, dtype=context.hidden_states.dtype)
    return {kind: {"alibi": alibi, "attention_mask": mask, "layer_past": context.cache,
                   "use_cache": context.cache is not None}
            for kind, mask in masks(context).items()}


BLOOM = ModelFamily(
    model_types=("bloom",), build_block=layer_builder(BloomBlock), pretrained_base=BloomPreTrainedModel,
    build_position_encoder=lambda config: None, block_inputs=bloom_inputs, run_block=call_block,
    attention_kinds=attention_kinds, cache_heads_and_dim=cache_heads_and_dim, build_embedding=word_embedding,
    build_norm=layer_norm, build_embedding_norm=layer_norm, transform_logits=same_logits, final_norm_name="ln_f",
    embedding_norm_name="word_embeddings_layernorm",
)
