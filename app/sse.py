"""Incremental parser of server-sent events (`data: ...` lines, a blank line ends an event)."""
from __future__ import annotations


class SseParser:
    """Feed it bytes as they arrive; it returns the data of every event completed so far.

    Comment lines (`: keepalive`) and fields other than `data` are skipped; several `data` lines of one
    event are joined with newlines, as the SSE specification says.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        self._buffer += chunk
        events: list[str] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            line = self._buffer[:end].rstrip(b"\r").decode("utf-8", errors="replace")
            self._buffer = self._buffer[end + 1:]
            if not line:
                if self._data:
                    events.append("\n".join(self._data))
                    self._data = []
            elif line.startswith("data:"):
                self._data.append(line[5:].removeprefix(" "))
        return events
