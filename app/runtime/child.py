"""A `meadow ...` child read by core.child_output.ChildOutput, its output re-emitted as queued Qt signals.

ChildOutput calls back on its reader threads; Qt queues these signals to receivers in the GUI thread."""
from __future__ import annotations

import subprocess
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

from core.child_output import STDERR_LINES, ChildOutput
from core.events import Event
from core.launcher import spawn, stop_group


class JsonLineChild(QObject):
    """Spawns `meadow <args>` through core.launcher: `event_received` per lifecycle event (core.events),
    `answer_received` per other JSON object on stdout (a `--json` answer), then `finished` once it exited."""

    event_received = Signal(object)  # a core.events.Event
    answer_received = Signal(dict)
    finished = Signal(int, str)  # exit code, the last stderr lines

    def __init__(self, args: list[str], env: Mapping[str, str] | None = None, parent: QObject | None = None,
                 thread_prefix: str = "meadow-runtime", stderr_lines: int = STDERR_LINES):
        super().__init__(parent)
        self.args = list(args)
        self.env = env
        self.thread_prefix = thread_prefix  # names this child's threads, which tests wait on
        self.stderr_lines = stderr_lines
        self.process: subprocess.Popen[str] | None = None
        self.stderr_tail: deque[str] = deque(maxlen=stderr_lines)
        self.cancelled = False
        self._listened = True

    def start(self) -> None:
        self.process = spawn(self.args, env=self.env)
        output = ChildOutput(self.process, self.thread_prefix, on_event=self._on_event, on_answer=self._on_answer,
                             on_exit=self._on_exit, stderr_lines=self.stderr_lines)
        self.stderr_tail = output.stderr_tail
        output.start()

    def cancel(self) -> None:
        """Stop the child's process group off the GUI thread (it cleans up on SIGTERM); `finished` follows."""
        self.cancelled = True
        if self.process is not None:
            threading.Thread(target=stop_group, args=(self.process,), daemon=True,
                             name=f"{self.thread_prefix}-stop").start()

    def _on_event(self, event: Event) -> None:
        self._emit("event_received", event)

    def _on_answer(self, answer: dict[str, Any]) -> None:
        self._emit("answer_received", answer)

    def _on_exit(self, code: int) -> None:
        self._emit("finished", code, "\n".join(self.stderr_tail))

    def _emit(self, signal_name: str, *args: object) -> None:
        """Emit from a reader thread, until Qt deleted this object (its window closed) and nobody listens."""
        if not self._listened:
            return
        try:
            signal: SignalInstance = getattr(self, signal_name)
            signal.emit(*args)
        except RuntimeError:  # "Internal C++ object already deleted"
            self._listened = False
