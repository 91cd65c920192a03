"""Detectors and the monitor built from the `pause.*` settings."""
from __future__ import annotations

from types import SimpleNamespace

from core.config import Settings
from core.pause.from_settings import apply_settings, build_detectors, build_monitor
from core.pause.processes import ExclusiveAppsDetector
from core.server.resources import GIB
from tests.core.server.test_resources import FakeNVML

NO_DRIVER = FakeNVML([], fail_init=True)


def names(detectors) -> list[str]:
    return [detector.name for detector in detectors]


def test_defaults_on_a_machine_without_gpu_or_battery():
    detectors = build_detectors(Settings.load([]), nvml=NO_DRIVER, read_battery=lambda: None)
    assert names(detectors) == ["exclusive_apps", "steam", "gamemode", "x11_fullscreen"]


def test_every_detector_where_the_machine_has_the_facilities():
    settings = Settings.load(["pause.idle_only=true", "pause.exclusive_apps=blender,Game.exe"])
    plugged = SimpleNamespace(percent=90, secsleft=0, power_plugged=True)
    detectors = build_detectors(settings, nvml=FakeNVML([8 * GIB]), read_battery=lambda: plugged)
    assert names(detectors) == ["exclusive_apps", "steam", "gamemode", "x11_fullscreen", "user_activity",
                                "gpu_graphics", "vram", "battery"]
    assert isinstance(detectors[0], ExclusiveAppsDetector) and detectors[0].programs == {"blender", "game"}


def test_settings_switch_detectors_off():
    settings = Settings.load(["pause.fullscreen=false", "pause.on_battery=false"])
    plugged = SimpleNamespace(percent=90, secsleft=0, power_plugged=True)
    detectors = build_detectors(settings, nvml=NO_DRIVER, read_battery=lambda: plugged)
    assert names(detectors) == ["exclusive_apps", "steam", "gamemode"]


def test_monitor_from_settings_and_reconfigured():
    monitor = build_monitor(Settings.load(["pause.resume_after_s=5", "pause.poll_seconds=0.5"]))
    assert monitor.poll_seconds == 0.5 and monitor.state_machine.resume_after_s == 5
    apply_settings(monitor, Settings.load(["pause.enabled=false", "pause.poll_seconds=3"]))
    assert monitor.poll_seconds == 3 and not monitor.state_machine.auto_pause
