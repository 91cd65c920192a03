"""Fan-out of node events to the API's server-sent event streams.

Events are published from any thread (the supervisor's reader, API handlers); each subscriber is an
asyncio queue on the API's loop. A subscriber that stops reading loses its oldest events, never blocks
the publisher.
"""
from __future__ import annotations

import asyncio
import threading

from core.events import Event

_QUEUE_LIMIT = 256


class EventHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]] = []

    def publish(self, event: Event) -> None:
        """Send `event` to every subscriber, from any thread."""
        line = event.to_json()
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            try:
                loop.call_soon_threadsafe(_put_dropping_oldest, queue, line)
            except RuntimeError:  # its loop has closed: the stream is gone
                self.unsubscribe(queue)

    def has_subscribers(self) -> bool:
        with self._lock:
            return bool(self._subscribers)

    def subscribe(self) -> asyncio.Queue[str]:
        """A queue of JSON event lines for the calling coroutine's loop."""
        queue: asyncio.Queue[str] = asyncio.Queue(_QUEUE_LIMIT)
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        with self._lock:
            self._subscribers = [(loop, item) for loop, item in self._subscribers if item is not queue]


def _put_dropping_oldest(queue: asyncio.Queue[str], line: str) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(line)
