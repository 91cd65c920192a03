"""What one architecture module provides; core/models/<arch>.py implements it for its model types.

A server runs some of a model's decoder layers (blocks) on hidden states; the client holds what comes before
the first block (the embedding and any post-process of it) and after the last (final norm, head, any logit
transform). Architectures differ in four places, and each is a field here rather than a special case in the
server or the client:

- the blocks' inputs besides hidden states: masks, rotary embeddings or ALiBi biases (`block_inputs`), built
  once per step for each attention kind the step's blocks use;
- the attention kind of each block (`attention_kinds`): full or sliding-window, which decides its mask and
  its kind of cache layer, and what one token adds to that cache (`cache_heads_and_dim`);
- how a block is called and what it returns (`run_block`);
- the client's parts: the embedding (Gemma's scales itself), a post-process of the embeddings (BLOOM's layer
  norm), the final norm, and a transform of the logits (Gemma 2's soft-capping).

core/models/decoder.py builds families for transformers' standard decoder layer, which most architectures use.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from transformers import PretrainedConfig, PreTrainedModel
from transformers.cache_utils import Cache

FULL_ATTENTION = "full_attention"  # transformers' names (config.layer_types)
SLIDING_ATTENTION = "sliding_attention"

BlockKwargs = dict[str, Any]


@dataclass(frozen=True)
class StepContext:
    """What the blocks of one step need besides their weights: the step's hidden states and positions, the
    session's cache, and the attention kinds of the blocks that run."""

    config: PretrainedConfig
    hidden_states: torch.Tensor
    position_ids: torch.Tensor
    cache: Cache | None
    # For each attention kind among the step's blocks, the cache index of the first block of that kind: masks
    # are sized against that layer of the cache (all layers of a kind have seen the same tokens).
    kinds: dict[str, int]
    position_encoder: torch.nn.Module | None

    def key_length(self, kind: str) -> int:
        """Tokens the attention of a block of `kind` sees in this step: cached ones plus the new ones."""
        length = int(self.hidden_states.shape[1])
        if self.cache is None:
            return length
        return int(self.cache.get_mask_sizes(length, self.kinds[kind])[0])


@dataclass(frozen=True)
class ModelFamily:
    """How to build, feed and name the parts of one architecture.

    A new architecture is one new module that builds one of these and registers it in core/models/__init__.py.
    """

    model_types: tuple[str, ...]
    # Builds block `index` (its cache slot renumbered to `local_index`) on the meta device or the CPU.
    build_block: Callable[[PretrainedConfig, int, int], torch.nn.Module]
    # The transformers PreTrainedModel base of this architecture (the client's model derives from it).
    pretrained_base: type[PreTrainedModel]
    # Builds what turns positions into the blocks' position inputs (a rotary embedding), shared by a server's
    # blocks; None where blocks need none or build their own biases (BLOOM's ALiBi).
    build_position_encoder: Callable[[PretrainedConfig], torch.nn.Module | None]
    # The keyword arguments of the step's blocks, for each attention kind in `context.kinds`.
    block_inputs: Callable[[StepContext], dict[str, BlockKwargs]]
    # Calls one block on hidden states with its kind's keyword arguments; returns the new hidden states.
    run_block: Callable[[torch.nn.Module, torch.Tensor, BlockKwargs], torch.Tensor]
    # The attention kind of every block, in order (full_attention or sliding_attention).
    attention_kinds: Callable[[PretrainedConfig], tuple[str, ...]]
    # The key/value heads one token adds to a block's cache, and their size (what cache budgets count).
    cache_heads_and_dim: Callable[[PretrainedConfig], tuple[int, int]]
    # The client's parts. The embedding is the architecture's own nn.Embedding (Gemma's multiplies by
    # sqrt(hidden)), whose weight a tied head shares.
    build_embedding: Callable[[PretrainedConfig], torch.nn.Embedding]
    build_norm: Callable[[PretrainedConfig], torch.nn.Module]
    # A module the client applies to every input embedding before the first block (BLOOM's layer norm), or None.
    build_embedding_norm: Callable[[PretrainedConfig], torch.nn.Module | None]
    # Applied to the head's logits (Gemma 2's soft-capping); the identity for most.
    transform_logits: Callable[[PretrainedConfig, torch.Tensor], torch.Tensor]
    # Attribute names, on transformers' decoder model, of the final norm and of the embedding norm (if any):
    # how the client's tensors are found in a checkpoint.
    final_norm_name: str = "norm"
    embedding_norm_name: str | None = None
