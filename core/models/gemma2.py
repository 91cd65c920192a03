"""Gemma 2: alternating sliding-window and global layers, soft-capped attention logits (inside its attention,
which is why transformers runs it in eager attention), extra norms around attention and MLP (inside the block),
embeddings scaled by sqrt(hidden size), and soft-capped final logits.

What the family needs beyond the standard decoder (core/models/decoder.py): the client's embedding is Gemma's
own scaled one, and the client soft-caps the head's logits (`transform_logits`). Each block's kind comes from
`config.layer_types`, which picks its mask and cache layer.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import PretrainedConfig
from transformers.models.gemma2.modeling_gemma2 import (
    Gemma2DecoderLayer,
    Gemma2PreTrainedModel,
    Gemma2RMSNorm,
    Gemma2RotaryEmbedding,
    Gemma2TextScaledWordEmbedding,
)

from core.models.decoder import standard_family


def scaled_embedding(embedding_class: Callable[..., torch.nn.Embedding]) -> Callable[[PretrainedConfig],
                                                                                       torch.nn.Embedding]:
    """Gemma's embedding, which multiplies by sqrt(hidden size) in the weights' dtype, as its models build it."""
    def build(config: PretrainedConfig) -> torch.nn.Embedding:
        scale = config.hidden_size**0.5
        embedding = embedding_class(config.vocab_size, config.hidden_size, config.pad_token_id, embed_scale=scale)
        # The client builds its parts on the meta device and loads the weight; the scale is no checkpoint tensor
        # (a non-persistent buffer), so it is made here, on the CPU, as transformers initialises it.
        embedding.embed_scale = torch.tensor(scale, device="cpu")
        return embedding
    return build


def soft_capped(config: PretrainedConfig, logits: torch.Tensor) -> torch.Tensor:
    """cap * tanh(logits / cap), in the same three steps as Gemma's models, when the config sets a cap."""
    cap = getattr(config, "final_logit_softcapping", None)
    if cap is None:
        return logits
    capped: torch.Tensor = torch.tanh(logits / cap) * cap
    return capped


GEMMA2 = standard_family(("gemma2",), Gemma2DecoderLayer, Gemma2RotaryEmbedding, Gemma2RMSNorm, Gemma2PreTrainedModel,
                         build_embedding=scaled_embedding(Gemma2TextScaledWordEmbedding), transform_logits=soft_capped)
