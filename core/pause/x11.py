"""X11 detectors (python-xlib): a fullscreen foreground window (EWMH), and keyboard/mouse idle time
(MIT-SCREEN-SAVER). Wayland-native windows are invisible here; XWayland ones are seen.

Without an X display (none set, unreachable, python-xlib missing) both report unavailable, and try to
connect again on a later check, since the node may start before the desktop session.
"""
from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # python-xlib is imported on first use: the node may run without it
    from Xlib.display import Display


class XConnection:
    """One lazily opened X display connection, reopened after a failure."""

    def __init__(self, display_name: str | None = None):
        self.display_name = display_name
        self._display: Display | None = None

    def get(self) -> Display:
        """The open Display; raises OSError when there is no reachable X server."""
        if self._display is None:
            name = self.display_name or os.environ.get("DISPLAY")
            if not name:
                raise OSError("no X display (DISPLAY is not set)")
            try:
                from Xlib import display
                self._display = display.Display(name)
            except ImportError:
                raise OSError("python-xlib is not installed") from None
            except Exception as error:  # noqa: BLE001 - python-xlib raises several unrelated types for a missing server
                raise OSError(f"cannot open X display {name}: {error}") from None
        return self._display

    def reset(self) -> None:
        """Drop the connection (after an X error); the next `get` reconnects."""
        display, self._display = self._display, None
        if display is not None:
            with contextlib.suppress(Exception):  # already broken: nothing left to close cleanly
                display.close()

    def atom(self, name: str) -> int:
        return self.get().intern_atom(name)

    def property_values(self, window: Any, name: str) -> list[Any]:
        """Values of a window property, [] when unset."""
        from Xlib import X
        prop = window.get_full_property(self.atom(name), X.AnyPropertyType)
        return list(prop.value) if prop is not None and prop.value is not None else []
