"""The app's supervisor of its `meadow node` child: start, attach, stop, restart, switch swarm.

A node already running for this MEADOW_HOME (core.node.api_token.read_node_info) is attached to, not
duplicated. Our own node runs as an app.runtime.child.JsonLineChild: its ready event reaches the GUI thread
as a queued signal, and its last stderr lines are kept for the error dialog.
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

from app.runtime.child import JsonLineChild
from core.config import Settings
from core.errors import UserFacingError
from core.events import Event, Failed, NodeReady
from core.launcher import stop_group
from core.node.api_token import read_node_info
from core.swarm.joined import find_joined  # a JSON file reader; no hivemind behind it

logger = logging.getLogger(__name__)

STDERR_LINES = 40


def chosen_swarm() -> tuple[str | None, bool]:
    """The swarm the app's node starts in (setting app.swarm) and whether it is the swarm's first peer."""
    name = Settings.load()["app.swarm"] or None
    if name is None:
        return None, True
    try:
        return name, find_joined(name).created_here  # a swarm we created has no other bootstrap peer yet
    except UserFacingError as error:
        logger.warning("Setting app.swarm names an unknown swarm (%s); using the public swarm", error)
        return None, True


class NodeState(Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"  # our own child answers its API
    ATTACHED = "attached"  # a node started by someone else (another app, the CLI) answers its API
    STOPPING = "stopping"
    FAILED = "failed"


class NodeSupervisor(QObject):
    ready = Signal(str, str)  # API base URL, bearer token
    failed = Signal(str)  # a message for the user (the stderr tail is in `stderr_tail`)
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
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_LINES)  # the current child's, once one started
        self.ready_timeout_s = ready_timeout_s
        self._stopped.connect(self.on_stopped)
        self._watch = QTimer(self, interval=2000)
        self._watch.timeout.connect(self.on_watch_attached)
        self._ready_deadline = QTimer(self, singleShot=True)
        self._ready_deadline.timeout.connect(self.on_ready_timeout)

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
        self.state = NodeState.ATTACHED
        self._watch.start()
        self.ready.emit(info["api"], token)
        return True

    def start(self, swarm: str | None = None, new_swarm: bool = True) -> None:
        """Spawn `meadow node` in `swarm` (None: public), serving; ready arrives as a signal."""
        self.swarm, self.new_swarm = swarm, new_swarm
        child = JsonLineChild(self.command_args(), parent=self, thread_prefix="meadow-node",
                              stderr_lines=STDERR_LINES)
        child.event_received.connect(self.on_child_event)
        child.finished.connect(self.on_child_exited)
        child.start()
        self.process, self.stderr_tail = child.process, child.stderr_tail
        self.state = NodeState.STARTING
        self._ready_deadline.start(int(self.ready_timeout_s * 1000))

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
        self.state = NodeState.STOPPING
        threading.Thread(target=self._stop_in_thread, args=(process, pid, then), daemon=True,
                         name="meadow-node-stop").start()

    def stop_and_wait(self, timeout: float = 30.0) -> None:
        """Stop our own node, blocking (used at quit, when nothing is left to draw)."""
        self._watch.stop()
        process, self.process = self.process, None
        if process is not None:
            stop_group(process, timeout)
        self.state = NodeState.STOPPED

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
        self.state = NodeState.STOPPED
        if callable(then):
            then()

    def on_child_event(self, event: Event) -> None:
        if not self._from_current_child():
            return  # a node we already replaced
        if isinstance(event, NodeReady):
            self._ready_deadline.stop()
            token = Path(event.token_file).read_text(encoding="ascii").strip()
            self.state = NodeState.RUNNING
            self.ready.emit(event.api, token)
        elif isinstance(event, Failed):
            self.stderr_tail.append(event.message)

    def on_child_exited(self, code: int, _stderr: str) -> None:
        current = self._from_current_child()
        self.sender().deleteLater()  # its readers are done; its stderr lines stay in `stderr_tail`
        if not current:
            return
        self.process = None
        self._fail(f"The Meadow node stopped unexpectedly (exit code {code}).")

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
        self.state = NodeState.FAILED
        logger.error("%s Last output:\n%s", message, "\n".join(self.stderr_tail))
        self.failed.emit(message)

    def _from_current_child(self) -> bool:
        """The signal being handled comes from the node we run now, not from one we stopped or replaced."""
        child = self.sender()
        return isinstance(child, JsonLineChild) and child.process is not None and child.process is self.process

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
