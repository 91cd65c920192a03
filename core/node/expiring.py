"""A value read at most once per stated interval, so that a status built often stays cheap.

The node's status reuses its expensive reads: NVML (core.node.status_report), the DHT's peer list and block
records (core.node.swarm_view) and its server child's rpc_info (core.node.server_stats).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class Expiring(Generic[Value]):
    """The last value read for a key, reused for `seconds`; a read for another key replaces it."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entry: tuple[Hashable, float, Value] | None = None  # key, read at, value

    def get(self, key: Hashable, read: Callable[[], Value]) -> Value:
        """The cached value for `key` while it is fresh, else `read()` (run without the lock held)."""
        with self._lock:
            entry = self._entry
        if entry is not None and entry[0] == key and self._clock() - entry[1] < self.seconds:
            return entry[2]
        value = read()
        with self._lock:
            self._entry = (key, self._clock(), value)
        return value

    def forget(self) -> None:
        """Read anew next time (the thing read has changed, e.g. the server child restarted)."""
        with self._lock:
            self._entry = None
