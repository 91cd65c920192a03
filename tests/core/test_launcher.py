"""The one launcher: child command lines, own process group, death with the parent."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

from core.launcher import child_command, spawn, stop_group


def test_child_command_from_source():
    assert child_command("serve", "--model", "m") == [sys.executable, "-m", "core", "serve", "--model", "m"]


def test_child_gets_its_own_process_group_and_stops():
    child = spawn(["--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with contextlib.suppress(ProcessLookupError):  # --help may already have exited
        assert os.getpgid(child.pid) == child.pid
    assert stop_group(child, timeout=10) is not None


def test_child_dies_with_its_parent(tmp_path):
    """A parent that spawns a long-running child, then is SIGKILLed: the child must go too."""
    marker = tmp_path / "child.pid"
    script = (
        "import sys, time, subprocess\n"
        "from core.launcher import _die_with_parent\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], preexec_fn=_die_with_parent)\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd())
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child_pid = int(marker.read_text())
    parent.kill()
    parent.wait(5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child_pid, 9)
    raise AssertionError("the child outlived its parent")


def test_child_spawned_from_a_short_lived_thread_outlives_the_thread():
    """PR_SET_PDEATHSIG follows the forking thread, so spawn() forks off the main thread on a long-lived one."""
    import threading

    spawned: list[subprocess.Popen] = []
    thread = threading.Thread(target=lambda: spawned.append(spawn(["dht", "--new-swarm"])))
    thread.start()
    thread.join()
    child = spawned[0]
    try:
        time.sleep(1.5)
        assert child.poll() is None, "the child died with the thread that started it"
    finally:
        stop_group(child, timeout=10)
