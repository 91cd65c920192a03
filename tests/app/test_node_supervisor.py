"""The supervisor reports a node that cannot start, with its last stderr lines for the error dialog."""
from __future__ import annotations

import threading

from PySide6.QtWidgets import QMessageBox

from app.node_supervisor import NodeState, NodeSupervisor


def test_a_node_that_fails_to_start_is_reported_with_its_stderr(qtbot):
    supervisor = NodeSupervisor(extra_args=["--api-port", "0", "--set", "no.such_setting=1"], serve=False)
    with qtbot.waitSignal(supervisor.failed, timeout=60_000) as failed:
        supervisor.start()
    assert "stopped unexpectedly" in failed.args[0]
    assert supervisor.state is NodeState.FAILED
    assert any("no.such_setting" in line for line in supervisor.stderr_tail)
    # The reader threads hold the supervisor; let them end so that it is deleted on this (the GUI) thread.
    qtbot.waitUntil(lambda: not any(thread.name.startswith("meadow-node-") for thread in threading.enumerate()),
                    timeout=10_000)


def test_the_app_shows_the_failure_with_details_and_a_restart_button(qtbot):
    from app.main import build

    desktop = build(node_args=["--api-port", "0", "--set", "no.such_setting=1"], use_tray=False)
    desktop.supervisor.serve = False
    desktop.supervisor.start()
    qtbot.waitUntil(lambda: "error" in desktop.dialogs, timeout=60_000)
    box = desktop.dialogs["error"]
    assert isinstance(box, QMessageBox)
    assert "stopped unexpectedly" in box.text()
    assert "no.such_setting" in box.detailedText()
    assert "Restart" in [button.text() for button in box.buttons()]
    qtbot.waitUntil(lambda: not any(thread.name.startswith("meadow-node-") for thread in threading.enumerate()),
                    timeout=10_000)
    desktop.close()
