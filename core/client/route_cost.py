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
        if self.stats is None:
            rtt, block_seconds = DEFAULT_RTT, self.calibration / max(record.throughput, 1e-6)
        else:
            rtt = self.stats.rtt(record.peer_id)
            rtt = DEFAULT_RTT if rtt is None else rtt
            block_seconds = self.stats.block_seconds(record, self.calibration)
        compute = blocks * block_seconds
        cost = rtt + compute * (1 + max(record.queue_depth, 0))
        if self.need_tokens and record.cache_tokens_free < self.need_tokens:
            cost += CACHE_PENALTY
        return cost
