"""Rebalancing: now and then, with jitter, a server checks whether moving its span would help the swarm.

It moves only when the move covers more blocks, or raises the swarm's bottleneck throughput (the
weakest block's summed throughput) by more than a margin. Servers check at random times and re-read
the swarm just before moving, and a moving server announces its target as `joining` at once, so the
servers that would make the same move see it and stay.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from core.server.placement import ServedSpan, block_throughputs, choose_span

logger = logging.getLogger(__name__)


def swarm_quality(spans: list[ServedSpan], total: int) -> tuple[int, float]:
    """(uncovered blocks, bottleneck throughput): fewer uncovered first, then a higher bottleneck."""
    sums = block_throughputs(spans, total)
    return sums.count(0.0), min(sums) if sums else 0.0


def better_span(spans: list[ServedSpan], me: ServedSpan, total: int, margin: float,
                rng: random.Random | None = None) -> tuple[int, int] | None:
    """Where `me` should move to, or None when staying is as good (within the margin)."""
    others = [span for span in spans if span.peer_id != me.peer_id]
    start, end = choose_span(others, total, me.end - me.start, rng)
    if (start, end) == (me.start, me.end):
        return None
    moved = ServedSpan(me.peer_id, start, end, me.throughput)
    old_uncovered, old_bottleneck = swarm_quality([*others, me], total)
    new_uncovered, new_bottleneck = swarm_quality([*others, moved], total)
    if new_uncovered < old_uncovered:
        return start, end
    if new_uncovered == old_uncovered and new_bottleneck > old_bottleneck * (1 + margin) + 1e-9:
        return start, end
    return None


class Rebalancer:
    """Runs `better_span` about every `period` seconds and calls `move(start, end)` when it says so."""

    def __init__(self, read_spans: Callable[[], Awaitable[list[ServedSpan]]], me: Callable[[], ServedSpan],
                 move: Callable[[int, int], Awaitable[None]], total: int, period: float, margin: float,
                 rng: random.Random | None = None):
        self.read_spans = read_spans
        self.me = me
        self.move = move
        self.total = total
        self.period = period
        self.margin = margin
        self.rng = rng or random.Random()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Uniform in [0.5, 1.5) x period: servers that started together drift apart.
            if await _stopped_within(stop, self.period * (0.5 + self.rng.random())):
                return
            try:
                await self.check(stop)
            except Exception:  # the server keeps serving where it is; the next period retries
                logger.exception("Checking whether to move this server failed")

    async def check(self, stop: asyncio.Event) -> bool:
        """Move if the swarm needs it, confirmed by a second reading a moment later; True if moved."""
        seed = self.rng.random()  # the same tie-breaks for both readings, so they ask the same question
        target = await self._target(seed)
        if target is None:
            return False
        if await _stopped_within(stop, self.rng.uniform(0.0, min(2.0, self.period / 4))):
            return False
        if await self._target(seed) != target:
            return False
        logger.info("Moving from blocks %d:%d to %d:%d to help the swarm", self.me().start, self.me().end, *target)
        await self.move(*target)
        return True

    async def _target(self, seed: float) -> tuple[int, int] | None:
        spans = await self.read_spans()
        return better_span(spans, self.me(), self.total, self.margin, random.Random(seed))


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
        return True
    except TimeoutError:
        return False
