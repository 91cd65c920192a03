"""The dashboard shows the real node's swarm, model, blocks, counters, memory, coverage and pause reason."""
from __future__ import annotations

from PySide6.QtCore import Qt

from tests.app.conftest import ensure_serving, serving_state, wait_for_node


def test_dashboard_shows_the_node(qtbot, node, desktop):
    ensure_serving(qtbot, node)
    window = desktop.dashboard
    desktop.actions.open_dashboard.trigger()
    assert window.isVisible()
    qtbot.waitUntil(lambda: window.values["blocks"].text() == "0-29", timeout=10_000)
    values = {name: label.text() for name, label in window.values.items()}
    assert values["swarm"].startswith("public")
    assert values["model"] == "smollm2-135m-instruct (30 blocks, llama)"
    # server.device and server.dtype are auto, and there is no GPU; read from the server's rpc_info
    qtbot.waitUntil(lambda: window.values["compute"].text() == "cpu, float32", timeout=10_000)
    assert values["ram"].endswith("iB")
    assert values["pause"] == "not paused"
    # The node's view of the swarm refreshes on its own period, so coverage may follow a little later.
    qtbot.waitUntil(lambda: window.coverage.servers == [1] * 30, timeout=60_000)
    assert window.values["servers"].text().endswith(": blocks 0-29, float32")  # architecture, dtype per server
    assert window.coverage.ours == (0, 30)
    assert window.headline.text().startswith("Serving blocks 0-29")


def test_dashboard_buttons_pause_until_resumed_and_resume(qtbot, node, desktop):
    ensure_serving(qtbot, node, wait_for_server=False)
    window = desktop.dashboard
    window.show()
    pause = window.buttons[desktop.actions.pause_until_resumed]
    qtbot.waitUntil(lambda: pause.isVisible() and pause.isEnabled(), timeout=10_000)
    qtbot.mouseClick(pause, Qt.MouseButton.LeftButton)
    status = wait_for_node(qtbot, node, lambda status: serving_state(status) == "paused")
    assert status["pause"]["decision"]["resume_in_s"] is None
    qtbot.waitUntil(lambda: "paused by you" in window.values["pause"].text(), timeout=10_000)

    resume = window.buttons[desktop.actions.resume]
    qtbot.waitUntil(lambda: resume.isVisible() and resume.isEnabled(), timeout=10_000)
    qtbot.mouseClick(resume, Qt.MouseButton.LeftButton)
    wait_for_node(qtbot, node, lambda status: serving_state(status) in ("starting", "serving"))
