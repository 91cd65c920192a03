"""Windows fullscreen detection, run by the desktop app (the node lives in WSL2 there) and posted to the node.

SHQueryUserNotificationState says whether the user would be disturbed by a notification: a Direct3D
exclusive-fullscreen game, a presentation, or any fullscreen app (borderless games, but also videos).
Unused on Linux and macOS; `detect` reports unavailable there.
"""
from __future__ import annotations

import ctypes
import sys

from core.pause.signals import Signal

# QUERY_USER_NOTIFICATION_STATE values (shellapi.h) that mean a fullscreen app has the screen.
QUNS_BUSY = 2
QUNS_RUNNING_D3D_FULL_SCREEN = 3
QUNS_PRESENTATION_MODE = 4
_FULLSCREEN_REASONS = {
    QUNS_BUSY: "a fullscreen app",
    QUNS_RUNNING_D3D_FULL_SCREEN: "a fullscreen Direct3D game",
    QUNS_PRESENTATION_MODE: "presentation mode",
}


def query_user_notification_state() -> int:
    """The raw QUNS value; raises OSError off Windows or when the call fails."""
    if sys.platform != "win32":
        raise OSError("SHQueryUserNotificationState exists only on Windows")
    state = ctypes.c_int(0)
    result = ctypes.windll.shell32.SHQueryUserNotificationState(ctypes.byref(state))
    if result != 0:  # an HRESULT: 0 is S_OK
        raise OSError(f"SHQueryUserNotificationState failed with HRESULT {result & 0xFFFFFFFF:#010x}")
    return state.value


def signal_from_state(detector: str, state: int) -> Signal:
    """Map a QUNS value to a signal: 2, 3 and 4 mean a fullscreen app has the screen."""
    reason = _FULLSCREEN_REASONS.get(state)
    if reason is None:
        return Signal.clear(detector)
    return Signal(detector, True, reason, subject=f"quns-{state}")


class WindowsFullscreenDetector:
    """Active while Windows reports a fullscreen app; the app posts its signal to `POST /api/pause/signals`."""

    name = "windows_fullscreen"

    def detect(self) -> Signal:
        try:
            return signal_from_state(self.name, query_user_notification_state())
        except OSError as error:
            return Signal.unavailable(self.name, str(error))
