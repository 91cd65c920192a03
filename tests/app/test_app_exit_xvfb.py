"""`meadow app` under Xvfb (no tray): its node is killed with SIGKILL, then SIGTERM quits the app with exit code 0.

Before, the quit aborted at interpreter finalization with "Fatal Python error: bool_dealloc" (PySide6 6.12.0
took a reference from True on every emit: see test_qt_binding.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.app.test_tray_xvfb import ROOT, start_xvfb


def wait(condition: Callable[[], bool], timeout: float, what: str, app: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert app.poll() is None, f"the app exited early ({app.returncode}) while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def log_text(home: Path) -> str:
    return "".join(path.read_text(errors="replace") for path in (home / "logs").glob("app-*.log"))


def test_the_app_quits_cleanly_after_its_node_was_killed(tmp_path, tiny_llama):
    xvfb, display = start_xvfb()
    home = tmp_path / "home"
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "MEADOW_HOME": str(home)}
    stderr_path = tmp_path / "app-stderr.txt"
    with stderr_path.open("w") as stderr_file:  # a file, not a pipe nobody reads while the app runs
        app = subprocess.Popen([sys.executable, "-m", "core", "app", "--set", "node.api_port=0",
                                "--set", f"node.model={tiny_llama}", "--set", "server.throughput=100"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr_file, text=True,
                               start_new_session=True)
    try:
        node_info = home / "node" / "node.json"
        wait(lambda: "Node API at" in log_text(home), 180, "the app to reach its node", app)
        node_pid = json.loads(node_info.read_text())["pid"]
        time.sleep(3)  # the app follows the node's events for a while, as a user's would
        os.kill(node_pid, signal.SIGKILL)
        wait(lambda: "stopped unexpectedly (exit code -9)" in log_text(home), 30, "the app to see the death", app)
        time.sleep(5)  # reconnect attempts and their timers run meanwhile
        app.send_signal(signal.SIGTERM)
        app.wait(60)
    finally:
        if app.poll() is None:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait(10)
        xvfb.terminate()
        xvfb.wait(10)
    stderr = stderr_path.read_text(errors="replace")
    assert "Fatal Python error" not in stderr, stderr[-3000:]
    assert app.returncode == 0, stderr[-3000:]
