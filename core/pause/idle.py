"""Is someone using the computer? X11 input idle time (MIT-SCREEN-SAVER), for `pause.idle_only`."""
from __future__ import annotations

import logging

from core.pause.signals import Signal, SignalKind
from core.pause.x11 import XConnection

logger = logging.getLogger(__name__)


class UserActivityDetector:
    """Active while keyboard or mouse input came less than `idle_seconds` ago (serve only when idle)."""

    name = "user_activity"

    def __init__(self, idle_seconds: float, display_name: str | None = None):
        self.idle_seconds = idle_seconds
        self.connection = XConnection(display_name)

    def idle_seconds_now(self) -> float:
        """Seconds since the last input; raises OSError without an X server that reports it."""
        display = self.connection.get()
        if not display.has_extension("MIT-SCREEN-SAVER"):
            raise OSError("the X server lacks the MIT-SCREEN-SAVER extension")
        idle_ms: int = display.screen().root.screensaver_query_info().idle  # the extension's method is untyped
        return idle_ms / 1000.0

    def detect(self) -> Signal:
        try:
            idle = self.idle_seconds_now()
        except OSError as error:
            return Signal.unavailable(self.name, str(error), SignalKind.USER_ACTIVE)
        except Exception as error:  # noqa: BLE001 - a dropped connection: reconnect on the next check
            logger.debug("X11 idle check failed, reconnecting: %s", error)
            self.connection.reset()
            return Signal.unavailable(self.name, f"X11 idle check failed: {error}", SignalKind.USER_ACTIVE)
        if idle >= self.idle_seconds:
            return Signal.clear(self.name, SignalKind.USER_ACTIVE)
        return Signal(self.name, True, "keyboard or mouse in use", SignalKind.USER_ACTIVE, subject="input")
