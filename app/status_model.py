"""The node's latest status, as the node pushes it on its event stream (no polling).

`status` is the last NodeStatus received (None before the first); `stale` is True while the node does not answer,
with `error` saying why: the last values are then kept for display, marked as old.
"""
from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from app.node_events import NodeEvents
from core.node.contract import NodeStatus

logger = logging.getLogger(__name__)


class StatusModel(QObject):
    status_changed = Signal(object)  # NodeStatus | None; read `stale` and `error` too

    def __init__(self, events: NodeEvents, parent: QObject | None = None):
        super().__init__(parent)
        self.events = events
        self.status: NodeStatus | None = None
        self.stale = False
        self.error = ""
        events.status_received.connect(self.on_status)
        events.disconnected.connect(self.on_disconnected)

    def start(self) -> None:
        """Follow the node (its stream starts with the current status)."""
        self.events.start()

    def stop(self) -> None:
        self.events.stop()

    def on_status(self, status: NodeStatus) -> None:
        self.status, self.stale, self.error = status, False, ""
        self.status_changed.emit(status)

    def on_disconnected(self, message: str) -> None:
        """The node stopped answering: keep its last status, marked stale."""
        if self.stale and self.error == message:
            return
        self.stale, self.error = True, message
        self.status_changed.emit(self.status)

    def mark_stale(self, message: str) -> None:
        """The node is gone (its process ended) or being replaced: what we show is no longer current."""
        self.on_disconnected(message)
