"""The server's attention (KV) cache budget: sessions reserve their whole cache when they open.

The budget counts block-tokens: one token of keys and values in one block. `server.cache_tokens` is how
many tokens each served block may hold across all sessions, so the budget is that times the number of
served blocks. A session on blocks [start, end) with max_length L and batch B reserves L x B x (end - start)
block-tokens up front, so memory never grows past the budget however the sessions' steps interleave.
"""
from __future__ import annotations

import asyncio
import logging

from transformers import PretrainedConfig

from core.server.block_cost import kv_bytes_per_token
from core.server.resources import usable_bytes

logger = logging.getLogger(__name__)

# Share of the memory left after loading the blocks (minus the reserve) that the cache may take by default:
# the rest absorbs activations, allocator slack and the memory other programs take later.
DEFAULT_CACHE_FRACTION = 0.5


class CacheFull(Exception):
    """No room in the cache budget within the time the caller was willing to wait."""


class CacheBudget:
    """Block-tokens of KV cache, reserved and freed by sessions on the server's event loop."""

    def __init__(self, total: int):
        self.total = max(0, int(total))
        self.used = 0
        self._freed = asyncio.Condition()
        self._notifications: set[asyncio.Task[None]] = set()

    @property
    def free(self) -> int:
        return max(0, self.total - self.used)  # below zero after shrinking under sessions still open

    async def reserve(self, amount: int, timeout: float = 0.0) -> None:
        """Take `amount` block-tokens, waiting up to `timeout` seconds for other sessions to free some.

        Raises CacheFull at once for an amount larger than the whole budget, or when the time runs out.
        """
        if amount > self.total:
            raise CacheFull(f"{amount} cache tokens exceed this server's whole budget of {self.total}")
        if self.try_reserve(amount):
            return
        if timeout > 0:
            async with self._freed:
                try:
                    await asyncio.wait_for(self._freed.wait_for(lambda: amount <= self.free), timeout)
                except TimeoutError:
                    pass
                else:
                    self.used += amount
                    return
        raise CacheFull(f"{amount} cache tokens needed, {self.free} of {self.total} free")

    def try_reserve(self, amount: int) -> bool:
        """Take `amount` block-tokens only if they are free now."""
        if amount > self.free:
            return False
        self.used += amount
        return True

    def resize(self, total: int) -> None:
        """A new total (the server moved to a span of another size); sessions open keep their reservations."""
        self.total = max(0, int(total))
        self.release(0)  # wake the waiters: more may fit now

    def release(self, amount: int) -> None:
        """Give back `amount` block-tokens and wake the sessions waiting for room (callable from finally blocks)."""
        self.used = max(0, self.used - amount)
        try:
            task = asyncio.get_running_loop().create_task(self._notify())
        except RuntimeError:  # no loop runs: nobody can be waiting
            return
        self._notifications.add(task)
        task.add_done_callback(self._notifications.discard)

    async def _notify(self) -> None:
        async with self._freed:
            self._freed.notify_all()


def default_cache_tokens(config: PretrainedConfig, dtype: str, num_blocks: int, device_type: str,
                         device_index: int, vram_reserve_gb: float, ram_reserve_gb: float) -> int:
    """Tokens per block that a share of the free memory (measured after loading the blocks) can hold."""
    free = usable_bytes(device_type, device_index, vram_reserve_gb, ram_reserve_gb)
    per_token = kv_bytes_per_token(config, dtype) * max(1, num_blocks)
    tokens = int(free * DEFAULT_CACHE_FRACTION) // per_token
    logger.info("KV cache budget: %d tokens per block (%.0f MiB of %.0f MiB usable)", tokens,
                tokens * per_token / 2**20, free / 2**20)
    return tokens
