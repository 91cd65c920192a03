"""X11 detectors under a real Xvfb: a real client window made fullscreen and active (there is no window
manager, so the test sets the EWMH properties a WM would set), and real input idle time via XTEST."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from core.pause.fullscreen import FullscreenWindowDetector
from core.pause.idle import UserActivityDetector

Xlib = pytest.importorskip("Xlib")
from Xlib import X, Xatom, display  # noqa: E402 - once importorskip found it
from Xlib.ext import xtest  # noqa: E402 - once importorskip found it

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed (apt-get install xvfb)")


def only_this_process() -> set[int]:
    return {os.getpid()}


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A fresh Xvfb; its display name (":N") is read from -displayfd, so no number is guessed."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        number = _read_line(read_end, timeout=15.0)
        yield f":{number}"
    finally:
        os.close(read_end)
        server.terminate()
        server.wait(timeout=10)


def _read_line(fd: int, timeout: float) -> str:
    import select
    data, deadline = b"", time.monotonic() + timeout
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError("Xvfb did not report its display number")
        chunk = os.read(fd, 64)
        if not chunk:
            raise RuntimeError("Xvfb exited before reporting its display number")
        data += chunk
    return data.decode().strip()


def make_window(client: display.Display, fullscreen: bool, pid: int | None, wm_class: str = "GameClass") -> None:
    """Create a window, set the EWMH state a WM would, and make it root's active window."""
    root = client.screen().root
    window = root.create_window(0, 0, 640, 480, 0, client.screen().root_depth)
    window.set_wm_class("game", wm_class)
    if fullscreen:
        window.change_property(client.intern_atom("_NET_WM_STATE"), Xatom.ATOM, 32,
                               [client.intern_atom("_NET_WM_STATE_FULLSCREEN")])
    if pid is not None:
        window.change_property(client.intern_atom("_NET_WM_PID"), Xatom.CARDINAL, 32, [pid])
    window.map()
    root.change_property(client.intern_atom("_NET_ACTIVE_WINDOW"), Xatom.WINDOW, 32, [window.id])
    client.sync()


def test_fullscreen_active_window_names_its_program(xvfb, tmp_path, start_program):
    game = start_program(tmp_path / "fake-game-launcher-xyz")
    client = display.Display(xvfb)
    detector = FullscreenWindowDetector(xvfb, only_this_process)
    assert not detector.detect().active  # no active window yet
    make_window(client, fullscreen=False, pid=game.pid)
    assert not detector.detect().active
    make_window(client, fullscreen=True, pid=game.pid)
    signal = detector.detect()
    assert signal.active and signal.reason == "fullscreen window: fake-game-launcher-xyz"
    client.close()


def test_without_a_pid_the_window_class_names_it(xvfb):
    client = display.Display(xvfb)
    make_window(client, fullscreen=True, pid=None, wm_class="SomeGame")
    assert FullscreenWindowDetector(xvfb, only_this_process).detect().reason == "fullscreen window: SomeGame"
    client.close()


def test_our_own_fullscreen_window_does_not_count(xvfb):
    client = display.Display(xvfb)
    make_window(client, fullscreen=True, pid=os.getpid())
    assert not FullscreenWindowDetector(xvfb, only_this_process).detect().active
    client.close()


def test_no_display_means_unavailable(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    for detector in (FullscreenWindowDetector(), UserActivityDetector(60), FullscreenWindowDetector(":4999")):
        signal = detector.detect()
        assert not signal.active and not signal.available


def test_a_vanished_x_server_is_survived(xvfb):
    detector = FullscreenWindowDetector(xvfb, only_this_process)
    assert detector.detect().available
    detector.connection.get().close()  # the connection drops as if the server died
    assert not detector.detect().active
    assert detector.detect().available  # reconnected


def test_user_activity_follows_real_input(xvfb):
    detector = UserActivityDetector(idle_seconds=0.5, display_name=xvfb)
    client = display.Display(xvfb)
    xtest.fake_input(client, X.MotionNotify, x=10, y=20)
    client.sync()
    signal = detector.detect()
    assert signal.active and signal.reason == "keyboard or mouse in use"
    deadline = time.monotonic() + 5
    while detector.detect().active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 0.5 <= detector.idle_seconds_now() < 5
    client.close()
