"""The one adapter from the node's server-sent events (GET /api/events) to Qt signals.

Events are parsed into core.events' typed dataclasses (the catalogue the node emits from), so a field
the node renamed fails here, loudly, instead of deep inside a widget. The stream reconnects by itself.
"""
from __future__ import annotations

import json
import logging

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QNetworkReply

from app.api_client import NodeConnection
from app.sse import SseParser
from core.events import Event, ServingChanged, SettingsChanged, event_from_object

logger = logging.getLogger(__name__)


def parse_node_event(data: str) -> Event | None:
    """The typed event of one SSE data payload; None for events this app does not know (ValueError: malformed)."""
    payload = json.loads(data)
    return event_from_object(payload) if isinstance(payload, dict) else None


class NodeEvents(QObject):
    serving_changed = Signal(object)  # ServingChanged
    settings_changed = Signal(object)  # SettingsChanged

    def __init__(self, api: NodeConnection, reconnect_ms: int = 2000, parent: QObject | None = None):
        super().__init__(parent)
        self.api = api
        self._reply: QNetworkReply | None = None
        self._parser = SseParser()
        self._reconnect = QTimer(self, singleShot=True, interval=reconnect_ms)
        self._reconnect.timeout.connect(self.on_reconnect_due)
        api.endpoint_changed.connect(self.on_endpoint_changed)

    def start(self) -> None:
        if self.api.connected and self._reply is None:
            self._parser = SseParser()
            self._reply = self.api.send("GET", "/api/events")
            self._reply.readyRead.connect(self.on_ready_read)
            self._reply.finished.connect(self.on_stream_ended)

    def stop(self) -> None:
        self._reconnect.stop()
        reply, self._reply = self._reply, None
        if reply is not None:
            reply.finished.disconnect(self.on_stream_ended)
            reply.abort()
            reply.deleteLater()

    def on_endpoint_changed(self) -> None:
        self.stop()
        self.start()

    def on_reconnect_due(self) -> None:
        self.start()

    def on_ready_read(self) -> None:
        if self._reply is None:
            return
        for data in self._parser.feed(bytes(self._reply.readAll().data())):
            self._dispatch(data)

    def on_stream_ended(self) -> None:
        reply, self._reply = self._reply, None
        if reply is not None:
            logger.debug("Node event stream ended (%s); reconnecting", reply.errorString())
            reply.deleteLater()
        self._reconnect.start()

    def _dispatch(self, data: str) -> None:
        try:
            event = parse_node_event(data)
        except (ValueError, TypeError):
            logger.exception("Unreadable node event %r", data)
            return
        if isinstance(event, ServingChanged):
            self.serving_changed.emit(event)
        elif isinstance(event, SettingsChanged):
            self.settings_changed.emit(event)
