"""Detection: NVML answers supplied at the boundary (this machine has no GPU)."""
from __future__ import annotations

from core.runtime.gpu import detect
from core.server.resources import GIB
from tests.core.server.test_resources import FakeNVML, FakeNVMLError


class FakeGpuNVML(FakeNVML):
    """Answers like pynvml for the given GPUs (name, compute capability) and driver CUDA version."""

    def __init__(self, gpus: list[tuple[str, tuple[int, int]]], cuda: int = 12080, fail_init: bool = False):
        super().__init__([GIB] * len(gpus), fail_init)
        self.gpus = gpus
        self.cuda = cuda

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return self.gpus[handle][0].encode()  # older pynvml returns bytes

    def nvmlDeviceGetCudaComputeCapability(self, handle: int) -> tuple[int, int]:
        return self.gpus[handle][1]

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return self.cuda


def test_a_gpu_with_a_recent_driver_needs_the_newest_fitting_build():
    nvml = FakeGpuNVML([("NVIDIA GeForce RTX 4090", (8, 9))], cuda=12090)
    report = detect(nvml)
    assert report.gpus == ["NVIDIA GeForce RTX 4090"] and report.driver_cuda == (12, 9)
    assert report.needed == "cu128" and "12.9" in report.reason
    assert nvml.calls == ["init", "shutdown"]


def test_no_driver_or_no_gpu_means_cpu_torch():
    assert detect(FakeGpuNVML([], fail_init=True)).needed == "cpu"
    assert "no NVIDIA driver" in detect(FakeGpuNVML([], fail_init=True)).reason
    report = detect(FakeGpuNVML([]))
    assert report.needed == "cpu" and "sees no GPU" in report.reason


def test_an_old_driver_is_told_to_update():
    report = detect(FakeGpuNVML([("Tesla T4", (7, 5))], cuda=11080))
    assert report.needed == "cpu" and report.driver_cuda == (11, 8)
    assert "update the NVIDIA driver" in report.reason


def test_a_driver_error_while_reading_is_reported_not_raised():
    nvml = FakeGpuNVML([("A100", (8, 0))])

    def lost(handle: object) -> tuple[int, int]:
        raise FakeNVMLError("GPU lost")

    nvml.nvmlDeviceGetCudaComputeCapability = lost  # type: ignore[method-assign]  # the GPU is lost mid-read
    report = detect(nvml)
    assert report.needed == "cpu" and "GPU lost" in report.reason and nvml.calls == ["init", "shutdown"]


def test_the_real_pynvml_on_this_machine_does_not_raise():
    assert detect().needed in ("cpu", "cu126", "cu128", "cu130")
