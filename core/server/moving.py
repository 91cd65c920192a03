"""Moving a running server to other blocks: drain, free the old blocks, load the new ones, announce.

The servicer computes through a MovableSpan, which stands in for the BlockSpan and can swap it. A
session opened before a move is refused afterwards (its attention cache belongs to the old blocks),
with an error that tells the client to open a new one; so is any step while the server moves.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

import torch

from core import events
from core.server.admission import wait_until_closed
from core.server.announcer import Announcer
from core.server.blocks import BlockSpan
from core.wire import WireError

logger = logging.getLogger(__name__)


class MovableSpan:
    """The BlockSpan interface the servicer uses, over a span that can be replaced."""

    def __init__(self, span: BlockSpan):
        self._span = span
        self._caches: weakref.WeakSet[Any] = weakref.WeakSet()  # the caches of sessions opened on this span
        self._lock = threading.Lock()  # held by the step in flight
        self.moving = False

    def __getattr__(self, name: str) -> Any:  # start, end, dtype, device, hidden_size, config, ...
        return getattr(self._span, name)

    def new_cache(self, max_length: int | None = None) -> Any:
        cache = self._span.new_cache(max_length)
        self._caches.add(cache)
        return cache

    def forward(self, hidden_states: torch.Tensor, start: int, end: int, cache: Any = None,
                position: int = 0) -> torch.Tensor:
        with self._lock:
            if self.moving:
                raise WireError("this server is moving to other blocks; use another server")
            if cache is not None and cache not in self._caches:
                raise WireError("this server moved to other blocks since the session opened; open a new session")
            return self._span.forward(hidden_states, start, end, cache, position)

    def stop_computing(self) -> None:
        """Refuse new steps; returns (blocking) once the step in flight, if any, has finished."""
        with self._lock:
            self.moving = True

    def release_blocks(self) -> None:
        """Free the old blocks' memory (only after stop_computing)."""
        self._span.blocks.clear()
        gc.collect()
        if self._span.device.type == "cuda":
            torch.cuda.empty_cache()

    def replace(self, span: BlockSpan) -> None:
        with self._lock:
            self._span = span
            self._caches = weakref.WeakSet()
            self.moving = False


class Mover:
    """Drains this server and reloads it on new blocks, in the same process."""

    def __init__(self, movable: MovableSpan, announcer: Announcer, load: Callable[[int, int], BlockSpan],
                 open_sessions: Callable[[], int], drain_timeout: float, initial_peers: list[str],
                 visible_timeout: float):
        self.movable = movable
        self.announcer = announcer
        self.load = load
        self.open_sessions = open_sessions
        self.drain_timeout = drain_timeout
        self.initial_peers = initial_peers
        self.visible_timeout = visible_timeout

    async def move(self, start: int, end: int) -> None:
        old = (self.movable.start, self.movable.end)
        await self.announcer.move(start, end)  # old blocks offline: clients stop opening sessions here
        await self._drain()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.movable.stop_computing)
        self.movable.release_blocks()
        try:
            span = await loop.run_in_executor(None, self.load, start, end)
        except Exception:
            logger.exception("Loading blocks %d:%d failed; reloading %d:%d", start, end, *old)
            await self.announcer.announce("joining", start=old[0], end=old[1])
            span = await loop.run_in_executor(None, self.load, *old)
        self.movable.replace(span)
        await self.announcer.announce("online")
        await self._wait_visible()
        events.ServerMoved(model=self.announcer.record.model, blocks=[span.start, span.end]).emit()

    async def _drain(self) -> None:
        """Wait, at most drain_timeout, for the open inference sessions to finish."""
        await wait_until_closed(self.open_sessions, self.drain_timeout)
        if self.open_sessions() > 0:
            logger.info("Moving with %d session(s) still open; their next step gets an error", self.open_sessions())

    async def _wait_visible(self) -> None:
        try:
            await self.announcer.wait_visible(self.initial_peers, self.visible_timeout)
        except Exception as error:  # noqa: BLE001 - serving anyway; the next refresh retries the records
            logger.warning("After moving, a fresh client could not read this server's records yet: %s", error)
