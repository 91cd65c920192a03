"""On battery: psutil's battery sensor; a desktop without a battery (None) never pauses."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from core.pause.signals import Signal, SignalKind


class BatteryDetector:
    """Active while the computer runs on battery. `read_battery` is psutil.sensors_battery unless a test
    supplies another (this machine has no battery)."""

    name = "battery"

    def __init__(self, read_battery: Callable[[], Any] | None = None):
        self.read_battery = read_battery or _sensors_battery

    def detect(self) -> Signal:
        battery = self.read_battery()
        if battery is None:
            return Signal.unavailable(self.name, "no battery", SignalKind.BATTERY)
        if battery.power_plugged is None or battery.power_plugged:
            return Signal.clear(self.name, SignalKind.BATTERY)  # unknown counts as plugged: never pause on a guess
        percent = f" ({battery.percent:.0f}%)" if battery.percent is not None else ""
        return Signal(self.name, True, f"on battery{percent}", SignalKind.BATTERY, subject="battery")


def _sensors_battery() -> Any:
    # Not every platform build of psutil has the function.
    sensors_battery = getattr(psutil, "sensors_battery", None)
    return sensors_battery() if sensors_battery is not None else None
