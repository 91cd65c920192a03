"""GameMode over a real private D-Bus session bus, with a stand-in GameMode daemon answering ClientCount."""
from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator

import pytest

from core.pause.gamemode import BUS_NAME, OBJECT_PATH, GameModeDetector

jeepney = pytest.importorskip("jeepney")
from jeepney import HeaderFields, MessageType, new_error, new_method_return  # noqa: E402 - once importorskip found it
from jeepney.bus_messages import message_bus  # noqa: E402 - once importorskip found it
from jeepney.io.blocking import open_dbus_connection  # noqa: E402 - once importorskip found it

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon is not installed")


@pytest.fixture
def session_bus() -> Iterator[str]:
    """A private dbus-daemon; yields its address."""
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = daemon.stdout.readline().strip()  # printed once the bus listens
        assert address, "dbus-daemon printed no address"
        yield address
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


class FakeGameModeDaemon:
    """Owns com.feralinteractive.GameMode and answers Properties.Get(ClientCount) with `client_count`."""

    def __init__(self, address: str, client_count: int):
        self.client_count = client_count
        self.connection = open_dbus_connection(bus=address)
        self.connection.send_and_get_reply(message_bus.RequestName(BUS_NAME), timeout=5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.connection.receive(timeout=0.1)
            except TimeoutError:
                continue
            header = message.header
            if header.message_type is not MessageType.method_call:
                continue
            if header.fields.get(HeaderFields.path) == OBJECT_PATH and message.body == (BUS_NAME, "ClientCount"):
                self.connection.send(new_method_return(message, "v", (("i", self.client_count),)))
            else:
                self.connection.send(new_error(message, "org.freedesktop.DBus.Error.UnknownProperty"))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.connection.close()


def test_registered_games_are_active(session_bus):
    daemon = FakeGameModeDaemon(session_bus, client_count=1)
    try:
        detector = GameModeDetector(bus_address=session_bus)
        signal = detector.detect()
        assert signal.active and signal.reason == "GameMode: 1 game running"
        daemon.client_count = 0
        assert not detector.detect().active
        detector.close()
    finally:
        daemon.stop()


def test_no_gamemode_service_is_unavailable(session_bus):
    signal = GameModeDetector(bus_address=session_bus).detect()
    assert not signal.active and not signal.available and "not running" in signal.reason


def test_no_session_bus_is_unavailable(monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    signal = GameModeDetector().detect()
    assert not signal.active and not signal.available
    missing = GameModeDetector(bus_address="unix:path=/nonexistent/bus").detect()
    assert not missing.active and not missing.available
