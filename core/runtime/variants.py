"""The one table of torch CUDA builds Meadow can fetch, and the choice of the build a driver can run.

A build named cuXY needs a driver whose CUDA version is at least X.Y, and its kernels target only GPUs
from a minimum compute capability on (newer CUDA toolkits dropped old architectures). Keep the table in
step with the CUDA builds published for the bundled torch version (https://pytorch.org/get-started/).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import UserFacingError


@dataclass(frozen=True)
class CudaVariant:
    name: str
    cuda: tuple[int, int]
    min_capability: tuple[int, int]


# Oldest first. cu128 builds dropped Maxwell and Pascal (sm_5x, sm_6x); cu130 builds dropped Volta (sm_70).
VARIANTS: tuple[CudaVariant, ...] = (
    CudaVariant("cu126", (12, 6), (5, 0)),
    CudaVariant("cu128", (12, 8), (7, 0)),
    CudaVariant("cu130", (13, 0), (7, 5)),
)

_NAME = re.compile(r"cu\d{3,4}\Z")


def choose_variant(driver_cuda: tuple[int, int], capabilities: list[tuple[int, int]]) -> CudaVariant | None:
    """The newest build the driver can run and every GPU's architecture supports; None if none fits."""
    oldest_gpu = min(capabilities) if capabilities else None
    fitting = [variant for variant in VARIANTS if variant.cuda <= driver_cuda
               and (oldest_gpu is None or variant.min_capability <= oldest_gpu)]
    return fitting[-1] if fitting else None


def is_cuda_variant_name(name: str) -> bool:
    """cuXYZ: any CUDA build an index may offer, not only those in the table."""
    return bool(_NAME.match(name))


def check_variant_name(name: str) -> str:
    """Accept `cpu` or a cuXYZ name, else raise UserFacingError."""
    if name == "cpu" or is_cuda_variant_name(name):
        return name
    raise UserFacingError(f"Unknown torch build {name!r}: expected cpu or a CUDA build such as "
                          + ", ".join(variant.name for variant in VARIANTS))


def format_cuda(version: tuple[int, int] | None) -> str:
    return "none" if version is None else f"{version[0]}.{version[1]}"
