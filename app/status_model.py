"""The node's latest /api/status, refreshed on a timer and on every node event."""
from __future__ import annotations

import logging
import time
from collections import deque

from PySide6.QtCore import QObject, QTimer, Signal

from app.api_client import NodeConnection
from app.node_events import NodeEvents

logger = logging.getLogger(__name__)

SPEED_WINDOW_S = 20.0


class StatusModel(QObject):
    """Holds `status` (the last answer, or None while the node does not answer) and `error`."""

    status_changed = Signal(object)  # dict | None

    def __init__(self, api: NodeConnection, events: NodeEvents, poll_ms: int = 2000, parent: QObject | None = None):
        super().__init__(parent)
        self.api = api
        self.status: dict | None = None
        self.error = ""
        self._in_flight = False
        self._again = False
        self._samples: deque[tuple[float, int]] = deque()
        self._timer = QTimer(self, interval=poll_ms)
        self._timer.timeout.connect(self.refresh)
        events.serving_changed.connect(self.refresh)
        events.settings_changed.connect(self.refresh)

    def start(self) -> None:
        self._timer.start()
        self.refresh()

    def stop(self) -> None:
        self._timer.stop()

    def refresh(self, *_: object) -> None:
        """Ask for a fresh status; a request already in flight is followed by one more."""
        if self._in_flight:
            self._again = True
            return
        self._in_flight = True
        call = self.api.get("/api/status")
        call.succeeded.connect(self.on_status)
        call.failed.connect(self.on_failure)

    @property
    def served_tokens_per_second(self) -> float | None:
        """Tokens our server processed per second over the last SPEED_WINDOW_S (None before two samples)."""
        if len(self._samples) < 2:
            return None
        (first_time, first_tokens), (last_time, last_tokens) = self._samples[0], self._samples[-1]
        return max(0, last_tokens - first_tokens) / (last_time - first_time) if last_time > first_time else None

    def on_status(self, status: dict) -> None:
        self.status, self.error = status, ""
        self._sample(status["serving"].get("tokens_served"))
        self.status_changed.emit(status)
        self._done()

    def on_failure(self, message: str) -> None:
        changed = self.status is not None or self.error != message
        self.status, self.error = None, message
        self._samples.clear()
        if changed:
            self.status_changed.emit(None)
        self._done()

    def _sample(self, tokens: int | None) -> None:
        now = time.monotonic()
        if tokens is None or (self._samples and tokens < self._samples[-1][1]):
            self._samples.clear()  # the server restarted: its counters did too
        if tokens is not None:
            self._samples.append((now, tokens))
        while self._samples and now - self._samples[0][0] > SPEED_WINDOW_S:
            self._samples.popleft()

    def _done(self) -> None:
        self._in_flight = False
        if self._again:
            self._again = False
            self.refresh()
