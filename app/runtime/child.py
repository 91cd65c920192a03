"""A `meadow ...` child whose JSON lines (events, or a --json answer) are read on a thread and reach the GUI
thread as queued signals."""
from __future__ import annotations

import subprocess
import threading
from collections import deque
from collections.abc import Mapping

from PySide6.QtCore import QObject, Signal, SignalInstance

from core.events import parse_json_object
from core.launcher import spawn, stop_group

STDERR_LINES = 20


class JsonLineChild(QObject):
    """Spawns `meadow <args>` through core.launcher; `received` per JSON object on stdout, then `finished` once it
    exited.

    Both signals are emitted from reader threads; Qt queues them to receivers that live in the GUI thread."""

    received = Signal(dict)
    finished = Signal(int, str)  # exit code, the last stderr lines

    def __init__(self, args: list[str], env: Mapping[str, str] | None = None, parent: QObject | None = None,
                 thread_prefix: str = "meadow-runtime", stderr_lines: int = STDERR_LINES):
        super().__init__(parent)
        self.args = list(args)
        self.env = env
        self.thread_prefix = thread_prefix  # names this child's threads, which tests wait on
        self.process: subprocess.Popen | None = None
        self.stderr_tail: deque[str] = deque(maxlen=stderr_lines)
        self.cancelled = False

    def start(self) -> None:
        self.process = spawn(self.args, env=self.env)
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True,
                                               name=f"{self.thread_prefix}-stderr")
        self._stderr_reader.start()
        threading.Thread(target=self._read_stdout, daemon=True, name=f"{self.thread_prefix}-stdout").start()

    def cancel(self) -> None:
        """Stop the child's process group off the GUI thread (it cleans up on SIGTERM); `finished` follows."""
        self.cancelled = True
        if self.process is not None:
            threading.Thread(target=stop_group, args=(self.process,), daemon=True,
                             name=f"{self.thread_prefix}-stop").start()

    def _read_stdout(self) -> None:
        process = self.process
        assert process is not None and process.stdout is not None
        listened = True
        for text in process.stdout:  # read to the end even when nobody listens, so the child never blocks
            found = parse_json_object(text)
            if found is not None and listened:
                listened = self._emit(self.received, found)
        code = process.wait()
        self._stderr_reader.join(timeout=5)
        if listened:
            self._emit(self.finished, code, "\n".join(self.stderr_tail))

    @staticmethod
    def _emit(signal: SignalInstance, *args: object) -> bool:
        """Emit from a reader thread; False once Qt deleted this object (its window closed), so nobody listens."""
        try:
            signal.emit(*args)
        except RuntimeError:
            return False
        return True

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_tail.append(line.rstrip("\n"))
