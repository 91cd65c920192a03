"""Posts the app's own pause detectors to the node (POST /api/pause/signals).

On Windows the node runs in WSL2, which cannot see the desktop, so the app checks for a fullscreen game
itself and reports it on a timer; elsewhere the node's own detectors run and there is nothing to post.
"""
from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QObject, QTimer

from app.api_client import NodeConnection
from core.pause.app_snapshot import AppSnapshot
from core.pause.signals import Detector

logger = logging.getLogger(__name__)

SOURCE = "windows-app"
INTERVAL_MS = 5_000


def platform_detectors() -> list[Detector]:
    """The detectors this OS needs the app to run (core.pause detectors: `name`, `detect() -> Signal`)."""
    if sys.platform != "win32":
        return []
    from core.pause.windows import WindowsFullscreenDetector  # ctypes only; nothing of the node's stack

    return [WindowsFullscreenDetector()]


class PauseReporter(QObject):
    def __init__(self, api: NodeConnection, detectors: list[Detector], interval_ms: int = INTERVAL_MS,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.api = api
        self.detectors = detectors
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.report)

    def start(self) -> None:
        if self.detectors:
            self._timer.start()
            self.report()

    def stop(self) -> None:
        self._timer.stop()

    def report(self) -> None:
        signals = [signal for signal in (detector.detect() for detector in self.detectors) if signal.available]
        if not signals or not self.api.connected:
            return
        snapshot = AppSnapshot(SOURCE, tuple(signals))  # its default ttl outlives a few missed posts, not a crash
        call = self.api.post("/api/pause/signals", snapshot.to_json())
        call.failed.connect(lambda message: logger.warning("Could not post pause signals: %s", message))
