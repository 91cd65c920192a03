"""`make screenshots`: the tray menu, dashboard, chat window and settings dialog as PNG files.

Runs against a real node started for the purpose in a throwaway MEADOW_HOME (the user's data is not
touched), offscreen unless a display is set. Usage: python -m app.screenshots [FOLDER].
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ["MEADOW_HOME"] = tempfile.mkdtemp(prefix="meadow-screenshots-")  # before anything reads it
if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QWidget

from app.desktop import DesktopApp
from app.main import build
from app.resources import icon, stylesheet

NODE_ARGS = ["--api-port", "0", "--set", "server.throughput=100"]
PROMPT = "Write a haiku about a meadow, then a one-line Python snippet that prints it."


def wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Run Qt's event loop until `condition` holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"make screenshots: timed out waiting for {what}")
        QApplication.processEvents()
        time.sleep(0.02)


def save(widget: QWidget, folder: Path, name: str) -> None:
    QApplication.processEvents()
    path = folder / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise SystemExit(f"make screenshots: could not write {path}")
    print(path)


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    application = QApplication(sys.argv[:1])
    application.setWindowIcon(icon("meadow"))
    application.setStyleSheet(stylesheet())
    desktop = build(NODE_ARGS, use_tray=True)
    desktop.supervisor.start(None, new_swarm=True)
    try:
        shoot(desktop, folder)
    finally:
        desktop.supervisor.stop_and_wait()
        desktop.close()


def shoot(desktop: DesktopApp, folder: Path) -> None:
    status = desktop.status
    wait(lambda: status.status is not None and status.status.serving.state == "serving", 240, "the node to serve")

    def covered() -> bool:
        coverage = status.status.model.coverage if status.status is not None else None
        return coverage is not None and not coverage.missing

    wait(covered, 120, "block coverage")
    if desktop.tray is None:
        raise SystemExit("make screenshots: no tray was built")
    menu = desktop.tray.menu
    menu.popup(QPoint(0, 0))
    save(menu, folder, "tray-menu")
    menu.hide()
    desktop.dashboard.resize(720, 520)
    desktop.show_dashboard()
    save(desktop.dashboard, folder, "dashboard")
    chat = desktop.show_chat()
    chat.resize(1000, 720)
    wait(lambda: chat.model_picker.count() > 0, 30, "the model list")
    chat.conversations.new_button.click()
    chat.options.max_tokens.setValue(96)
    chat.input.setPlainText(PROMPT)
    chat.send_button.click()
    wait(lambda: chat.stream is None, 180, "the chat answer")
    if chat.conversation is None or chat.conversation.messages[-1].role != "assistant":
        raise SystemExit(f"make screenshots: the chat failed: {chat.route.text()}")
    save(chat, folder, "chat")
    settings = desktop.show_settings()
    wait(lambda: bool(settings.loaded), 30, "the settings")
    save(settings, folder, "settings")


if __name__ == "__main__":
    main()
