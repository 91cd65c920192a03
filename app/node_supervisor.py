"""The app's supervisor of its `meadow node` child: start, attach, stop, restart, switch swarm.

A node already running for this MEADOW_HOME (core.node.api_token.read_node_info) is attached to, not
duplicated. The node's ready event is read on a thread and handed to the GUI thread as a queued signal;
the last stderr lines are kept for the error dialog.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections import deque
from enum import Enum
from pathlib import Path

import psutil
from PySide6.QtCore import QObject, QTimer, Signal

from core.events import parse_event
from core.launcher import spawn, stop_group
from core.node.api_token import read_node_info

logger = logging.getLogger(__name__)

STDERR_LINES = 40


class NodeState(Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"  # our own child answers its API
    ATTACHED = "attached"  # a node started by someone else (another app, the CLI) answers its API
    STOPPING = "stopping"
    FAILED = "failed"


class NodeSupervisor(QObject):
    state_changed = Signal(object)  # NodeState
    ready = Signal(str, str)  # API base URL, bearer token
    failed = Signal(str)  # a message for the user (the stderr tail is in `stderr_tail`)
    _child_event = Signal(object, object)  # (process, event dict) from a reader thread
    _child_exited = Signal(object)  # process, from a reader thread
    _stopped = Signal(object)  # the callable to run once a stop finished, from a stopping thread

    def __init__(self, extra_args: list[str] | None = None, serve: bool = True, ready_timeout_s: float = 180.0,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.extra_args = list(extra_args or [])
        self.serve = serve  # donate from the start; tests of swarm switching leave it off to save time
        self.state = NodeState.STOPPED
        self.swarm: str | None = None  # None: the public swarm
        self.new_swarm = True
        self.process: subprocess.Popen | None = None
        self.attached_pid: int | None = None
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_LINES)
        self.ready_timeout_s = ready_timeout_s
        self._child_event.connect(self.on_child_event)
        self._child_exited.connect(self.on_child_exited)
        self._stopped.connect(self.on_stopped)
        self._watch = QTimer(self, interval=2000)
        self._watch.timeout.connect(self.on_watch_attached)
        self._ready_deadline = QTimer(self, singleShot=True)
        self._ready_deadline.timeout.connect(self.on_ready_timeout)

    @property
    def owns_node(self) -> bool:
        return self.process is not None

    def attach_or_start(self, swarm: str | None = None, new_swarm: bool = True) -> None:
        """Attach to the node running for this MEADOW_HOME, or start one in `swarm`."""
        info = read_node_info()
        if info is not None and self.attach(info):
            return
        self.start(swarm, new_swarm)

    def attach(self, info: dict) -> bool:
        try:
            token = Path(info["token_file"]).read_text(encoding="ascii").strip()
        except (OSError, KeyError, TypeError):
            logger.warning("Cannot read the running node's API token; starting our own node")
            return False
        self.attached_pid = int(info["pid"])
        self._set_state(NodeState.ATTACHED)
        self._watch.start()
        self.ready.emit(info["api"], token)
        return True

    def start(self, swarm: str | None = None, new_swarm: bool = True) -> None:
        """Spawn `meadow node` in `swarm` (None: public), serving; ready arrives as a signal."""
        self.swarm, self.new_swarm = swarm, new_swarm
        self.stderr_tail.clear()
        process = spawn(self.command_args())
        self.process = process
        self._set_state(NodeState.STARTING)
        self._ready_deadline.start(int(self.ready_timeout_s * 1000))
        threading.Thread(target=self._read_stdout, args=(process,), daemon=True, name="meadow-node-stdout").start()
        threading.Thread(target=self._read_stderr, args=(process,), daemon=True, name="meadow-node-stderr").start()

    def command_args(self) -> list[str]:
        swarm = ["--swarm", self.swarm] if self.swarm else []
        if self.new_swarm:
            swarm.append("--new-swarm")
        return ["node", *swarm, *(["--serve"] if self.serve else []), *self.extra_args]

    def stop(self, then: object = None) -> None:
        """Stop the node (ours by its process group, an attached one by SIGTERM) off the GUI thread."""
        self._watch.stop()
        self._ready_deadline.stop()
        process, pid = self.process, self.attached_pid
        self.process, self.attached_pid = None, None
        self._set_state(NodeState.STOPPING)
        threading.Thread(target=self._stop_in_thread, args=(process, pid, then), daemon=True,
                         name="meadow-node-stop").start()

    def stop_and_wait(self, timeout: float = 30.0) -> None:
        """Stop our own node, blocking (used at quit, when nothing is left to draw)."""
        self._watch.stop()
        process, self.process = self.process, None
        if process is not None:
            stop_group(process, timeout)
        self._set_state(NodeState.STOPPED)

    def detach(self) -> None:
        """Stop watching the node without stopping it (its process keeps running)."""
        self._watch.stop()
        self._ready_deadline.stop()
        self.attached_pid = None

    def restart(self) -> None:
        self.switch_swarm(self.swarm, self.new_swarm)

    def switch_swarm(self, swarm: str | None, new_swarm: bool) -> None:
        """Restart the node in another swarm (the node reads the swarm's secret from the keyring)."""
        self.stop(then=lambda: self.start(swarm, new_swarm))

    def on_stopped(self, then: object) -> None:
        self._set_state(NodeState.STOPPED)
        if callable(then):
            then()

    def on_child_event(self, process: subprocess.Popen, event: dict) -> None:
        if process is not self.process:
            return  # a node we already replaced
        if event.get("event") == "ready" and "api" in event:
            self._ready_deadline.stop()
            token = Path(event["token_file"]).read_text(encoding="ascii").strip()
            self._set_state(NodeState.RUNNING)
            self.ready.emit(event["api"], token)
        elif event.get("event") == "error":
            self.stderr_tail.append(str(event.get("message", "")))

    def on_child_exited(self, process: subprocess.Popen) -> None:
        if process is not self.process:
            return
        self.process = None
        self._fail(f"The Meadow node stopped unexpectedly (exit code {process.returncode}).")

    def on_ready_timeout(self) -> None:
        if self.state is NodeState.STARTING:
            self._fail(f"The Meadow node did not start within {self.ready_timeout_s:.0f} s.")

    def on_watch_attached(self) -> None:
        if self.attached_pid is not None and not psutil.pid_exists(self.attached_pid):
            logger.info("The node we attached to (pid %s) is gone; starting our own", self.attached_pid)
            self._watch.stop()
            self.attached_pid = None
            self.start(self.swarm, self.new_swarm)

    def _fail(self, message: str) -> None:
        self._set_state(NodeState.FAILED)
        logger.error("%s Last output:\n%s", message, "\n".join(self.stderr_tail))
        self.failed.emit(message)

    def _set_state(self, state: NodeState) -> None:
        if state is not self.state:
            self.state = state
            self.state_changed.emit(state)

    def _read_stdout(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            event = parse_event(line)
            if event is not None:
                self._child_event.emit(process, event)
        process.wait()
        self._child_exited.emit(process)

    def _read_stderr(self, process: subprocess.Popen) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self.stderr_tail.append(line.rstrip("\n"))

    def _stop_in_thread(self, process: subprocess.Popen | None, pid: int | None, then: object) -> None:
        if process is not None:
            stop_group(process)
        elif pid is not None:
            _terminate_pid(pid)
        self._stopped.emit(then)


def _terminate_pid(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM a node we did not start (it shuts down cleanly on it) and wait until it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
        psutil.Process(pid).wait(timeout)
    except (ProcessLookupError, psutil.NoSuchProcess):
        return
    except psutil.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
