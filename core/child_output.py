"""The one reader of a Meadow child's output: typed events from its stdout, the last lines of its stderr.

The node's server supervisor, the terminal chat's node, `runtime check`, the app (through a thin Qt wrapper)
and the tests read their children through it. Two daemon threads per child read to the end of both pipes, so a
child never blocks on a full pipe even when nobody listens any more.

Events go to `on_event` when one is given; otherwise they queue for `wait_for`. JSON objects that are no
event (a `--json` answer) go to `on_answer`. `on_exit` gets the exit code once both pipes are read.
"""
from __future__ import annotations

import logging
import queue
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from core.errors import UserFacingError
from core.events import Event, Failed, event_from_object, parse_json_object
from core.launcher import child_command

logger = logging.getLogger(__name__)

STDERR_LINES = 20
EventType = TypeVar("EventType", bound=Event)


class ChildFailedError(UserFacingError):
    """The child reported an error event, or exited before the awaited event (its stderr tail says why)."""


class ChildOutput:
    def __init__(self, process: subprocess.Popen[str], name: str = "meadow-child",
                 on_event: Callable[[Event], None] | None = None,
                 on_answer: Callable[[dict[str, Any]], None] | None = None,
                 on_exit: Callable[[int], None] | None = None, stderr_lines: int = STDERR_LINES):
        self.process = process
        self.name = name  # names the reader threads, which tests wait on
        self.stderr_tail: deque[str] = deque(maxlen=stderr_lines)
        self.exit_code: int | None = None
        self._on_event, self._on_answer, self._on_exit = on_event, on_answer, on_exit
        self._events: queue.Queue[Event] = queue.Queue()
        self._stderr_done = threading.Event()
        self._exited = threading.Event()

    def start(self) -> ChildOutput:
        """Start the reader threads (a child spawned with stderr=None shares ours: no stderr thread)."""
        if self.process.stderr is not None:
            threading.Thread(target=self._read_stderr, daemon=True, name=f"{self.name}-stderr").start()
        else:
            self._stderr_done.set()
        threading.Thread(target=self._read_stdout, daemon=True, name=f"{self.name}-stdout").start()
        return self

    def wait_for(self, event_type: type[EventType], timeout: float) -> EventType:
        """The next event of `event_type` (earlier ones of other types are dropped).

        Raises ChildFailedError when the child reports an error or exits first, TimeoutError when the time runs
        out; both carry the child's last stderr lines."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self._events.get(timeout=min(left, 0.2))
            except queue.Empty:
                if self._exited.is_set() and self._events.empty():
                    raise ChildFailedError(f"{self._command()} exited with code {self.exit_code} before its "
                                           f"{event_type.__name__} event: {self.stderr_text()}") from None
                continue
            if isinstance(event, event_type):
                return event
            if isinstance(event, Failed):
                raise ChildFailedError(event.message)
        raise TimeoutError(f"{self._command()}: no {event_type.__name__} event in {timeout:.0f} s "
                           f"(exit code {self.process.poll()}): {self.stderr_text()}")

    def wait_exit(self, timeout: float) -> int:
        """The exit code, once the child exited and both pipes are read (raises TimeoutError)."""
        if not self._exited.wait(timeout):
            raise TimeoutError(f"{self._command()} still runs after {timeout:.0f} s")
        assert self.exit_code is not None
        return self.exit_code

    def stderr_text(self, lines: int = 5) -> str:
        """The last `lines` stderr lines on one line, or a placeholder."""
        if self.process.stderr is None:
            return "its stderr is ours: see the messages above"
        return " | ".join(list(self.stderr_tail)[-lines:]) or "(no output on stderr)"

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:  # to the end, even when nobody listens: the child never blocks
            data = parse_json_object(line)
            if data is not None:
                self._deliver(data)
        code = self.process.wait()
        self._stderr_done.wait(5.0)
        self.exit_code = code
        self._exited.set()
        if self._on_exit is not None:
            self._on_exit(code)

    def _deliver(self, data: dict[str, Any]) -> None:
        try:
            event = event_from_object(data)
        except ValueError as error:  # a child of this very version sent it: a bug, but not ours to crash on
            logger.error("%s sent a malformed event %s: %s", self._command(), data, error)
            return
        if event is None:
            if "event" not in data and self._on_answer is not None:
                self._on_answer(data)
        elif self._on_event is not None:
            self._on_event(event)
        else:
            self._events.put(event)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        try:
            for line in self.process.stderr:
                self.stderr_tail.append(line.rstrip("\n"))
        finally:
            self._stderr_done.set()

    def _command(self) -> str:
        """`meadow <args>` as the user would type it (without the launcher's interpreter prefix)."""
        args = self.process.args
        words = [str(arg) for arg in args] if isinstance(args, list | tuple) else [str(args)]
        return " ".join(["meadow", *words[len(child_command()):]])
