"""What a failed step means: the server is busy (try another one soon), leaving, or faulty."""
from __future__ import annotations

from core.errors import RemoteCallError
from core.wire import BUSY, DRAINING


class ServerBusyError(RemoteCallError):
    """The server's cache or queue is full ("busy:" errors): route around it for a short while."""


class ServerLeavingError(RemoteCallError):
    """The server is draining or ended the stream: replace it quietly."""


def classify(peer_id: str, error: BaseException) -> RemoteCallError:
    """The RemoteCallError subclass for an exception raised while stepping through `peer_id`."""
    if isinstance(error, RemoteCallError):
        return error
    text = str(error)
    if BUSY in text:
        return ServerBusyError(f"server {peer_id} is busy ({text})")
    if DRAINING in text:
        return ServerLeavingError(f"server {peer_id} is shutting down ({text})")
    if isinstance(error, StopAsyncIteration):
        return ServerLeavingError(f"server {peer_id} ended the session's stream")
    return RemoteCallError(f"server {peer_id} failed a step ({type(error).__name__}: {text})")
