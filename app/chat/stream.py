"""One streamed chat completion from the node, read as it arrives on the GUI thread's event loop."""
from __future__ import annotations

import json
import logging
import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QNetworkReply, QNetworkRequest

from app.api_client import NodeConnection, error_message, network_message
from app.sse import SseParser

logger = logging.getLogger(__name__)


class ChatStream(QObject):
    """`delta(text)` for every piece of the answer, then exactly one of `finished(meta)` or `failed(message)`.

    meta: finish_reason, route (servers and their blocks), tokens_per_second (the node's figure, or ours
    from the arrival times when the node does not send one), seconds_to_first_token, stopped.
    """

    delta = Signal(str)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, api: NodeConnection, body: dict, parent: QObject | None = None):
        super().__init__(parent)
        self.api = api
        self.body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        self.text = ""
        self.meta: dict = {"route": [], "tokens_per_second": None}
        self._parser = SseParser()
        self._reply: QNetworkReply | None = None
        self._started = 0.0
        self._first: float | None = None
        self._pieces = 0
        self._done = False

    def start(self) -> None:
        self._started = time.monotonic()
        self._reply = self.api.send("POST", "/v1/chat/completions", self.body)
        self._reply.readyRead.connect(self.on_ready_read)
        self._reply.finished.connect(self.on_reply_finished)

    def stop(self) -> None:
        """Stop generating: closing the request makes the node cancel the generation."""
        if self._reply is not None and not self._done:
            self.meta["stopped"] = True
            self._finish()
            self._reply.abort()

    def on_ready_read(self) -> None:
        if self._reply is None or self._done or self._http_status() >= 400:
            return  # an error body is read whole when the reply finishes
        for data in self._parser.feed(bytes(self._reply.readAll().data())):
            if data == "[DONE]":
                self._finish()
                return
            self._chunk(json.loads(data))

    def on_reply_finished(self) -> None:
        reply = self._reply
        if reply is None:
            return
        reply.deleteLater()  # the network manager would keep every finished reply otherwise
        if self._done:
            return
        status = self._http_status()
        if status >= 400:
            self._fail(error_message(bytes(reply.readAll().data()), status))
        elif reply.error() != QNetworkReply.NetworkError.NoError:
            self._fail(network_message(reply))
        else:
            self._finish()  # the stream ended without [DONE]: keep what came

    def _chunk(self, chunk: dict) -> None:
        if "error" in chunk:
            self._fail(chunk["error"].get("message", "The swarm failed mid-answer"))
            return
        for choice in chunk.get("choices") or []:
            text = (choice.get("delta") or {}).get("content")
            if text:
                self._first = self._first or time.monotonic()
                self._pieces += 1
                self.text += text
                self.delta.emit(text)
            if choice.get("finish_reason"):
                self.meta["finish_reason"] = choice["finish_reason"]
        if isinstance(chunk.get("meadow"), dict):
            self.meta.update(chunk["meadow"])
        if chunk.get("usage"):
            self.meta["usage"] = chunk["usage"]

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        if self._first is not None:
            self.meta["seconds_to_first_token"] = round(self._first - self._started, 3)
            if not self.meta.get("tokens_per_second"):
                elapsed = time.monotonic() - self._first
                tokens = (self.meta.get("usage") or {}).get("completion_tokens", self._pieces)
                self.meta["tokens_per_second"] = tokens / elapsed if elapsed > 0 else None
        self.finished.emit(self.meta)

    def _fail(self, message: str) -> None:
        self._done = True
        self.failed.emit(message)

    def _http_status(self) -> int:
        status = self._reply.attribute(QNetworkRequest.Attribute.HttpStatusCodeAttribute) if self._reply else None
        return int(status or 0)
