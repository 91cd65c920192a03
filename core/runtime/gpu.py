"""Which torch build this machine needs: NVIDIA GPUs and the driver's CUDA version, read through NVML.

NVML is read through core/nvml.py, whose fake-module seam the tests use (this machine has no GPU).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from core.nvml import NvmlUnavailable, nvml_devices
from core.runtime.variants import CudaVariant, choose_variant, format_cuda

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuReport:
    """What NVML says about this machine and the torch build that fits it (`variant` None: CPU torch)."""

    gpus: list[str] = field(default_factory=list)
    driver_cuda: tuple[int, int] | None = None
    variant: CudaVariant | None = None
    reason: str = ""

    @property
    def needed(self) -> str:
        """The variant name to install, or `cpu` when the bundled CPU torch is all this machine can use."""
        return self.variant.name if self.variant else "cpu"


def detect(nvml: Any | None = None) -> GpuReport:
    """Ask NVML for GPUs and the driver's CUDA version; never raises (a machine without NVIDIA gets a reason)."""
    try:
        with nvml_devices(nvml) as (module, handles):
            nvml_error = getattr(module, "NVMLError", Exception)
            try:
                return _report(module, handles)
            except nvml_error as error:
                logger.warning("NVML failed while reading the GPUs: %s", error)
                return GpuReport(reason=f"the NVIDIA driver did not answer ({error}); update or reinstall the driver")
    except NvmlUnavailable as error:
        logger.info("No NVIDIA GPU to detect: %s", error)
        return GpuReport(reason=f"{error}; CUDA torch is not needed")


def _report(nvml: Any, handles: list[Any]) -> GpuReport:
    if not handles:
        return GpuReport(reason="the NVIDIA driver sees no GPU; CUDA torch is not needed")
    names = [_text(nvml.nvmlDeviceGetName(handle)) for handle in handles]
    capabilities = [tuple(nvml.nvmlDeviceGetCudaComputeCapability(handle)) for handle in handles]
    driver_cuda = _driver_cuda(nvml)
    variant = choose_variant(driver_cuda, capabilities)
    if variant is None:
        reason = (f"the driver supports CUDA {format_cuda(driver_cuda)}, older than any CUDA build of torch "
                  "Meadow can fetch; update the NVIDIA driver (CPU torch works meanwhile)")
    else:
        reason = f"the driver supports CUDA {format_cuda(driver_cuda)}; the newest fitting build is {variant.name}"
    return GpuReport(names, driver_cuda, variant, reason)


def _driver_cuda(nvml: Any) -> tuple[int, int]:
    # The _v2 call exists from driver 440 on; both encode 12.8 as 12080.
    query = getattr(nvml, "nvmlSystemGetCudaDriverVersion_v2", None) or nvml.nvmlSystemGetCudaDriverVersion
    encoded = int(query())
    return encoded // 1000, (encoded % 1000) // 10


def _text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
