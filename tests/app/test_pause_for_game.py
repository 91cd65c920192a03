"""A game found by the app's own detector (Windows' fullscreen check, faked here: this machine has no
Windows desktop) is posted to the node, which pauses; the tray and dashboard say why; it resumes after."""
from __future__ import annotations

import pytest

from app.tray_state import TrayState
from core.pause.signals import Signal
from tests.app.conftest import ensure_serving, node_info, serving_state, wait_for_node


class FakeFullscreen:
    name = "windows_fullscreen"

    def __init__(self) -> None:
        self.active = False

    def detect(self) -> Signal:
        if self.active:
            return Signal(self.name, True, "a fullscreen Direct3D game", subject="quns-3")
        return Signal.clear(self.name)


@pytest.fixture
def game_desktop(qtbot, node):
    from app.main import build

    detector = FakeFullscreen()
    app = build(use_tray=True, detectors=[detector])
    app.reporter._timer.setInterval(200)  # report often: the test waits on it
    app.supervisor.attach(node_info(node))
    qtbot.waitUntil(lambda: app.status.status is not None, timeout=10_000)
    yield app, detector
    app.close()
    node.http.patch("/api/settings", json={"pause.resume_after_s": 120.0}).raise_for_status()


def test_a_fullscreen_game_pauses_serving_and_the_app_shows_it(qtbot, node, game_desktop):
    app, detector = game_desktop
    ensure_serving(qtbot, node, wait_for_server=False)
    node.http.patch("/api/settings", json={"pause.resume_after_s": 1.0}).raise_for_status()
    detector.active = True
    status = wait_for_node(qtbot, node, lambda status: serving_state(status) == "paused", 20_000)
    assert status["pause"]["decision"]["kind"] == "game"
    assert "fullscreen Direct3D game" in status["pause"]["decision"]["reason"]
    qtbot.waitUntil(lambda: app.tray.state is TrayState.PAUSED_FOR_GAME, timeout=10_000)
    assert "fullscreen Direct3D game" in app.dashboard.values["pause"].text()
    assert not app.actions.resume.isVisible()  # a game's pause lifts itself

    detector.active = False
    wait_for_node(qtbot, node, lambda status: serving_state(status) in ("starting", "serving"), 30_000)


def test_an_exclusive_app_pauses_serving_and_the_dashboard_names_it(qtbot, node, desktop, tmp_path):
    import shutil
    import subprocess
    import time

    ensure_serving(qtbot, node)
    before = node.status()["serving"]["pid"]
    game = tmp_path / "fake-game-launcher-abc"  # over the 15-character process name
    shutil.copy("/bin/sleep", game)
    node.http.patch("/api/settings", json={"pause.exclusive_apps": [game.name], "pause.resume_after_s": 2.0,
                                           "pause.poll_seconds": 0.5}).raise_for_status()
    process = subprocess.Popen([str(game), "120"])
    try:
        started = time.monotonic()
        status = wait_for_node(qtbot, node, lambda status: serving_state(status) == "paused"
                               and status["serving"]["pid"] is None, 10_000)
        assert time.monotonic() - started < 5
        assert game.name in status["serving"]["reason"]
        qtbot.waitUntil(lambda: game.name in desktop.dashboard.values["pause"].text(), timeout=10_000)
        qtbot.waitUntil(lambda: desktop.tray.state is TrayState.PAUSED_FOR_GAME, timeout=10_000)
        process.kill()
        process.wait()
        status = wait_for_node(qtbot, node, lambda status: serving_state(status) in ("starting", "serving"), 30_000)
        assert status["serving"]["pid"] not in (None, before)
    finally:
        process.kill()
        process.wait()
        node.http.patch("/api/settings", json={"pause.exclusive_apps": [], "pause.resume_after_s": 120.0,
                                               "pause.poll_seconds": 2.0}).raise_for_status()
