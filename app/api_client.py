"""Asynchronous calls to the node's local HTTP API, on Qt's network stack.

QNetworkAccessManager runs requests without blocking the GUI thread and reports on it through signals;
every call returns an ApiCall whose `succeeded` or `failed` signal fires exactly once. A call that names the
answer's model (core.node.contract) gets it parsed: an answer that breaks the contract is a failure.
"""
from __future__ import annotations

import json
import logging

from pydantic import BaseModel, ValidationError
from PySide6.QtCore import QByteArray, QObject, QTimer, QUrl, Signal
from PySide6.QtNetwork import QNetworkAccessManager, QNetworkProxy, QNetworkReply, QNetworkRequest

logger = logging.getLogger(__name__)

CONTROL_TIMEOUT_MS = 120_000  # stopping a server waits for its sessions to drain (server.drain_timeout)


class ApiCall(QObject):
    """One request; `succeeded` with the answer (its `answer` model, or the decoded JSON), or `failed(str)` with a
    message for the user."""

    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, answer: type[BaseModel] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.answer = answer

    def on_finished(self, reply: QNetworkReply) -> None:
        status = reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute)
        body = bytes(reply.readAll().data())
        if status is not None and status >= 400:
            self.failed.emit(error_message(body, status))
        elif status is None or reply.error() != QNetworkReply.NetworkError.NoError:
            self.failed.emit(network_message(reply))
        else:
            self._succeed(body, status)
        reply.deleteLater()
        self.deleteLater()

    def _succeed(self, body: bytes, status: int) -> None:
        try:
            answer = self.answer.model_validate_json(body) if self.answer else json.loads(body) if body else {}
        except ValidationError as error:
            logger.error("The node's answer breaks the contract: %s", error)
            self.failed.emit(f"The node's answer is not what this app expects (is it another version?): {error}")
        except json.JSONDecodeError:
            self.failed.emit(f"The node sent an answer that is not JSON (HTTP {status})")
        else:
            self.succeeded.emit(answer)


def error_message(body: bytes, status: int) -> str:
    """The message of the node's `{"error": {"message": ...}}` body, or a generic one."""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = ""
    return str(message) if message else f"The node answered HTTP {status}"


def network_message(reply: QNetworkReply) -> str:
    if reply.error() == QNetworkReply.NetworkError.ConnectionRefusedError:
        url = reply.url()
        return f"The Meadow node does not answer at {url.scheme()}://{url.authority()}; is it running?"
    if reply.error() == QNetworkReply.NetworkError.OperationCanceledError:
        return "The request to the node timed out or was cancelled"
    return f"Could not reach the Meadow node: {reply.errorString()}"


class NodeConnection(QObject):
    """The app's connection to the node: its address and token, and asynchronous requests to it on Qt's network
    stack (core.node.local_node.NodeClient is the terminal commands' blocking client)."""

    endpoint_changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.network = QNetworkAccessManager(self)
        self.network.setProxy(QNetworkProxy(QNetworkProxy.ProxyType.NoProxy))  # the node is on loopback, always
        self.base_url = ""
        self._token = ""

    def set_endpoint(self, base_url: str, token: str) -> None:
        self.base_url, self._token = base_url.rstrip("/"), token
        self.endpoint_changed.emit()

    @property
    def connected(self) -> bool:
        return bool(self.base_url)

    def get(self, path: str, answer: type[BaseModel] | None = None) -> ApiCall:
        return self.call("GET", path, answer=answer)

    def post(self, path: str, body: object | None = None, answer: type[BaseModel] | None = None) -> ApiCall:
        return self.call("POST", path, body, answer)

    def patch(self, path: str, body: object, answer: type[BaseModel] | None = None) -> ApiCall:
        return self.call("PATCH", path, body, answer)

    def call(self, method: str, path: str, body: object | None = None,
             answer: type[BaseModel] | None = None) -> ApiCall:
        call = ApiCall(answer, self)
        if not self.connected:
            # Fire after the caller has connected its slots.
            def fail() -> None:
                call.failed.emit("The Meadow node is not running yet")
                call.deleteLater()

            QTimer.singleShot(0, fail)
            return call
        reply = self.send(method, path, body, CONTROL_TIMEOUT_MS)
        reply.finished.connect(lambda: call.on_finished(reply))
        return call

    def send(self, method: str, path: str, body: object | None = None, timeout_ms: int = 0) -> QNetworkReply:
        """The raw reply of a request (streams read it as it arrives); timeout_ms 0 waits forever."""
        request = QNetworkRequest(QUrl(self.base_url + path))
        request.setRawHeader(b"Authorization", f"Bearer {self._token}".encode())
        request.setTransferTimeout(timeout_ms)
        data = QByteArray()
        if body is not None:
            request.setHeader(QNetworkRequest.KnownHeaders.ContentTypeHeader, "application/json")
            data = QByteArray(json.dumps(body).encode())
        return self.network.sendCustomRequest(request, method.encode(), data)
