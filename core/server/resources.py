"""How much memory this machine can give to blocks: free VRAM per NVIDIA GPU (NVML), else available RAM.

NVML is read through the `pynvml` module of nvidia-ml-py. Callers may pass any object with the same
functions instead (tests do: this machine has no GPU), which is the only seam to fake.
"""
from __future__ import annotations

import logging
from typing import Any

import psutil

from core.nvml import NvmlUnavailable, nvml_devices

logger = logging.getLogger(__name__)
GIB = 1024**3


def gpu_free_bytes(nvml: Any | None = None) -> list[int]:
    """Free memory of each NVIDIA GPU in NVML order; [] without a driver, a GPU or pynvml."""
    try:
        with nvml_devices(nvml) as (module, handles):
            nvml_error = getattr(module, "NVMLError", Exception)
            try:
                return [int(module.nvmlDeviceGetMemoryInfo(handle).free) for handle in handles]
            except nvml_error as error:
                logger.warning("NVML could not report free GPU memory: %s", error)
                return []
    except NvmlUnavailable as error:
        logger.info("No NVIDIA GPU to ask for free memory: %s", error)
        return []


def available_ram_bytes() -> int:
    return int(psutil.virtual_memory().available)


def usable_bytes(device_type: str, device_index: int, vram_reserve_gb: float, ram_reserve_gb: float,
                 nvml: Any | None = None) -> int:
    """Bytes the blocks may take on the device: free VRAM (or available RAM for CPU) minus the reserve.

    A CUDA device that NVML cannot see (no driver visible, CUDA_VISIBLE_DEVICES remaps) falls back to RAM
    only for CPU servers; for CUDA it reports 0 so that the caller says so instead of guessing.
    """
    if device_type == "cuda":
        free = gpu_free_bytes(nvml)
        if device_index >= len(free):
            logger.warning("NVML sees %d GPU(s); cannot read free memory of cuda:%d", len(free), device_index)
            return 0
        return max(0, free[device_index] - int(vram_reserve_gb * GIB))
    return max(0, available_ram_bytes() - int(ram_reserve_gb * GIB))
