"""Where a model's parts sit in its state dict, read off transformers' own model built on the meta device.

Names differ by architecture (BLOOM's blocks are `transformer.h.N.`, Llama's `model.layers.N.`) and by
checkpoint (a multimodal Gemma 3 nests its text decoder under `model.language_model.`). Building transformers'
model of the config on the meta device (no memory) answers all of it at once, and settles what from_pretrained
would run: the attention implementation (sdpa or eager) and the experts kernel, which blocks must match.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from transformers import AutoModelForCausalLM, PretrainedConfig, PreTrainedModel

from core.errors import UserFacingError
from core.models.family import ModelFamily


@dataclass(frozen=True)
class ModelLayout:
    """A model as Meadow splits it: blocks for servers, the rest for the client, by state-dict name."""

    # transformers' model of the checkpoint's config, on the meta device: where names, shapes and conversions come from
    meta: PreTrainedModel
    # The text decoder's config, with transformers' choice of attention and experts implementations: what blocks,
    # caches and masks are built from (the same object as `config` except for multimodal checkpoints).
    decoder_config: PretrainedConfig
    family: ModelFamily
    block_prefix: str  # "model.layers.{index}."
    embedding: str  # prefixes: "model.embed_tokens."
    embedding_norm: str | None
    final_norm: str
    head: str
    shapes: dict[str, tuple[int, ...]]  # every state-dict name, with its shape

    @property
    def config(self) -> PretrainedConfig:
        """The checkpoint's own config (for multimodal checkpoints, with the text decoder's nested inside)."""
        return self.meta.config

    @property
    def tensor_names(self) -> frozenset[str]:
        return frozenset(self.shapes)

    @property
    def num_blocks(self) -> int:
        return int(self.decoder_config.num_hidden_layers)

    @property
    def tied(self) -> bool:
        """Whether the head is the embedding matrix (then checkpoints store it once, as the embedding)."""
        return bool(getattr(self.config, "tie_word_embeddings", False))

    def block_names(self, indices: Iterable[int]) -> set[str]:
        """Full state-dict names of the tensors of the given blocks."""
        prefixes = tuple(self.block_prefix.format(index=index) for index in indices)
        return {name for name in self.tensor_names if name.startswith(prefixes)}

    def client_names(self) -> set[str]:
        """The embedding, the embedding norm if any, the final norm, and the head unless it is tied."""
        prefixes = [self.embedding, self.final_norm, *([self.embedding_norm] if self.embedding_norm else [])]
        if not self.tied:
            prefixes.append(self.head)
        return {name for name in self.tensor_names if name.startswith(tuple(prefixes))}

    def block_index(self, name: str) -> int | None:
        """The block a state-dict name belongs to, or None for the client's tensors and others."""
        match = re.match(re.escape(self.block_prefix).replace(re.escape("{index}"), r"(\d+)"), name)
        return int(match.group(1)) if match else None


def meta_model(config: PretrainedConfig) -> PreTrainedModel:
    """transformers' causal LM of `config` on the meta device. Its __init__ settles the attention and experts
    implementations on `config` itself, exactly as from_pretrained does."""
    with torch.device("meta"):
        model: PreTrainedModel = AutoModelForCausalLM.from_config(config)
    return model


def model_layout(config: PretrainedConfig, family: ModelFamily) -> ModelLayout:
    """The layout of `config`'s model; UserFacingError if its decoder layers cannot be found."""
    model = meta_model(config)
    decoder_config = model.config.get_text_config(decoder=True)
    layers = _decoder_layers_name(model, family, decoder_config)
    decoder = layers.rpartition(".")[0]
    module_names = {id(module): name for name, module in model.named_modules()}
    embedding_norm = f"{_join(decoder, family.embedding_norm_name)}." if family.embedding_norm_name else None
    return ModelLayout(
        meta=model, decoder_config=decoder_config, family=family, block_prefix=f"{layers}.{{index}}.",
        embedding=f"{module_names[id(model.get_input_embeddings())]}.", embedding_norm=embedding_norm,
        final_norm=f"{_join(decoder, family.final_norm_name)}.",
        head=f"{module_names[id(model.get_output_embeddings())]}.",
        shapes={name: tuple(tensor.shape) for name, tensor in model.state_dict().items()},
    )


def _decoder_layers_name(model: torch.nn.Module, family: ModelFamily, config: PretrainedConfig) -> str:
    """The name of the ModuleList holding the decoder layers, recognised by the family's layer class."""
    with torch.device("meta"):
        layer_class = type(family.build_block(config, 0, 0))
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == config.num_hidden_layers \
                and all(isinstance(layer, layer_class) for layer in module):
            return str(name)
    raise UserFacingError(f"Cannot find the {layer_class.__name__} layers in {type(model).__name__}")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
