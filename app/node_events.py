"""The one adapter from the node's server-sent events (GET /api/events) to Qt signals.

Events are parsed into the models of core.node.contract, the declaration the node serializes from, so a field
the node renamed fails here, loudly, instead of deep inside a widget. Every stream starts with the node's current
status, and the node pushes its status whenever it changes: the app does not poll. The stream reconnects by
itself; while it is down, `disconnected` says why.
"""
from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QNetworkReply

from app.api_client import NodeConnection, network_message
from app.sse import SseParser
from core.events import ServingChanged, SettingsChanged
from core.node.contract import StatusChanged, parse_node_event

logger = logging.getLogger(__name__)


class NodeEvents(QObject):
    status_received = Signal(object)  # core.node.contract.NodeStatus
    serving_changed = Signal(object)  # ServingChanged
    settings_changed = Signal(object)  # SettingsChanged
    disconnected = Signal(str)  # why the stream ended (a message for the user); it reconnects by itself

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
            message = network_message(reply)
            reply.deleteLater()
            self.disconnected.emit(message)
        self._reconnect.start()

    def _dispatch(self, data: str) -> None:
        try:
            event = parse_node_event(data)
        except ValueError:
            logger.exception("A node event that breaks the contract: %r", data)
            return
        if isinstance(event, StatusChanged):
            self.status_received.emit(event.status)
        elif isinstance(event, ServingChanged):
            self.serving_changed.emit(event)
        elif isinstance(event, SettingsChanged):
            self.settings_changed.emit(event)
