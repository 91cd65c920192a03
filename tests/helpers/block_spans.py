"""A server's BlockSpan over a seeded random model that transformers itself also runs: the reference."""
from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, PretrainedConfig, PreTrainedModel

from core.models import family_for
from core.models.layout import model_layout
from core.server.blocks import BlockSpan


def reference_and_span(config: PretrainedConfig, start: int, end: int) -> tuple[PreTrainedModel, BlockSpan]:
    """transformers' model of `config` (random weights, seed 0, SDPA attention) and a float32 CPU span of
    its blocks [start, end) with the same weights."""
    torch.manual_seed(0)
    config._attn_implementation = "sdpa"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    return model, span_of(model, start, end)


def span_of(model: PreTrainedModel, start: int, end: int, quantization: str = "none",
            dtype: torch.dtype = torch.float32) -> BlockSpan:
    """A CPU span of `model`'s blocks [start, end) in `dtype`, its weights quantized as asked."""
    layout = model_layout(model.config, family_for(model.config))
    names = layout.block_names(range(start, end))
    state = {name: tensor for name, tensor in model.state_dict().items() if name in names}
    return BlockSpan(layout.family, layout.decoder_config, start, end, state, dtype, torch.device("cpu"), quantization,
                     layout.block_prefix)
