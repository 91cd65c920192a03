"""NVIDIA detectors: other programs drawing on the GPU (graphics contexts), and free VRAM below the reserve.

NVML lists graphics (OpenGL, Vulkan, DirectX) contexts apart from CUDA ones, so our own CUDA server never
shows up there; our pids are excluded anyway. The desktop itself (compositor, browsers) always holds a
graphics context, so those programs are ignored, and where the driver reports per-process load only a
program using at least `busy_percent` of the GPU counts.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

import psutil

from core.nvml import NvmlUnavailable, nvml_devices
from core.pause.own_processes import OwnProcesses, own_process_tree
from core.pause.processes import ProcessView, display_name, normalized_program_name, program_names
from core.pause.signals import Signal, SignalKind
from core.server.resources import GIB, gpu_free_bytes

DESKTOP_PROGRAMS = frozenset(normalized_program_name(name) for name in (
    "Xorg", "X", "Xwayland", "gnome-shell", "mutter", "kwin_x11", "kwin_wayland", "plasmashell", "xfwm4", "picom",
    "compton", "cinnamon", "muffin", "marco", "budgie-wm", "sway", "Hyprland", "weston", "gnome-remote-desktop-daemon",
    "firefox", "firefox-bin", "chrome", "chromium", "brave", "msedge", "opera", "vivaldi-bin", "code", "electron",
    "dwm.exe", "explorer.exe", "SearchHost.exe", "TextInputHost.exe", "ShellExperienceHost.exe",
    "StartMenuExperienceHost.exe", "Widgets.exe", "meadow",
))


class GraphicsProcessDetector:
    """Active while a program other than ours and the desktop's draws on an NVIDIA GPU."""

    name = "gpu_graphics"

    def __init__(self, nvml: Any | None = None, own_pids: OwnProcesses = own_process_tree,
                 busy_percent: float = 30.0, ignored_programs: Collection[str] = DESKTOP_PROGRAMS):
        self.nvml = nvml
        self.own_pids = own_pids
        self.busy_percent = busy_percent
        self.ignored_programs = frozenset(ignored_programs)
        self._last_sample_us: dict[int, int] = {}  # per device: timestamp of the newest load sample seen

    def detect(self) -> Signal:
        try:
            with nvml_devices(self.nvml) as (nvml, handles):
                ours = set(self.own_pids())
                names = sorted({name for index, handle in enumerate(handles)
                                for name in self._busy_programs(nvml, index, handle, ours)})
        except NvmlUnavailable as error:
            return Signal.unavailable(self.name, str(error))
        if not names:
            return Signal.clear(self.name)
        return Signal(self.name, True, f"{', '.join(names)} is using the GPU for graphics", SignalKind.GAME,
                      subject=",".join(names))

    def _busy_programs(self, nvml: Any, index: int, handle: Any, ours: set[int]) -> list[str]:
        try:
            pids = {process.pid for process in nvml.nvmlDeviceGetGraphicsRunningProcesses(handle)} - ours
        except getattr(nvml, "NVMLError", Exception) as error:  # e.g. not supported by this GPU or driver
            raise NvmlUnavailable(f"NVML cannot list graphics processes: {error}") from None
        views = [view for view in map(_process_view, sorted(pids))
                 if view is not None and not program_names(view) & self.ignored_programs]
        load = self._load_by_pid(nvml, index, handle)
        if load is not None:
            views = [view for view in views if load.get(view.pid, 0) >= self.busy_percent]
        return [display_name(view) for view in views]

    def _load_by_pid(self, nvml: Any, index: int, handle: Any) -> dict[int, float] | None:
        """Recent SM load per pid; {} when no new samples exist, None when the driver cannot tell."""
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(handle, self._last_sample_us.get(index, 0))
        except getattr(nvml, "NVMLError", Exception) as error:
            if getattr(error, "value", None) == getattr(nvml, "NVML_ERROR_NOT_FOUND", object()):
                return {}  # no sample since the last poll: nobody kept the GPU busy
            return None
        if samples:
            self._last_sample_us[index] = max(int(sample.timeStamp) for sample in samples)
        load: dict[int, float] = {}
        for sample in samples:
            load[sample.pid] = max(load.get(sample.pid, 0.0), float(sample.smUtil))
        return load


class LowVramDetector:
    """Active while free memory of the served GPU is below `server.vram_reserve_gb` (a game grabbed it)."""

    name = "vram"

    def __init__(self, reserve_gb: float, device_index: int = 0, nvml: Any | None = None):
        self.reserve_gb = reserve_gb
        self.device_index = device_index
        self.nvml = nvml

    def detect(self) -> Signal:
        free = gpu_free_bytes(self.nvml)  # the seam of core/server/resources.py: [] without NVML or a GPU
        if self.device_index >= len(free):
            return Signal.unavailable(self.name, f"NVML sees no GPU {self.device_index}", SignalKind.MEMORY)
        if free[self.device_index] >= self.reserve_gb * GIB:
            return Signal.clear(self.name, SignalKind.MEMORY)
        reason = f"free GPU memory {free[self.device_index] / GIB:.1f} GiB is below the {self.reserve_gb:g} GiB reserve"
        return Signal(self.name, True, reason, SignalKind.MEMORY, subject="vram")


def _process_view(pid: int) -> ProcessView | None:
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            return ProcessView(pid, _or_empty(process.exe), tuple(_or_empty(process.cmdline) or ()))
    except psutil.NoSuchProcess:
        return None  # gone since NVML listed it
    except psutil.Error:
        return ProcessView(pid, "", ())  # another user's process in another namespace: unknown, still foreign


def _or_empty(read: Any) -> Any:
    try:
        return read()
    except psutil.AccessDenied:
        return ""
