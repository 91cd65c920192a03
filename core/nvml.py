"""One NVML session per check: init, handles, shutdown, reading pynvml unless a test passes a fake module.

Callers may pass any object with pynvml's functions instead of the module (tests do: CI has no GPU);
that is the one seam to fake. Server sizing, auto-pause and the node's status all read NVML here.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any


class NvmlUnavailable(Exception):
    """No pynvml, no driver or no GPU: the detector reports itself unavailable."""


@contextmanager
def nvml_devices(nvml: Any | None = None) -> Iterator[tuple[Any, list[Any]]]:
    """Yield (nvml module, device handles); raise NvmlUnavailable when NVML cannot start."""
    if nvml is None:
        try:
            import pynvml
        except ImportError:
            raise NvmlUnavailable("pynvml (nvidia-ml-py) is not installed") from None
        nvml = pynvml
    nvml_error = getattr(nvml, "NVMLError", Exception)
    try:
        nvml.nvmlInit()
    except nvml_error as error:
        raise NvmlUnavailable(f"no NVIDIA driver: {error}") from None
    try:
        yield nvml, [nvml.nvmlDeviceGetHandleByIndex(index) for index in range(nvml.nvmlDeviceGetCount())]
    finally:
        with suppress(nvml_error):
            nvml.nvmlShutdown()


def process_gpu_bytes(pids: set[int], nvml: Any | None = None) -> int | None:
    """GPU memory used by these processes on every NVIDIA GPU; None where NVML cannot tell."""
    try:
        with nvml_devices(nvml) as (module, handles):
            nvml_error = getattr(module, "NVMLError", Exception)
            used: dict[tuple[int, int], int] = {}  # (device, pid): a process may be listed as compute and graphics
            for index, handle in enumerate(handles):
                for listing in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
                    try:
                        processes = getattr(module, listing)(handle)
                    except nvml_error:
                        continue
                    for process in processes:
                        if process.pid in pids and process.usedGpuMemory:
                            used[(index, process.pid)] = int(process.usedGpuMemory)
            return sum(used.values())
    except NvmlUnavailable:
        return None
