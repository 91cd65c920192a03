"""A small priority scheduler in front of the server's single compute thread.

Tasks run one at a time (torch already uses every core for one step), lowest priority value first and in
arrival order within a priority: one-token decode steps before prefills, prefills before stateless
forwards. So a bulk rpc_forward or a long prefill (split into chunks by the servicer) delays another
session's decode step by at most one task, not by its whole length.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from enum import IntEnum
from typing import Any

logger = logging.getLogger(__name__)


class Priority(IntEnum):
    DECODE = 0  # an inference step of one token
    PREFILL = 1  # an inference step (or a chunk of one) of several tokens
    FORWARD = 2  # a stateless rpc_forward


class SchedulerClosed(RuntimeError):
    """The scheduler was shut down before the task ran."""


class ComputeScheduler:
    """Runs submitted functions on one thread, by priority."""

    def __init__(self, name: str = "meadow-compute"):
        # (priority, order, function, args, future); the sentinel that stops the thread has priority -1
        self._tasks: queue.PriorityQueue[tuple[int, int, Any, tuple[Any, ...], Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        """Tasks waiting to run (not counting the one running)."""
        return self._tasks.qsize()

    def submit(self, priority: Priority, function: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        if self._closed:
            future.set_exception(SchedulerClosed("the server is shutting down"))
            return future
        self._tasks.put((int(priority), next(self._order), function, args, future))
        return future

    async def run(self, priority: Priority, function: Callable[..., Any], *args: Any) -> Any:
        """Run `function(*args)` on the compute thread and await its result."""
        return await asyncio.wrap_future(self.submit(priority, function, *args))

    def _work(self) -> None:
        while True:
            _, _, function, args, future = self._tasks.get()
            if function is None:
                return
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function(*args))
                except BaseException as error:  # noqa: BLE001 - handed to the awaiting caller
                    future.set_exception(error)
            del function, args, future  # while idle, pin no tensors or caches of the last task

    def shutdown(self, wait: bool = True) -> None:
        """Fail the waiting tasks, let the running one finish, stop the thread."""
        self._closed = True
        while True:
            try:
                _, _, _, _, future = self._tasks.get_nowait()
            except queue.Empty:
                break
            if future is not None and future.set_running_or_notify_cancel():
                future.set_exception(SchedulerClosed("the server is shutting down"))
        self._tasks.put((-1, -1, None, (), None))
        if wait:
            self._thread.join()
