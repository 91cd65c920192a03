"""On battery, with psutil's battery answers supplied at the boundary (this machine has no battery)."""
from __future__ import annotations

from types import SimpleNamespace

from core.pause.battery import BatteryDetector


def battery(plugged: bool | None, percent: float | None = 57.0) -> SimpleNamespace:
    return SimpleNamespace(percent=percent, secsleft=3600, power_plugged=plugged)


def test_on_battery_is_active_with_the_charge():
    signal = BatteryDetector(lambda: battery(False)).detect()
    assert signal.active and signal.reason == "on battery (57%)"


def test_plugged_in_or_unknown_is_clear():
    assert not BatteryDetector(lambda: battery(True)).detect().active
    assert not BatteryDetector(lambda: battery(None)).detect().active


def test_no_battery_is_unavailable():
    signal = BatteryDetector(lambda: None).detect()
    assert not signal.active and not signal.available


def test_this_machine_reads_its_real_sensor_without_failing():
    assert not BatteryDetector().detect().active  # a server or CI machine: no battery, or plugged in
