"""Span choice from recorded swarm states: fewest uncovered blocks, then weakest throughput, then gap edges."""
from __future__ import annotations

import random

from core.server.placement import ServedSpan, block_throughputs, choose_span, coverage, gap_edges


def span(start: int, end: int, throughput: float = 1.0, peer: str | None = None) -> ServedSpan:
    return ServedSpan(peer or f"peer-{start}-{end}-{throughput}", start, end, throughput)


def choices(spans: list[ServedSpan], total: int, length: int, tries: int = 200) -> set[tuple[int, int]]:
    rng = random.Random(7)
    return {choose_span(spans, total, length, rng) for _ in range(tries)}


def test_empty_swarm_starts_at_either_model_end():
    assert choices([], 30, 12) == {(0, 12), (18, 30)}


def test_takes_the_gap_starting_at_its_edge():
    assert choices([span(0, 12)], 30, 12) == {(12, 24), (18, 30)}


def test_fills_a_gap_exactly_when_it_fits():
    assert choices([span(0, 12), span(24, 30)], 30, 12) == {(12, 24)}


def test_fewest_uncovered_beats_throughput():
    # Blocks 20:30 are uncovered; a window over the strong servers' blocks that covers them wins.
    spans = [span(0, 10, 1.0), span(10, 20, 50.0)]
    assert choices(spans, 30, 10) == {(20, 30)}


def test_recorded_state_with_two_gaps_covers_the_larger():
    spans = [span(0, 8), span(10, 25)]  # gaps: 8:10 (2 blocks), 25:30 (5 blocks)
    assert choices(spans, 30, 6) == {(24, 30)}


def test_full_coverage_prefers_the_weakest_blocks():
    spans = [span(0, 10, 2.0), span(10, 20, 1.0), span(20, 30, 3.0)]
    assert choices(spans, 30, 10) == {(10, 20)}


def test_throughput_is_summed_over_servers_of_a_block():
    spans = [span(0, 15, 1.0, "a"), span(0, 15, 1.0, "b"), span(15, 30, 1.5, "c")]
    assert block_throughputs(spans, 30)[0] == 2.0
    assert choices(spans, 30, 15) == {(15, 30)}


def test_ties_break_only_at_gap_edges():
    spans = [span(0, 12), span(18, 30)]  # gap 12:18; 6:18 .. 12:24 all cover it with equal throughput sums
    assert choices(spans, 30, 12) == {(6, 18), (12, 24)}
    assert gap_edges(spans, 30) == {0, 12, 18, 30}


def test_length_is_clamped_to_the_model():
    assert choose_span([], 3, 10) == (0, 3)


def test_a_thousand_join_orders_of_three_servers_cover_thirty_blocks():
    rng = random.Random(2024)
    servers = [1.0, 2.5, 7.0]  # three 12-block servers of different speeds
    for _ in range(1000):
        throughputs = rng.sample(servers, k=3)  # a random join order
        spans: list[ServedSpan] = []
        for number, throughput in enumerate(throughputs):
            start, end = choose_span(spans, 30, 12, rng)
            spans.append(ServedSpan(f"server-{number}", start, end, throughput))
        assert 0 not in coverage(spans, 30), spans
