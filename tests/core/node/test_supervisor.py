"""The supervisor with a real `meadow dht` child: start, crash and restart, stop."""
from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

from core.node.supervisor import ChildStatus, ServerSupervisor


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def supervisor():
    seen: list[ChildStatus] = []
    supervisor = ServerSupervisor(lambda: (["dht", "--new-swarm"], None), seen.append, backoff_max=2.0,
                                  drain_timeout=10.0)
    supervisor.seen = seen  # type: ignore[attr-defined]  # the statuses seen, for the tests to read
    yield supervisor
    supervisor.shutdown()


def test_start_crash_restart_stop(supervisor):
    # started from a short-lived thread: the child must outlive it (PR_SET_PDEATHSIG follows the forking thread)
    starter = threading.Thread(target=supervisor.start)
    starter.start()
    starter.join()
    _wait(lambda: supervisor.status.state == "serving", 60)
    first = supervisor.status.pid
    time.sleep(0.5)
    assert psutil.pid_exists(first)
    os.killpg(first, signal.SIGKILL)
    _wait(lambda: supervisor.status.state == "error", 10)
    assert "exited with code" in supervisor.status.reason
    _wait(lambda: supervisor.status.state == "serving" and supervisor.status.pid != first, 60)
    second = supervisor.status.pid
    supervisor.stop(state="paused", reason="paused by you")
    assert supervisor.status.state == "paused" and supervisor.status.pid is None
    assert not psutil.pid_exists(second) or psutil.Process(second).status() == psutil.STATUS_ZOMBIE
    states = [status.state for status in supervisor.seen]
    assert states[:2] == ["starting", "serving"] and "error" in states and states[-1] == "paused"


def test_a_child_that_cannot_start_reports_its_error(tmp_path):
    seen: list[ChildStatus] = []
    command = ["serve", "--new-swarm", "--model", str(tmp_path / "missing")]
    supervisor = ServerSupervisor(lambda: (command, None), seen.append, backoff_max=60.0)
    try:
        supervisor.start()
        _wait(lambda: supervisor.status.state == "error", 60)
        assert "missing" in supervisor.status.reason and "restarting in" in supervisor.status.reason
    finally:
        supervisor.shutdown()
    assert supervisor.status.state == "stopped"
