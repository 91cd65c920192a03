"""One app per MEADOW_HOME: a second `meadow app` asks the first to show its window, then exits."""
from __future__ import annotations

import hashlib
import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from core.paths import meadow_home

logger = logging.getLogger(__name__)

SHOW = b"show\n"


def instance_name() -> str:
    """A local socket name unique to this data dir (two MEADOW_HOMEs may each run an app)."""
    return "meadow-app-" + hashlib.sha256(str(meadow_home().resolve()).encode()).hexdigest()[:16]


class SingleInstance(QObject):
    activation_requested = Signal()

    def __init__(self, name: str | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name or instance_name()
        self.server: QLocalServer | None = None

    def notify_running(self, timeout_ms: int = 1000) -> bool:
        """Ask a running app to show itself; False when none answers."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(SHOW)
        socket.flush()
        socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        return True

    def listen(self) -> bool:
        """Become the running app; the socket left by a crashed one is removed first."""
        QLocalServer.removeServer(self.name)
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self.on_new_connection)
        if not self.server.listen(self.name):
            logger.warning("Cannot listen on %s: %s", self.name, self.server.errorString())
            return False
        return True

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    def on_new_connection(self) -> None:
        assert self.server is not None
        while (socket := self.server.nextPendingConnection()) is not None:
            socket.readyRead.connect(self.on_ready_read)
            socket.disconnected.connect(socket.deleteLater)

    def on_ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket) and SHOW.strip() in bytes(socket.readAll().data()):
            self.activation_requested.emit()
