"""A contiguous span of transformer blocks and the arithmetic of one step through (part of) it."""
from __future__ import annotations

import logging

import torch
from transformers import DynamicCache, PretrainedConfig

from core.models.family import ModelFamily, StepContext
from core.server.preallocated_cache import span_cache
from core.server.quantize import module_bytes, quantize_block

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_PREFIX = "model.layers.{index}."


class BlockSpan:
    """Blocks [start, end) of a model on one device, computing in one dtype.

    `tensors` are the blocks' weights by state-dict name (`block_prefix` says where block i's begin).
    """

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
        block_prefix: str = DEFAULT_BLOCK_PREFIX,
    ):
        self.family = family
        self.config = config  # the decoder's config
        self.start = start
        self.end = end
        self.dtype = dtype
        self.device = device
        self.quantization = quantization  # of the weight matrices: none, int8 or nf4 (core/server/quantize.py)
        self.kinds = family.attention_kinds(config)[start:end]
        self.blocks = [self._build(index, block_prefix, tensors) for index in range(start, end)]
        encoder = family.build_position_encoder(config)
        self.position_encoder = None if encoder is None else encoder.to(device)

    def _build(self, index: int, block_prefix: str, tensors: dict[str, torch.Tensor]) -> torch.nn.Module:
        prefix = block_prefix.format(index=index)
        state = {name[len(prefix):]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}
        with torch.device("meta"):
            block = self.family.build_block(self.config, index, index - self.start)
        block.load_state_dict(state, strict=True, assign=True)
        if self.quantization == "none":
            block = block.to(device=self.device, dtype=self.dtype)
        else:  # one block at a time, so the device never holds more than one block unquantized
            block = quantize_block(block.to(dtype=self.dtype), self.quantization, self.device)
        return block.eval().requires_grad_(False)

    @property
    def hidden_size(self) -> int:
        return int(self.config.hidden_size)

    def new_cache(self, max_length: int | None = None) -> DynamicCache:
        """An empty attention cache; with `max_length`, one that never reallocates (see preallocated_cache.py)."""
        return span_cache(self.config, self.start, self.end, max_length)

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

        Hidden states of any float dtype are converted to ours first (mixed precision along a route); the result
        is in ours. With a cache, keys and values are appended to it, exactly as transformers' own model does.
        """
        hidden_states = hidden_states.to(device=self.device, dtype=self.dtype)
        length = hidden_states.shape[1]
        position_ids = torch.arange(position, position + length, device=self.device).unsqueeze(0)
        first, last = start - self.start, end - self.start
        kinds: dict[str, int] = {}
        for local in range(first, last):
            kinds.setdefault(self.kinds[local], local)
        context = StepContext(self.config, hidden_states, position_ids, cache, kinds, self.position_encoder)
        inputs = self.family.block_inputs(context)
        for local in range(first, last):
            hidden_states = self.family.run_block(self.blocks[local], hidden_states, inputs[self.kinds[local]])
        return hidden_states

    def memory_bytes(self) -> int:
        """Bytes the blocks' weights take, quantization scales included."""
        return sum(module_bytes(block) for block in self.blocks)
