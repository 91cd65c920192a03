"""The expected seconds one token takes through a span of one server: the edge weight of routing."""
from __future__ import annotations

from dataclasses import dataclass

from core.client.peer_stats import PeerStats
from core.swarm.records import ServerRecord

DEFAULT_RTT = 0.05  # seconds assumed for a server never pinged
CACHE_PENALTY = 100.0  # seconds charged to a server without cache room for the session: used only as a last resort


@dataclass(frozen=True)
class CostModel:
    """Per-route inputs of the edge cost: what was measured, and how many tokens the session needs."""

    stats: PeerStats | None = None
    need_tokens: int = 0
    calibration: float = 1.0

    @classmethod
    def for_records(cls, stats: PeerStats | None, records: list[ServerRecord], need_tokens: int = 0) -> CostModel:
        calibration = stats.calibration(records) if stats is not None else 1.0
        return cls(stats, need_tokens, calibration)

    def span_seconds(self, record: ServerRecord, blocks: int) -> float:
        """Round trip + compute for `blocks` blocks + waiting behind the server's queue + cache penalty."""
        return self.for_server(record).span_seconds(blocks)

    def for_server(self, record: ServerRecord) -> ServerCost:
        """One server's cost inputs, looked up once: a route search prices many spans of each server, and
        the measurements behind them (locked, a median) do not change while it runs."""
        if self.stats is None:
            rtt, block_seconds = DEFAULT_RTT, self.calibration / max(record.throughput, 1e-6)
        else:
            measured = self.stats.rtt(record.peer_id)
            rtt = DEFAULT_RTT if measured is None else measured
            block_seconds = self.stats.block_seconds(record, self.calibration)
        short_of_cache = bool(self.need_tokens) and record.cache_tokens_free < self.need_tokens
        return ServerCost(rtt, block_seconds, 1 + max(record.queue_depth, 0), short_of_cache)


@dataclass(frozen=True)
class ServerCost:
    """The edge cost of one server's spans, from inputs fixed for one route search."""

    rtt: float
    block_seconds: float
    load: int  # 1 + the requests queued ahead: each one is computed before ours
    short_of_cache: bool

    def span_seconds(self, blocks: int) -> float:
        cost = self.rtt + blocks * self.block_seconds * self.load
        if self.short_of_cache:
            cost += CACHE_PENALTY
        return cost
