"""Under Xvfb with a real tray host (trayer) the app shows its tray icon, and its menu pauses the node."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app.conftest import ensure_serving, node_info, serving_state, wait_for_node

ROOT = Path(__file__).resolve().parents[2]


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """Xvfb on a display number it picks itself (-displayfd), so parallel runs never collide."""
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not report its display number"
    return xvfb, f":{number}"


@pytest.fixture
def tray_display():
    missing = [tool for tool in ("Xvfb", "trayer") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: "
                    "sudo apt-get install -y xvfb trayer libxcb-cursor0 (see .ci/run)")
    xvfb, display = start_xvfb()
    trayer = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request"],
                              env={**os.environ, "DISPLAY": display}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # trayer claims the _NET_SYSTEM_TRAY selection right after it connects
    try:
        yield display
    finally:
        for process in (trayer, xvfb):  # only the two we started
            process.terminate()
            process.wait(10)


def test_tray_icon_is_shown_and_its_menu_pauses_the_node(qtbot, node, tray_display):
    ensure_serving(qtbot, node, wait_for_server=False)
    env = {**os.environ, "DISPLAY": tray_display, "QT_QPA_PLATFORM": "xcb"}
    result = subprocess.run([sys.executable, "-m", "tests.app.tray_driver", json.dumps(node_info(node))],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["platform"] == "xcb" and report["tray_available"] and report["has_tray"]
    assert report["visible"] and report["geometry"][2] > 0
    assert "Pause until I resume" in report["menu"] and report["state_after"] == "PAUSED_BY_USER"
    status = wait_for_node(qtbot, node, lambda status: serving_state(status) == "paused", 10_000)
    assert status["pause"]["decision"]["kind"] == "user"
    node.http.post("/api/serving/resume").raise_for_status()
