"""The app survives its node's death: it says so, greys out the node's last values, and restarts it on request.

Its clean quit afterwards, as a separate process, is in test_app_exit_xvfb.py."""
from __future__ import annotations

import os
import signal
import threading

from PySide6.QtWidgets import QMessageBox

from core.config import update_settings_file


def test_a_killed_node_is_reported_its_values_marked_stale_and_restart_brings_it_back(qtbot, tiny_llama):
    from app.main import build

    desktop = build(node_args=["--api-port", "0", "--model", str(tiny_llama)], use_tray=False)
    desktop.supervisor.serve = False  # the node's death is what is tested; a server child would only add time
    desktop.supervisor.start()
    try:
        qtbot.waitUntil(lambda: desktop.status.status is not None and not desktop.status.stale, timeout=120_000)
        dashboard = desktop.dashboard
        desktop.show_dashboard()
        first = desktop.status.status.node.pid
        assert dashboard.form.isEnabled() and dashboard.values["swarm"].text().startswith("public")

        os.kill(first, signal.SIGKILL)
        qtbot.waitUntil(lambda: "error" in desktop.dialogs, timeout=30_000)
        box = desktop.dialogs["error"]
        assert isinstance(box, QMessageBox)
        assert "stopped unexpectedly (exit code -9)" in box.text()
        assert desktop.status.stale and not dashboard.form.isEnabled() and not dashboard.coverage_box.isEnabled()
        assert "not current" in dashboard.form.title()
        assert dashboard.values["swarm"].text().startswith("public")  # the last values stay, greyed
        assert dashboard.headline.text() == "The Meadow node does not answer" and dashboard.notice.isVisible()
        assert not any(action.isEnabled() for action in desktop.actions.serving_actions)

        restart = next(button for button in box.buttons() if button.text() == "Restart")
        assert box.buttonRole(restart) is QMessageBox.ButtonRole.AcceptRole
        restart.click()
        qtbot.waitUntil(lambda: desktop.status.status is not None and not desktop.status.stale
                        and desktop.status.status.node.pid != first, timeout=120_000)
        assert dashboard.form.isEnabled() and not dashboard.notice.isVisible()

        # A setting that waits for a node restart: the dashboard says so, and its button restarts the node.
        second = desktop.status.status.node.pid
        desktop.api.patch("/api/settings", {"client.max_retries": 3})
        qtbot.waitUntil(lambda: dashboard.restart_button.isVisible(), timeout=30_000)
        assert "Retries per failed server" in dashboard.restart_note.text()
        dashboard.restart_button.click()
        qtbot.waitUntil(lambda: desktop.status.status is not None and not desktop.status.stale
                        and desktop.status.status.node.pid not in (first, second), timeout=120_000)
        assert desktop.status.status.node.restart_needed == [] and not dashboard.restart_button.isVisible()
    finally:
        desktop.supervisor.stop_and_wait()
        update_settings_file({"client.max_retries": 8})  # no node runs now: the file's lock is the one writer
        qtbot.waitUntil(lambda: not any(thread.name.startswith("meadow-node-") for thread in threading.enumerate()),
                        timeout=15_000)
        desktop.close()
