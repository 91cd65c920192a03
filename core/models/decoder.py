"""transformers' standard decoder layer, which Llama introduced and most architectures since share.

Such a layer takes `attention_mask`, `position_ids`, `position_embeddings` (a rotary embedding's cos and sin)
and `cache`, and returns the new hidden states. Its mask depends on its attention kind (full, or a sliding
window), exactly as the architecture's own model builds it. `standard_family` assembles a ModelFamily from
an architecture's classes; the pieces are reused by the families that differ in one place.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from transformers import PretrainedConfig, PreTrainedModel
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask

from core.models.family import FULL_ATTENTION, SLIDING_ATTENTION, BlockKwargs, ModelFamily, StepContext

MASK_BUILDERS = {FULL_ATTENTION: create_causal_mask, SLIDING_ATTENTION: create_sliding_window_causal_mask}


def renumbered_layer(layer: torch.nn.Module, index: int, local_index: int) -> torch.nn.Module:
    """`layer` (built as block `index`) with its cache slot moved to `local_index`: a server's per-session cache
    holds only its own blocks, numbered from 0. Every submodule that knew its index (the attention, and some
    decoder layers themselves) is told the new one."""
    for module in layer.modules():
        if getattr(module, "layer_idx", None) == index:
            setattr(module, "layer_idx", local_index)  # noqa: B010 - a plain int, not a parameter or submodule
    return layer


def attention_kinds(config: PretrainedConfig) -> tuple[str, ...]:
    """Each block's attention kind, as transformers' models and caches decide it: `config.layer_types` where
    the architecture has it, else a sliding window everywhere when `sliding_window` is set (Mistral, Mixtral,
    Phi-3), else full attention."""
    count = int(config.num_hidden_layers)
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        kinds = tuple(str(kind) for kind in layer_types[:count])
    elif getattr(config, "sliding_window", None) is not None:
        kinds = (SLIDING_ATTENTION,) * count
    else:
        kinds = (FULL_ATTENTION,) * count
    unknown = sorted(set(kinds) - set(MASK_BUILDERS))
    if unknown:
        raise ValueError(f"attention kinds {unknown} are not supported (only {sorted(MASK_BUILDERS)})")
    return kinds


def cache_heads_and_dim(config: PretrainedConfig) -> tuple[int, int]:
    """Key/value heads of a standard block's attention cache and the size of each head."""
    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    return kv_heads, int(getattr(config, "head_dim", None) or config.hidden_size // heads)


def masks(context: StepContext, **options: Any) -> dict[str, Any]:
    """The attention mask of each kind the step's blocks use, built as the architecture's model builds it."""
    return {kind: MASK_BUILDERS[kind](config=context.config, inputs_embeds=context.hidden_states,
                                      attention_mask=None, cache=context.cache, position_ids=context.position_ids,
                                      layer_idx=layer, **options)
            for kind, layer in context.kinds.items()}


def rotary_inputs(context: StepContext) -> dict[str, BlockKwargs]:
    """One rotary embedding for every block, and each kind's mask."""
    assert context.position_encoder is not None
    position_embeddings = context.position_encoder(context.hidden_states, position_ids=context.position_ids)
    return {kind: _standard_kwargs(context, mask, position_embeddings) for kind, mask in masks(context).items()}


def _standard_kwargs(context: StepContext, mask: Any, position_embeddings: Any) -> BlockKwargs:
    return {"attention_mask": mask, "position_ids": context.position_ids, "position_embeddings": position_embeddings,
            "cache": context.cache, "use_cache": context.cache is not None}


def per_kind_rotary_inputs(context: StepContext) -> dict[str, BlockKwargs]:
    """A rotary embedding per attention kind (Gemma 3 rotates local and global layers at different bases)."""
    assert context.position_encoder is not None
    return {kind: _standard_kwargs(context, mask, context.position_encoder(context.hidden_states,
                                                                              context.position_ids, kind))
            for kind, mask in masks(context).items()}


def call_block(block: torch.nn.Module, hidden_states: torch.Tensor, kwargs: BlockKwargs) -> torch.Tensor:
    """Call a decoder layer; older layers return a tuple whose first item is the hidden states."""
    output = block(hidden_states, **kwargs)
    hidden: torch.Tensor = output[0] if isinstance(output, tuple) else output
    return hidden


def rms_norm(norm_class: type[torch.nn.Module]) -> Callable[[PretrainedConfig], torch.nn.Module]:
    return lambda config: norm_class(config.hidden_size, eps=config.rms_norm_eps)


def plain_embedding(config: PretrainedConfig) -> torch.nn.Embedding:
    return torch.nn.Embedding(config.vocab_size, config.hidden_size)


def no_module(config: PretrainedConfig) -> torch.nn.Module | None:
    return None


def same_logits(config: PretrainedConfig, logits: torch.Tensor) -> torch.Tensor:
    return logits


def layer_builder(layer_class: Callable[..., torch.nn.Module]) -> Callable[[PretrainedConfig, int, int],
                                                                            torch.nn.Module]:
    """build_block for a decoder layer class taking (config, layer_idx)."""
    return lambda config, index, local_index: renumbered_layer(layer_class(config, layer_idx=index), index,
                                                               local_index)


def standard_family(model_types: tuple[str, ...], layer_class: Callable[..., torch.nn.Module],
                    rotary_class: Callable[..., torch.nn.Module], norm_class: type[torch.nn.Module],
                    pretrained_base: type[PreTrainedModel], **overrides: Any) -> ModelFamily:
    """The family of an architecture built from transformers' standard decoder layer; `overrides` replace
    any field (Gemma's embedding, soft-capping, ...)."""
    fields: dict[str, Any] = {
        "model_types": model_types, "build_block": layer_builder(layer_class), "pretrained_base": pretrained_base,
        "build_position_encoder": lambda config: rotary_class(config=config), "block_inputs": rotary_inputs,
        "run_block": call_block, "attention_kinds": attention_kinds, "cache_heads_and_dim": cache_heads_and_dim,
        "build_embedding": plain_embedding,
        "build_norm": rms_norm(norm_class), "build_embedding_norm": no_module, "transform_logits": same_logits,
    }
    return ModelFamily(**{**fields, **overrides})
