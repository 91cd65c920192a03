"""The expected seconds one token takes through a span of one server: the edge weight of routing."""
from __future__ import annotations

from dataclasses import dataclass

from core.client.peer_stats import PeerStats
from core.swarm.records import ServerRecord

DEFAULT_RTT = 0.05  # seconds assumed for a server never pinged
CACHE_PENALTY = 100.0  # seconds charged to a server without cache room for the session: used only as a last resort
# Seconds charged per step of precision below full (float32, unquantized) when the caller prefers full precision:
# more than any real difference in speed, so lower precision is used only where nothing more precise serves.
PRECISION_PENALTY = 10.0
_PRECISION_STEPS = {"float32": 0, "bfloat16": 1, "float16": 1}
_QUANTIZATION_STEPS = {"none": 0, "int8": 2, "nf4": 3}


def precision_steps(record: ServerRecord) -> int:
    """How far below full precision a server computes: 0 for float32, 1 for 16-bit, 2 for int8, 3 for nf4."""
    quantization = _QUANTIZATION_STEPS.get(record.quantization, 3)
    return quantization if quantization else _PRECISION_STEPS.get(record.dtype, 1)


@dataclass(frozen=True)
class CostModel:
    """Per-route inputs of the edge cost: what was measured, and how many tokens the session needs."""

    stats: PeerStats | None = None
    need_tokens: int = 0
    calibration: float = 1.0
    prefer_full_precision: bool = False

    @classmethod
    def for_records(cls, stats: PeerStats | None, records: list[ServerRecord], need_tokens: int = 0,
                    prefer_full_precision: bool = False) -> CostModel:
        calibration = stats.calibration(records) if stats is not None else 1.0
        return cls(stats, need_tokens, calibration, prefer_full_precision)

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
        penalty = PRECISION_PENALTY * precision_steps(record) if self.prefer_full_precision else 0.0
        return ServerCost(rtt, block_seconds, 1 + max(record.queue_depth, 0), short_of_cache, penalty)


@dataclass(frozen=True)
class ServerCost:
    """The edge cost of one server's spans, from inputs fixed for one route search."""

    rtt: float
    block_seconds: float
    load: int  # 1 + the requests queued ahead: each one is computed before ours
    short_of_cache: bool
    precision_penalty: float = 0.0  # per block, so that a less precise server is avoided for every block it can be

    def span_seconds(self, blocks: int) -> float:
        cost = self.rtt + blocks * (self.block_seconds * self.load + self.precision_penalty)
        if self.short_of_cache:
            cost += CACHE_PENALTY
        return cost
