"""Pushes the node's status on /api/events whenever it changes, so that clients need not poll.

While someone listens, the status is rebuilt every PUSH_SECONDS (its expensive parts are cached: see
core.node.status_report) and soon after the node nudges (serving, pause or settings changed); it is published
only when something other than the uptime differs from the last one sent. A new listener gets the current status
as its stream's first event (`first_for_new_listener`). Memory is reported in whole MiB (core.node.status_report),
so that its noise does not count as a change.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from core.node.contract import NodeStatus, StatusChanged
from core.node.event_hub import EventHub

logger = logging.getLogger(__name__)

PUSH_SECONDS = 2.0  # how stale counters (tokens served, memory, a pause's countdown) may get on a listener's screen
SETTLE_SECONDS = 0.25  # nudges within this time make one status (loading a model nudges once per tensor)


class StatusPublisher:
    def __init__(self, build: Callable[[], NodeStatus], hub: EventHub, period: float = PUSH_SECONDS):
        self._build = build
        self._hub = hub
        self._period = period
        self._nudged = threading.Event()
        self._stopped = threading.Event()
        self._last: dict[str, Any] | None = None
        self._lock = threading.Lock()  # one comparison and publication at a time
        self._thread = threading.Thread(target=self._run, daemon=True, name="meadow-status-publisher")

    def start(self) -> None:
        self._thread.start()

    def nudge(self) -> None:
        """Something changed: check the status now rather than at the next period."""
        self._nudged.set()

    def first_for_new_listener(self) -> NodeStatus | None:
        """The status for a listener that just subscribed: returned when it equals what the others have, else
        published to everyone (the new listener included) and None."""
        status = self._build()
        return None if self._publish_if_changed(status) else status

    def stop(self) -> None:
        self._stopped.set()
        self._nudged.set()
        if self._thread.is_alive():
            self._thread.join(10.0)

    def _run(self) -> None:
        while not self._stopped.is_set():
            if self._nudged.wait(self._period):
                self._stopped.wait(SETTLE_SECONDS)
            self._nudged.clear()
            if self._stopped.is_set() or not self._hub.has_subscribers():
                continue
            try:
                self._publish_if_changed(self._build())
            except Exception:  # a failed build must not end the pushes
                logger.exception("Building the node's status failed")

    def _publish_if_changed(self, status: NodeStatus) -> bool:
        compared = status.model_dump(exclude={"node": {"uptime_s"}})
        with self._lock:
            if compared == self._last:
                return False
            self._last = compared
            self._hub.publish(StatusChanged(status=status))
            return True
