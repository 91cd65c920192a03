"""GPU memory of given processes, from NVML answers supplied at the boundary (this machine has no GPU)."""
from __future__ import annotations

from types import SimpleNamespace

from core.nvml import process_gpu_bytes
from core.server.resources import GIB
from tests.core.server.test_resources import FakeNVML


class FakeProcessNVML(FakeNVML):
    def __init__(self, compute: list[list[tuple[int, int]]], graphics: list[list[tuple[int, int]]]):
        super().__init__([GIB] * len(compute))
        self.compute, self.graphics = compute, graphics

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in self.compute[handle]]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in self.graphics[handle]]


def test_sums_our_processes_on_every_gpu_once_each():
    nvml = FakeProcessNVML(compute=[[(10, 3 * GIB), (99, GIB)], [(11, GIB)]],
                           graphics=[[(10, 3 * GIB)], [(12, None)]])
    assert process_gpu_bytes({10, 11, 12}, nvml) == 4 * GIB
    assert nvml.calls == ["init", "shutdown"]


def test_unknown_without_a_driver():
    assert process_gpu_bytes({1}, FakeNVML([], fail_init=True)) is None
