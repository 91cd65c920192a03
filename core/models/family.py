"""What one architecture module provides; core/models/<arch>.py implements it for its model types."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import PretrainedConfig, PreTrainedModel


@dataclass(frozen=True)
class ModelFamily:
    """How to build and name the parts of one architecture.

    A new architecture is one new module that builds one of these and registers it in core/models/__init__.py.
    """

    model_types: tuple[str, ...]
    # Builds block `index` (with its attention's cache slot set to `local_index`) on the meta device or CPU.
    build_block: Callable[[PretrainedConfig, int, int], torch.nn.Module]
    # Builds the rotary embedding module shared by all blocks of a server.
    build_rotary: Callable[[PretrainedConfig], torch.nn.Module]
    # Builds the final norm the client applies after the last block.
    build_norm: Callable[[PretrainedConfig], torch.nn.Module]
    # The transformers PreTrainedModel base of this architecture (the client's model derives from it).
    pretrained_base: type[PreTrainedModel]
    # State-dict prefix of block i, e.g. "model.layers.{i}.".
    block_prefix: str = "model.layers.{index}."
    client_tensors: tuple[str, ...] = ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight")
