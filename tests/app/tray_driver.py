"""Runs the real app on a real X display with a tray host, for test_tray_xvfb.py.

Usage: python -m tests.app.tray_driver NODE_INFO_JSON. It attaches to the node, waits until the tray icon
is embedded, triggers the tray menu's "Pause until I resume", waits until the app sees the pause, prints
one JSON line of what it saw and exits.
"""
from __future__ import annotations

import json
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from app.main import build
from app.tray_state import TrayState


def main() -> None:
    application = QApplication(sys.argv[:1])
    report: dict = {"platform": application.platformName(), "tray_available": QSystemTrayIcon.isSystemTrayAvailable()}
    desktop = build()  # asks Qt whether a tray host runs, as `meadow app` does
    report["has_tray"] = desktop.tray is not None
    if desktop.tray is None:
        print(json.dumps(report), flush=True)
        sys.exit(1)
    desktop.tray.show()
    desktop.supervisor.attach(json.loads(sys.argv[1]))
    steps = iter([_embedded, _trigger_pause, _paused])
    step = [next(steps)]

    def tick() -> None:
        if step[0](desktop, report):
            step[0] = next(steps, None)
            if step[0] is None:
                print(json.dumps(report), flush=True)
                application.quit()

    timer = QTimer(interval=100)
    timer.timeout.connect(tick)
    timer.start()
    QTimer.singleShot(60_000, lambda: (print(json.dumps({**report, "timeout": True}), flush=True), application.exit(2)))
    sys.exit(application.exec())


def _embedded(desktop, report: dict) -> bool:
    icon = desktop.tray.icon
    geometry = icon.geometry()
    report.update(visible=icon.isVisible(), geometry=[geometry.x(), geometry.y(), geometry.width(), geometry.height()])
    return icon.isVisible() and geometry.width() > 0 and desktop.status.status is not None


def _trigger_pause(desktop, report: dict) -> bool:
    actions = {action.text(): action for action in desktop.tray.menu.actions() if action.isVisible()}
    report["menu"] = [action.text() for action in desktop.tray.menu.actions() if action.isVisible()]
    report["state_before"] = desktop.tray.state.name
    pause = actions.get("Pause until I resume")
    if pause is None or not pause.isEnabled():
        return False
    pause.trigger()
    return True


def _paused(desktop, report: dict) -> bool:
    report["state_after"] = desktop.tray.state.name
    return desktop.tray.state is TrayState.PAUSED_BY_USER


if __name__ == "__main__":
    main()
