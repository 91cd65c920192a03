"""Feral GameMode on Linux: games started with `gamemoderun` (or by a launcher's toggle) register with the
`com.feralinteractive.GameMode` service on the session bus, whose ClientCount property counts them.
Read with jeepney (pure Python); no session bus or no GameMode service means inactive.
"""
from __future__ import annotations

import contextlib
from typing import Any

from core.pause.signals import Signal

BUS_NAME = "com.feralinteractive.GameMode"
OBJECT_PATH = "/com/feralinteractive/GameMode"
_SERVICE_MISSING = ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner")


class GameModeDetector:
    """Active while GameMode has registered games: "GameMode: 1 game running"."""

    name = "gamemode"

    def __init__(self, bus_address: str = "SESSION", timeout_s: float = 1.0):
        self.bus_address = bus_address
        self.timeout_s = timeout_s
        self._connection: Any | None = None

    def detect(self) -> Signal:
        try:
            count = self._client_count()
        except OSError as error:
            self._close()
            return Signal.unavailable(self.name, f"no session bus: {error}")
        except LookupError as error:
            return Signal.unavailable(self.name, str(error))
        if count <= 0:
            return Signal.clear(self.name)
        games = "1 game" if count == 1 else f"{count} games"
        return Signal(self.name, True, f"GameMode: {games} running", subject="gamemode")

    def close(self) -> None:
        self._close()

    def _client_count(self) -> int:
        """ClientCount; LookupError when GameMode is not running, OSError when the bus is unreachable."""
        from jeepney import DBusAddress, DBusErrorResponse, Properties
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import unwrap_msg
        if self._connection is None:
            try:
                self._connection = open_dbus_connection(bus=self.bus_address, auth_timeout=self.timeout_s)
            except (KeyError, ValueError, RuntimeError) as error:  # no DBUS_SESSION_BUS_ADDRESS, bad address
                raise OSError(str(error) or type(error).__name__) from None
        address = DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=BUS_NAME)
        try:
            reply = self._connection.send_and_get_reply(Properties(address).get("ClientCount"), timeout=self.timeout_s)
            (_signature, value), = unwrap_msg(reply)  # raises DBusErrorResponse for an error reply; body: a variant
        except DBusErrorResponse as error:
            if error.name in _SERVICE_MISSING:
                raise LookupError("GameMode is not running") from None
            raise LookupError(f"GameMode did not answer: {error.name}") from None
        except TimeoutError as error:
            raise OSError(f"the session bus did not answer: {error}") from None
        return int(value)

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.close()
