"""Windows fullscreen state mapping (the ctypes call itself only runs on Windows)."""
from __future__ import annotations

import sys

import pytest

from core.pause.windows import (
    QUNS_BUSY,
    QUNS_PRESENTATION_MODE,
    QUNS_RUNNING_D3D_FULL_SCREEN,
    WindowsFullscreenDetector,
    signal_from_state,
)


@pytest.mark.parametrize("state, reason", [(QUNS_BUSY, "a fullscreen app"),
                                           (QUNS_RUNNING_D3D_FULL_SCREEN, "a fullscreen Direct3D game"),
                                           (QUNS_PRESENTATION_MODE, "presentation mode")])
def test_fullscreen_states_are_active(state, reason):
    signal = signal_from_state("windows_fullscreen", state)
    assert signal.active and signal.reason == reason


@pytest.mark.parametrize("state", [1, 5, 6, 7])  # not present (locked), accepts notifications, quiet time, app
def test_other_states_are_clear(state):
    assert not signal_from_state("windows_fullscreen", state).active


@pytest.mark.skipif(sys.platform == "win32", reason="checks the behaviour off Windows")
def test_off_windows_the_detector_is_unavailable():
    signal = WindowsFullscreenDetector().detect()
    assert not signal.active and not signal.available
