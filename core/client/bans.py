"""Servers that failed are avoided for a while, longer on each repeat; busy ones only briefly."""
from __future__ import annotations

import threading
import time


class BanList:
    def __init__(self, base_seconds: float, max_seconds: float = 600.0):
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self._until: dict[str, float] = {}
        self._strikes: dict[str, int] = {}
        self._lock = threading.Lock()

    def ban(self, peer_id: str) -> float:
        """Ban `peer_id`; returns the ban's length in seconds (doubles with each repeat)."""
        with self._lock:
            strikes = self._strikes.get(peer_id, 0)
            seconds = min(self.base_seconds * 2.0 ** strikes, self.max_seconds)
            self._strikes[peer_id] = strikes + 1
            self._until[peer_id] = time.monotonic() + seconds
            return seconds

    def ban_briefly(self, peer_id: str, seconds: float) -> None:
        """Avoid `peer_id` for `seconds` without a strike (it is busy, not faulty); never shortens a ban."""
        with self._lock:
            self._until[peer_id] = max(self._until.get(peer_id, 0.0), time.monotonic() + seconds)

    def banned(self) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            return frozenset(peer for peer, until in self._until.items() if until > now)
