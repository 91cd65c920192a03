"""Free memory: NVML answers supplied at the boundary (this machine has no GPU), and available RAM."""
from __future__ import annotations

from types import SimpleNamespace

from core.server.resources import GIB, available_ram_bytes, gpu_free_bytes, usable_bytes


class FakeNVMLError(Exception):
    pass


class FakeNVML:
    """Answers like pynvml for GPUs with the given free memory; `fail_init` plays a machine without a driver."""

    NVMLError = FakeNVMLError

    def __init__(self, free: list[int], fail_init: bool = False):
        self.free = free
        self.fail_init = fail_init
        self.calls: list[str] = []

    def nvmlInit(self) -> None:
        self.calls.append("init")
        if self.fail_init:
            raise FakeNVMLError("NVML Shared Library Not Found")

    def nvmlDeviceGetCount(self) -> int:
        return len(self.free)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(total=24 * GIB, free=self.free[handle], used=24 * GIB - self.free[handle])

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")


def test_free_memory_of_each_gpu():
    nvml = FakeNVML([10 * GIB, 3 * GIB])
    assert gpu_free_bytes(nvml) == [10 * GIB, 3 * GIB]
    assert nvml.calls == ["init", "shutdown"]


def test_no_driver_means_no_gpus():
    assert gpu_free_bytes(FakeNVML([], fail_init=True)) == []


def test_the_desktop_reserve_is_kept_free():
    nvml = FakeNVML([10 * GIB, 3 * GIB])
    assert usable_bytes("cuda", 0, 1.5, 0.0, nvml) == int(8.5 * GIB)
    assert usable_bytes("cuda", 1, 4.0, 0.0, nvml) == 0  # never negative
    assert usable_bytes("cuda", 2, 1.0, 0.0, nvml) == 0  # a GPU NVML does not see


def test_cpu_servers_use_available_ram():
    assert 0 < usable_bytes("cpu", 0, 100.0, 0.5, FakeNVML([])) <= available_ram_bytes()


def test_real_pynvml_without_a_gpu_reports_none():
    assert gpu_free_bytes() == []  # nvidia-ml-py is installed, but there is no driver here
