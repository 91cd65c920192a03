"""The tray menu's real QActions change the real node: donate off/on, pause for an hour, resume."""
from __future__ import annotations

from PySide6.QtGui import QAction

from app.tray_state import TrayState
from tests.app.conftest import ensure_serving, serving_state, wait_for_node


def menu_action(desktop, text: str) -> QAction:
    actions = {action.text(): action for action in desktop.tray.menu.actions()}
    assert text in actions, f"no {text!r} in the tray menu: {sorted(actions)}"
    return actions[text]


def test_donate_off_then_on(qtbot, node, desktop):
    ensure_serving(qtbot, node, wait_for_server=False)
    donate = menu_action(desktop, "Donate GPU")
    qtbot.waitUntil(lambda: donate.isChecked() and donate.isEnabled(), timeout=10_000)

    donate.trigger()  # unchecks: donation off
    # The server child is gone once the state says stopped and no pid is left.
    status = wait_for_node(qtbot, node,
                           lambda status: serving_state(status) == "stopped" and not status["serving"]["pid"])
    assert status["pause"]["decision"]["kind"] == "donation_off"
    qtbot.waitUntil(lambda: desktop.tray.state is TrayState.STOPPED and not donate.isChecked(), timeout=10_000)
    assert not menu_action(desktop, "Pause for 1 hour").isVisible()

    qtbot.waitUntil(donate.isEnabled, timeout=10_000)
    donate.trigger()  # donation on again
    wait_for_node(qtbot, node, lambda status: serving_state(status) in ("starting", "serving"))
    qtbot.waitUntil(lambda: donate.isChecked(), timeout=10_000)


def test_pause_for_an_hour_then_resume(qtbot, node, desktop):
    ensure_serving(qtbot, node, wait_for_server=False)
    pause = menu_action(desktop, "Pause for 1 hour")
    qtbot.waitUntil(lambda: pause.isVisible() and pause.isEnabled(), timeout=10_000)

    pause.trigger()
    status = wait_for_node(qtbot, node, lambda status: serving_state(status) == "paused")
    assert status["pause"]["decision"]["kind"] == "user"
    assert 3000 < status["pause"]["decision"]["resume_in_s"] <= 3600
    resume = menu_action(desktop, "Resume")
    qtbot.waitUntil(lambda: desktop.tray.state is TrayState.PAUSED_BY_USER and resume.isVisible(), timeout=10_000)
    assert not pause.isVisible()

    resume.trigger()
    wait_for_node(qtbot, node, lambda status: serving_state(status) in ("starting", "serving"))
    qtbot.waitUntil(lambda: not resume.isVisible(), timeout=10_000)
