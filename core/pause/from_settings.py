"""Builds the detectors and the monitor from settings: the one place that knows which detectors exist."""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from core.config import Settings
from core.nvml import NvmlUnavailable, nvml_devices
from core.pause.battery import BatteryDetector
from core.pause.fullscreen import FullscreenWindowDetector
from core.pause.gamemode import GameModeDetector
from core.pause.gpu import GraphicsProcessDetector, LowVramDetector
from core.pause.idle import UserActivityDetector
from core.pause.monitor import PauseMonitor, TransitionCallback
from core.pause.own_processes import OwnProcesses, own_process_tree
from core.pause.processes import ExclusiveAppsDetector
from core.pause.signals import Detector
from core.pause.state import PauseStateMachine
from core.pause.steam import SteamGameDetector

logger = logging.getLogger(__name__)


def build_detectors(settings: Settings, own_pids: OwnProcesses = own_process_tree, nvml: Any | None = None,
                    display_name: str | None = None, device_index: int = 0,
                    read_battery: Callable[[], Any] | None = None) -> list[Detector]:
    """The detectors the `pause.*` settings ask for and this machine can run.

    NVML and battery detectors are left out when the machine lacks them now (checked once, to keep the
    log quiet); X11 and GameMode ones stay, because a desktop session may start after the node.
    """
    detectors: list[Detector] = [ExclusiveAppsDetector(settings["pause.exclusive_apps"], own_pids),
                                 SteamGameDetector(own_pids)]
    if sys.platform.startswith("linux"):
        detectors.append(GameModeDetector())
    if settings["pause.fullscreen"]:
        detectors.append(FullscreenWindowDetector(display_name, own_pids))
    if settings["pause.idle_only"]:
        detectors.append(UserActivityDetector(settings["pause.idle_seconds"], display_name))
    if _nvml_works(nvml):
        detectors.append(GraphicsProcessDetector(nvml, own_pids, settings["pause.gpu_busy_percent"]))
        detectors.append(LowVramDetector(settings["server.vram_reserve_gb"], device_index, nvml))
    if settings["pause.on_battery"]:
        battery = BatteryDetector(read_battery)
        if battery.detect().available:
            detectors.append(battery)
    logger.info("Pause detectors: %s", ", ".join(detector.name for detector in detectors))
    return detectors


def build_monitor(settings: Settings, on_transition: TransitionCallback | None = None,
                  own_pids: OwnProcesses = own_process_tree, nvml: Any | None = None, device_index: int = 0,
                  clock: Callable[[], float] = time.monotonic, donating: bool = True) -> PauseMonitor:
    """A PauseMonitor (not started) wired from settings; the node calls `start()` and `stop()`."""
    state_machine = PauseStateMachine(settings["pause.resume_after_s"], settings["pause.enabled"], donating, clock)
    detectors = build_detectors(settings, own_pids, nvml, device_index=device_index)
    return PauseMonitor(detectors, state_machine, on_transition, settings["pause.poll_seconds"])


def apply_settings(monitor: PauseMonitor, settings: Settings, own_pids: OwnProcesses = own_process_tree,
                   nvml: Any | None = None, device_index: int = 0) -> None:
    """Re-read the `pause.*` settings (after PATCH /api/settings): new detectors, grace and poll period."""
    monitor.set_detectors(build_detectors(settings, own_pids, nvml, device_index=device_index))
    monitor.configure(settings["pause.resume_after_s"], settings["pause.enabled"], settings["pause.poll_seconds"])


def _nvml_works(nvml: Any | None) -> bool:
    try:
        with nvml_devices(nvml) as (_, handles):
            return bool(handles)
    except NvmlUnavailable as error:
        logger.info("No NVIDIA GPU detectors for auto-pause: %s", error)
        return False
