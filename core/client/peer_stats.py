"""What this client has measured about each server: round-trip time and compute time per block.

Kept per peer as moving averages, shared by every session of one client, so that routes learn which
servers are fast in practice, not only which ones announce themselves as fast.
"""
from __future__ import annotations

import statistics
import threading
from collections import deque

from core.swarm.records import ServerRecord

SMOOTHING = 0.3  # weight of a new ping in the round-trip moving average
STEP_SAMPLES = 9  # step times are the median of this many recent ones: one hiccup must not condemn a server
UNREACHABLE_RTT = 30.0  # seconds charged for a server that did not answer its last ping
EXPLORATION = 0.8  # an unmeasured server is guessed a bit faster than the measured ones, so it gets tried


def _average(old: float | None, sample: float) -> float:
    return sample if old is None else (1 - SMOOTHING) * old + SMOOTHING * sample


class PeerStats:
    """Thread-safe moving averages of round trips (pings) and moving medians of per-block step times
    (real decode steps)."""

    def __init__(self) -> None:
        self._rtt: dict[str, float] = {}
        self._block_seconds: dict[str, deque[float]] = {}
        self._unreachable: set[str] = set()
        self._lock = threading.Lock()

    def observe_rtt(self, peer_id: str, seconds: float) -> None:
        with self._lock:
            self._unreachable.discard(peer_id)
            self._rtt[peer_id] = _average(self._rtt.get(peer_id), seconds)

    def observe_unreachable(self, peer_id: str) -> None:
        with self._lock:
            self._unreachable.add(peer_id)

    def observe_step(self, peer_id: str, blocks: int, seconds: float) -> None:
        """A one-token step through `blocks` blocks of `peer_id` took `seconds`, network included."""
        with self._lock:
            self._unreachable.discard(peer_id)
            if peer_id in self._rtt and seconds < self._rtt[peer_id]:
                self._rtt[peer_id] = seconds  # a first ping also pays for dialing; a step bounds the real round trip
            compute = max(seconds - self._rtt.get(peer_id, 0.0), 0.0) / max(blocks, 1)
            self._block_seconds.setdefault(peer_id, deque(maxlen=STEP_SAMPLES)).append(compute)

    def rtt(self, peer_id: str) -> float | None:
        with self._lock:
            if peer_id in self._unreachable:
                return UNREACHABLE_RTT
            return self._rtt.get(peer_id)

    def measured_block_seconds(self, peer_id: str) -> float | None:
        with self._lock:
            samples = self._block_seconds.get(peer_id)
            return statistics.median(samples) if samples else None

    def known_rtt(self) -> dict[str, float]:
        with self._lock:
            return dict(self._rtt)

    def block_seconds(self, record: ServerRecord, calibration: float) -> float:
        """Measured seconds per block for one token, or the announced throughput scaled by `calibration`."""
        measured = self.measured_block_seconds(record.peer_id)
        if measured is not None:
            return measured
        return EXPLORATION * calibration / max(record.throughput, 1e-6)

    def calibration(self, records: list[ServerRecord]) -> float:
        """How many real seconds one announced 'second per block' took on the servers measured so far
        (1.0 until something is measured): turns announced throughputs into comparable estimates."""
        ratios = [seconds * record.throughput for record in records if record.throughput > 0
                  and (seconds := self.measured_block_seconds(record.peer_id)) is not None]
        return statistics.median(ratios) if ratios else 1.0
