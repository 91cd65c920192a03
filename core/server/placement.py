"""Which span a server takes when the user gives only a number of blocks (or none).

Order of preference: the span that leaves the fewest blocks uncovered; then the one whose blocks have
the weakest summed throughput; then, at random, among spans that start or end at a gap edge (a model
end or the edge of a served span). The last rule makes servers that join together spread out instead
of all landing in the middle of one gap.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from hivemind import DHT

from core.swarm.directory import fetch_servers

_ACTIVE_STATES = ("joining", "online")  # a joining server has chosen its span: count it, so joiners spread


@dataclass(frozen=True)
class ServedSpan:
    """Blocks [start, end) served by one peer at `throughput` tokens/s per block."""

    peer_id: str
    start: int
    end: int
    throughput: float


def read_swarm(dht: DHT, namespace: str, model: str, total: int) -> list[ServedSpan]:
    """The spans of every joining or online server of `model`, one per peer."""
    found = fetch_servers(dht, namespace, model, list(range(total)))
    spans: dict[str, ServedSpan] = {}
    for servers in found.values():
        for server in servers:
            record = server.record
            if record.state in _ACTIVE_STATES:
                spans[record.peer_id] = ServedSpan(record.peer_id, record.start, min(record.end, total),
                                                   float(record.throughput))
    return list(spans.values())


def block_throughputs(spans: list[ServedSpan], total: int) -> list[float]:
    """Summed throughput of the servers of each block."""
    sums = [0.0] * total
    for span in spans:
        for index in range(max(0, span.start), min(span.end, total)):
            sums[index] += span.throughput
    return sums


def coverage(spans: list[ServedSpan], total: int) -> list[int]:
    counts = [0] * total
    for span in spans:
        for index in range(max(0, span.start), min(span.end, total)):
            counts[index] += 1
    return counts


def gap_edges(spans: list[ServedSpan], total: int) -> set[int]:
    return {0, total} | {span.start for span in spans} | {min(span.end, total) for span in spans}


def choose_span(spans: list[ServedSpan], total: int, length: int, rng: random.Random | None = None) -> tuple[int, int]:
    """The best span of `length` blocks (clamped to the model) to add to a swarm serving `spans`."""
    rng = rng or random.Random()
    length = max(1, min(length, total))
    counts = coverage(spans, total)
    sums = block_throughputs(spans, total)
    uncovered = counts.count(0)

    def score(start: int) -> tuple[int, float]:
        newly_covered = sum(1 for count in counts[start:start + length] if count == 0)
        # Rounded so that equal sums computed in different orders still tie.
        return uncovered - newly_covered, round(sum(sums[start:start + length]), 6)

    scores = {start: score(start) for start in range(total - length + 1)}
    best = min(scores.values())
    tied = [start for start, value in scores.items() if value == best]
    edges = gap_edges(spans, total)
    at_edges = [start for start in tied if start in edges or start + length in edges]
    start = rng.choice(at_edges or tied)
    return start, start + length
