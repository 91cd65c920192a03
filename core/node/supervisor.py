"""The node's block server: a `meadow serve` child in its own process group, supervised.

The supervisor starts, stops, pauses and resumes the child, follows its lifecycle events, and restarts
it after a crash with a doubling delay. Stopping signals the child's process group, so the server
announces itself offline and its memory (VRAM included) is really freed.
"""
from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from core.child_output import ChildOutput
from core.events import Event, Failed, Loading, Ready, ServerMoved, ServerReady
from core.launcher import spawn, stop_group
from core.node.contract import ServingStateName

logger = logging.getLogger(__name__)

STABLE_SECONDS = 60.0  # a child that ran this long resets the restart delay


@dataclass(frozen=True)
class ChildStatus:
    """The server child as the supervisor sees it (the node's status adds its counters: core.node.contract)."""

    state: ServingStateName = "stopped"
    reason: str = ""
    pid: int | None = None
    blocks: list[int] | None = None
    peer_id: str | None = None
    since: float = 0.0


class ServerSupervisor:
    def __init__(self, command: Callable[[], tuple[list[str], str | None]], on_change: Callable[[ChildStatus], None],
                 backoff_max: float = 60.0, drain_timeout: float = 30.0):
        self._command = command
        self._on_change = on_change
        self._backoff_max = backoff_max
        self._drain_timeout = drain_timeout
        self._lock = threading.Lock()
        self._status = ChildStatus(since=time.time())
        self._child: subprocess.Popen[str] | None = None
        self._child_started = 0.0
        self._output: ChildOutput | None = None
        self._last_error = ""
        self._want_running = False
        self._backoff = 1.0
        self._restart_timer: threading.Timer | None = None
        self._closed = False

    @property
    def status(self) -> ChildStatus:
        with self._lock:
            return self._status

    def start(self, reason: str = "") -> None:
        """Serve: start the child unless it already runs."""
        with self._lock:
            if self._closed:
                return
            self._want_running = True
            self._cancel_restart()
            if self._child is None:
                self._launch(reason or "starting the server")

    def configure(self, backoff_max: float, drain_timeout: float) -> None:
        """New settings node.restart_backoff_max and server.drain_timeout, used from the next restart or stop."""
        with self._lock:
            self._backoff_max, self._drain_timeout = backoff_max, drain_timeout
            self._backoff = min(self._backoff, backoff_max)

    def stop(self, state: ServingStateName = "stopped", reason: str = "stopped by you",
             timeout: float | None = None) -> None:
        """Stop serving and wait for the child to exit; `state` is "stopped" or "paused"."""
        with self._lock:
            self._want_running = False
            self._cancel_restart()
            child, self._child = self._child, None
            self._set(state=state, reason=reason, blocks=None, peer_id=None)  # the pid stays until it is gone
        if child is not None:
            stop_group(child, self._drain_timeout if timeout is None else timeout)
        with self._lock:
            if self._child is None:
                self._set(pid=None)

    def restart(self, reason: str) -> None:
        """Stop and start again (after settings that the server reads at start changed)."""
        with self._lock:
            running = self._want_running
        if running:
            self.stop(state="starting", reason=reason)
            self.start(reason)

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
        self.stop(reason="the node is shutting down")

    def _launch(self, reason: str) -> None:
        args, stdin_text = self._command()
        child = spawn(args, stdin_text=stdin_text)  # forked by a long-lived thread: see core/launcher.py
        self._child, self._child_started = child, time.monotonic()
        self._last_error = ""
        self._set(state="starting", reason=reason, pid=child.pid, blocks=None, peer_id=None)
        self._output = ChildOutput(child, "meadow-server", on_event=lambda event: self._on_event(child, event),
                                   on_exit=lambda code: self._on_exit(child, code)).start()

    def _on_event(self, child: subprocess.Popen[str], event: Event) -> None:
        with self._lock:
            if child is not self._child:
                return
            if isinstance(event, Loading):
                self._set(reason=f"loading weights {event.done}/{event.total}")
            elif isinstance(event, ServerReady | ServerMoved):
                peer_id = event.peer_id if isinstance(event, ServerReady) else self._status.peer_id
                self._set(state="serving", reason="", blocks=list(event.blocks), peer_id=peer_id)
            elif isinstance(event, Ready):  # a child that serves no blocks (the tests' cheap stand-in: a DHT)
                self._set(state="serving", reason="", blocks=None, peer_id=event.peer_id)
            elif isinstance(event, Failed):
                self._last_error = event.message[:500]
                self._set(reason=self._last_error)

    def _on_exit(self, child: subprocess.Popen[str], code: int) -> None:
        with self._lock:
            if child is not self._child:
                return  # stopped on purpose
            self._child = None
            tail = self._output.stderr_tail if self._output is not None else ()
            detail = self._last_error or (tail[-1].strip() if tail else "")
            if time.monotonic() - self._child_started > STABLE_SECONDS:
                self._backoff = 1.0
            delay = self._backoff
            self._backoff = min(self._backoff * 2, self._backoff_max)
            self._set(state="error", pid=None, blocks=None,
                      reason=f"the server exited with code {code}: {detail or 'no message'}; "
                             f"restarting in {delay:.0f} s")
            if self._want_running and not self._closed:
                self._restart_timer = threading.Timer(delay, self._restart_after_crash)
                self._restart_timer.daemon = True
                self._restart_timer.start()
        logger.warning("Server child %d exited with code %s", child.pid, code)

    def _restart_after_crash(self) -> None:
        with self._lock:
            if self._want_running and self._child is None and not self._closed:
                self._launch("restarting after a crash")

    def _cancel_restart(self) -> None:
        if self._restart_timer is not None:
            self._restart_timer.cancel()
            self._restart_timer = None

    def _set(self, **changes: Any) -> None:
        """Update the status (lock held) and report it."""
        if "state" in changes and changes["state"] != self._status.state:
            changes["since"] = time.time()
        self._status = replace(self._status, **changes)
        try:
            self._on_change(self._status)
        except Exception:  # a broken listener must not break supervision
            logger.exception("Serving status listener failed")
