"""NVIDIA detectors with NVML answers supplied at the boundary (the fake of tests/core/server), and real
processes behind the pids it lists, so that names come from the real process table."""
from __future__ import annotations

import os
from types import SimpleNamespace

from core.pause.gpu import GraphicsProcessDetector, LowVramDetector
from core.server.resources import GIB
from tests.core.server.test_resources import FakeNVML, FakeNVMLError

NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_NOT_SUPPORTED = 3


class FakeNVMLErrorWithCode(FakeNVMLError):
    def __init__(self, value: int):
        super().__init__(f"NVML error {value}")
        self.value = value


class FakeGraphicsNVML(FakeNVML):
    """One GPU with the given graphics processes and, optionally, per-process SM load (None: not supported)."""

    NVML_ERROR_NOT_FOUND = NVML_ERROR_NOT_FOUND

    def __init__(self, graphics_pids: list[int], load: dict[int, float] | None = None, free: int = 8 * GIB):
        super().__init__([free])
        self.graphics_pids = graphics_pids
        self.load = load
        self.asked_since: list[int] = []

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=pid, usedGpuMemory=512 * 2**20) for pid in self.graphics_pids]

    def nvmlDeviceGetProcessUtilization(self, handle: int, last_seen_us: int) -> list[SimpleNamespace]:
        self.asked_since.append(last_seen_us)
        if self.load is None:
            raise FakeNVMLErrorWithCode(NVML_ERROR_NOT_SUPPORTED)
        if not self.load:
            raise FakeNVMLErrorWithCode(NVML_ERROR_NOT_FOUND)
        return [SimpleNamespace(pid=pid, smUtil=util, memUtil=0, timeStamp=last_seen_us + 1000)
                for pid, util in self.load.items()]


def only_this_process() -> set[int]:
    return {os.getpid()}


def test_a_foreign_graphics_process_is_named(tmp_path, start_program):
    game = start_program(tmp_path / "fake-game-launcher-xyz")
    signal = GraphicsProcessDetector(FakeGraphicsNVML([game.pid]), only_this_process).detect()
    assert signal.active and signal.reason == "fake-game-launcher-xyz is using the GPU for graphics"


def test_desktop_programs_and_our_own_processes_are_ignored(tmp_path, start_program):
    compositor = start_program(tmp_path / "gnome-shell")
    nvml = FakeGraphicsNVML([compositor.pid, os.getpid()])
    assert not GraphicsProcessDetector(nvml, only_this_process).detect().active


def test_with_per_process_load_only_busy_programs_count(tmp_path, start_program):
    idle = start_program(tmp_path / "idle-launcher")
    busy = start_program(tmp_path / "busy-game")
    nvml = FakeGraphicsNVML([idle.pid, busy.pid], load={idle.pid: 2.0, busy.pid: 85.0})
    detector = GraphicsProcessDetector(nvml, only_this_process, busy_percent=30)
    assert detector.detect().subject == "busy-game"
    detector.detect()
    assert nvml.asked_since[0] == 0 and nvml.asked_since[1] > 0  # only samples newer than the last poll


def test_no_new_load_samples_means_nobody_is_busy(tmp_path, start_program):
    game = start_program(tmp_path / "paused-game")
    assert not GraphicsProcessDetector(FakeGraphicsNVML([game.pid], load={}), only_this_process).detect().active


def test_vanished_pids_are_skipped():
    gone = 2**22 + 12345  # above the kernel's default pid_max
    assert not GraphicsProcessDetector(FakeGraphicsNVML([gone]), only_this_process).detect().active


def test_without_a_driver_the_detectors_are_unavailable():
    for detector in (GraphicsProcessDetector(FakeNVML([], fail_init=True)),
                     LowVramDetector(1.0, nvml=FakeNVML([], fail_init=True))):
        signal = detector.detect()
        assert not signal.active and not signal.available


def test_a_driver_that_cannot_list_graphics_processes_is_unavailable():
    class NoListing(FakeGraphicsNVML):
        def nvmlDeviceGetGraphicsRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
            raise FakeNVMLErrorWithCode(NVML_ERROR_NOT_SUPPORTED)

    nvml = NoListing([])
    signal = GraphicsProcessDetector(nvml, only_this_process).detect()
    assert not signal.available and "cannot list graphics processes" in signal.reason
    assert nvml.calls == ["init", "shutdown"]


def test_real_pynvml_without_a_gpu_is_unavailable():
    assert not GraphicsProcessDetector().detect().available  # nvidia-ml-py installed, no driver here


def test_free_vram_below_the_reserve():
    signal = LowVramDetector(1.5, nvml=FakeNVML([GIB])).detect()
    assert signal.active and signal.reason == "free GPU memory 1.0 GiB is below the 1.5 GiB reserve"
    assert not LowVramDetector(1.5, nvml=FakeNVML([2 * GIB])).detect().active
    assert LowVramDetector(1.5, device_index=1, nvml=FakeNVML([8 * GIB, GIB // 2])).detect().active
    assert not LowVramDetector(1.5, device_index=2, nvml=FakeNVML([8 * GIB])).detect().available
