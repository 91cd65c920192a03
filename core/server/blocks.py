"""A contiguous span of transformer blocks and the arithmetic of one step through (part of) it."""
from __future__ import annotations

import logging

import torch
from transformers import DynamicCache, PretrainedConfig
from transformers.masking_utils import create_causal_mask

from core.models.family import ModelFamily
from core.server.preallocated_cache import PreallocatedCache
from core.server.quantize import module_bytes, quantize_linears

logger = logging.getLogger(__name__)


class BlockSpan:
    """Blocks [start, end) of a model on one device, in one dtype."""

    def __init__(
        self,
        family: ModelFamily,
        config: PretrainedConfig,
        start: int,
        end: int,
        tensors: dict[str, torch.Tensor],
        dtype: torch.dtype,
        device: torch.device,
        quantization: str = "none",
    ):
        self.config = config
        self.start = start
        self.end = end
        self.dtype = dtype
        self.device = device
        self.quantization = quantization  # of the linear layers' weights: none, int8 or nf4 (core/server/quantize.py)
        self.blocks: list[torch.nn.Module] = []
        for index in range(start, end):
            prefix = family.block_prefix.format(index=index)
            state = {name[len(prefix):]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}
            with torch.device("meta"):
                block = family.build_block(config, index, index - start)
            block.load_state_dict(state, strict=True, assign=True)
            if quantization == "none":
                block = block.to(device=device, dtype=dtype)
            else:  # one block at a time, so the device never holds more than one block unquantized
                block = quantize_linears(block.to(dtype=dtype), quantization, device)
            self.blocks.append(block.eval().requires_grad_(False))
        self.rotary = family.build_rotary(config).to(device)

    @property
    def hidden_size(self) -> int:
        return int(self.config.hidden_size)

    def new_cache(self, max_length: int | None = None) -> DynamicCache:
        """An empty attention cache; with `max_length`, one that never reallocates (see preallocated_cache.py)."""
        if max_length is None:
            return DynamicCache(config=self.config)
        return PreallocatedCache(self.config, max_length)

    @torch.inference_mode()
    def forward(
        self,
        hidden_states: torch.Tensor,
        start: int,
        end: int,
        cache: DynamicCache | None = None,
        position: int = 0,
    ) -> torch.Tensor:
        """Run blocks [start, end) (a sub-span of ours) on `hidden_states` that begin at `position`.

        With a cache, keys and values are appended to it, exactly as transformers' own model does.
        """
        hidden_states = hidden_states.to(self.device)
        length = hidden_states.shape[1]
        position_ids = torch.arange(position, position + length, device=self.device).unsqueeze(0)
        first_local = start - self.start
        mask = create_causal_mask(config=self.config, inputs_embeds=hidden_states, attention_mask=None,
                                  cache=cache, position_ids=position_ids, layer_idx=first_local)
        position_embeddings = self.rotary(hidden_states, position_ids=position_ids)
        for block in self.blocks[first_local:end - self.start]:
            hidden_states = block(hidden_states, attention_mask=mask, position_ids=position_ids, cache=cache,
                                  use_cache=cache is not None, position_embeddings=position_embeddings)
        return hidden_states

    def memory_bytes(self) -> int:
        """Bytes the blocks' weights take, quantization scales included."""
        return sum(module_bytes(block) for block in self.blocks)
