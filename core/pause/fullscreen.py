"""A fullscreen foreground window on X11: root's _NET_ACTIVE_WINDOW has _NET_WM_STATE_FULLSCREEN.

That is how games, but also videos and F11 browsers, look; `pause.fullscreen` switches it off.
"""
from __future__ import annotations

import logging
from typing import Any

import psutil

from core.pause.own_processes import OwnProcesses, own_process_tree
from core.pause.processes import base_name
from core.pause.signals import Signal
from core.pause.x11 import XConnection

logger = logging.getLogger(__name__)


class FullscreenWindowDetector:
    """Active while the active X11 window is fullscreen and not ours: "fullscreen window: game.bin"."""

    name = "x11_fullscreen"

    def __init__(self, display_name: str | None = None, own_pids: OwnProcesses = own_process_tree):
        self.connection = XConnection(display_name)
        self.own_pids = own_pids

    def detect(self) -> Signal:
        try:
            window = self._active_window()
            if window is None or not self._is_fullscreen(window):
                return Signal.clear(self.name)
            pid, label = self._owner(window)
        except OSError as error:
            return Signal.unavailable(self.name, str(error))
        except Exception as error:  # noqa: BLE001 - an X protocol error (the window vanished) or a dropped connection
            logger.debug("X11 fullscreen check failed, reconnecting: %s", error)
            self.connection.reset()
            return Signal.clear(self.name)
        if pid is not None and pid in set(self.own_pids()):
            return Signal.clear(self.name)
        return Signal(self.name, True, f"fullscreen window: {label}", subject=label)

    def _active_window(self) -> Any | None:
        display = self.connection.get()
        values = self.connection.property_values(display.screen().root, "_NET_ACTIVE_WINDOW")
        if not values or not values[0]:
            return None
        return display.create_resource_object("window", values[0])

    def _is_fullscreen(self, window: Any) -> bool:
        states = self.connection.property_values(window, "_NET_WM_STATE")
        return self.connection.atom("_NET_WM_STATE_FULLSCREEN") in states

    def _owner(self, window: Any) -> tuple[int | None, str]:
        """The owning pid (when the client set _NET_WM_PID) and a name the user recognizes."""
        pids = self.connection.property_values(window, "_NET_WM_PID")
        pid = int(pids[0]) if pids else None
        program = _program_of(pid) if pid is not None else ""
        if program:
            return pid, program
        window_class = window.get_wm_class()
        if window_class:
            return pid, window_class[-1]
        title = self.connection.property_values(window, "_NET_WM_NAME")
        return pid, bytes(title).decode("utf-8", "replace") if title else "an unnamed window"


def _program_of(pid: int) -> str:
    try:
        process = psutil.Process(pid)
        return base_name(process.exe() or process.name())
    except psutil.Error:
        return ""  # another machine's or namespace's pid, or gone
