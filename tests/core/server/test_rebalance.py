"""Rebalancing decisions from recorded swarm states, and the jittered loop that acts on them."""
from __future__ import annotations

import asyncio
import random

from core.server.placement import ServedSpan
from core.server.rebalance import Rebalancer, better_span, swarm_quality


def test_quality_counts_gaps_then_the_weakest_block():
    spans = [ServedSpan("a", 0, 15, 2.0), ServedSpan("b", 15, 30, 1.0), ServedSpan("c", 15, 30, 1.0)]
    assert swarm_quality(spans, 30) == (0, 2.0)
    assert swarm_quality(spans[1:], 30) == (15, 0.0)


def test_duplicate_moves_into_the_gap_left_by_a_departed_server():
    me = ServedSpan("me", 15, 30, 1.0)
    assert better_span([ServedSpan("b", 15, 30, 1.0), me], me, 30, margin=0.2) == (0, 15)


def test_the_only_server_of_a_span_stays():
    me = ServedSpan("me", 15, 30, 1.0)
    assert better_span([ServedSpan("a", 0, 15, 1.0), me], me, 30, margin=0.2) is None


def test_moves_only_for_a_clear_gain_in_bottleneck_throughput():
    # Blocks 0:15 hold 3 + 1, blocks 15:30 hold 2: moving "me" there lifts the bottleneck from 2 to 3 (+50%).
    me = ServedSpan("me", 0, 15, 1.0)
    strong = [ServedSpan("a", 0, 15, 3.0), ServedSpan("b", 15, 30, 2.0)]
    assert better_span([*strong, me], me, 30, margin=0.2) == (15, 30)  # min(4, 2) = 2 -> min(3, 3) = 3
    assert better_span([*strong, me], me, 30, margin=0.6) is None  # +50% is not enough


def test_a_move_that_would_open_a_gap_is_refused():
    me = ServedSpan("me", 0, 15, 5.0)
    assert better_span([ServedSpan("b", 15, 30, 1.0), me], me, 30, margin=0.0) is None


def test_loop_moves_once_and_the_second_server_then_stays():
    """Two duplicates of 15:30 after the 0:15 server left: exactly one moves."""
    swarm = {"b": ServedSpan("b", 15, 30, 1.0), "c": ServedSpan("c", 15, 30, 1.0)}
    moves: list[tuple[str, int, int]] = []

    def rebalancer(peer: str, seed: int) -> Rebalancer:
        async def read() -> list[ServedSpan]:
            return list(swarm.values())

        async def move(start: int, end: int) -> None:
            moves.append((peer, start, end))
            swarm[peer] = ServedSpan(peer, start, end, 1.0)

        return Rebalancer(read, lambda: swarm[peer], move, 30, period=0.05, margin=0.2, rng=random.Random(seed))

    async def scenario() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(rebalancer(peer, seed).run(stop)) for seed, peer in enumerate(swarm)]
        await asyncio.sleep(0.6)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())
    assert len(moves) == 1 and moves[0][1:] == (0, 15)
