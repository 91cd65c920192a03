"""A session's attention cache, allocated once for the session's whole length.

transformers' DynamicCache grows each layer by torch.cat at every step: the old and the new tensor live
side by side for a moment, and the holes the old ones leave are too small for the next, larger ones, so
the allocator keeps taking fresh memory. With many sessions that fragmentation costs far more than the
cache itself (measured: 93 MiB resident for 60 MiB of keys and values on CPU). Here each layer writes
into buffers of max_length tokens allocated at the session's first step, which the cache budget has
already reserved, and attention reads a view of the filled part: the same values, in the same order, so
the results equal DynamicCache's bit for bit.
"""
from __future__ import annotations

import torch
from transformers import DynamicCache, PretrainedConfig
from transformers.cache_utils import DynamicLayer


class PreallocatedLayer(DynamicLayer):
    """A DynamicLayer whose keys and values are views into buffers of `max_length` tokens."""

    def __init__(self, max_length: int):
        super().__init__()  # type: ignore[no-untyped-call]  # transformers' CacheLayerMixin.__init__ has no hints
        self.max_length = max_length
        self._key_buffer: torch.Tensor | None = None
        self._value_buffer: torch.Tensor | None = None

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        # torch.empty: on CPU, pages become resident only as tokens are written.
        batch, key_heads, _, key_dim = key_states.shape
        self._key_buffer = key_states.new_empty((batch, key_heads, self.max_length, key_dim))
        self._value_buffer = value_states.new_empty((batch, value_states.shape[1], self.max_length,
                                                     value_states.shape[-1]))
        self.device = key_states.device
        self.keys = self._key_buffer[:, :, :0]
        self.values = self._value_buffer[:, :, :0]
        self.is_initialized = True

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: object,
               **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        assert self._key_buffer is not None and self._value_buffer is not None and self.keys is not None
        start = self.keys.shape[-2]  # not a counter of our own: crop() shortens the views
        end = start + key_states.shape[-2]
        if end > self.max_length:
            raise ValueError(f"the session's cache holds {self.max_length} tokens; {start} + "
                             f"{key_states.shape[-2]} would exceed it")
        if key_states.shape[0] != self._key_buffer.shape[0]:
            raise ValueError(f"the cache was allocated for a batch of {self._key_buffer.shape[0]}, "
                             f"got {key_states.shape[0]}")
        self._key_buffer[:, :, start:end].copy_(key_states)
        self._value_buffer[:, :, start:end].copy_(value_states)
        self.keys = self._key_buffer[:, :, :end]
        self.values = self._value_buffer[:, :, :end]
        return self.keys, self.values

    def reset(self) -> None:
        self._key_buffer = self._value_buffer = None
        super().reset()


class PreallocatedCache(DynamicCache):
    """A DynamicCache for at most `max_length` tokens whose full-attention layers never reallocate.

    Layers of any other kind (sliding windows) stay as transformers builds them."""

    def __init__(self, config: PretrainedConfig, max_length: int):
        super().__init__(config=config)
        self.layers = [PreallocatedLayer(max_length) if type(layer) is DynamicLayer else layer
                       for layer in self.layers]


def span_cache(config: PretrainedConfig, start: int, end: int, max_length: int | None = None) -> DynamicCache:
    """The cache of a session over blocks [start, end): one layer per block, numbered from 0, each of the kind
    transformers builds for that block (a sliding-window layer for a sliding-window block); with `max_length`,
    full-attention layers are preallocated."""
    cache = DynamicCache(config=config) if max_length is None else PreallocatedCache(config, max_length)
    cache.layers = cache.layers[start:end]
    return cache
