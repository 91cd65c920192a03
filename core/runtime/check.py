"""Try a torch build in a child process before switching to it, so a broken build never becomes active.

`meadow runtime check` (the child) imports torch with the build forced by MEADOW_TORCH and reports it;
the parent reads that event. A crash while loading native libraries then only takes down the child.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from core import events
from core.child_output import ChildFailedError, ChildOutput
from core.errors import UserFacingError
from core.launcher import spawn, stop_group
from core.runtime.activate import ENV, activated_variant

logger = logging.getLogger(__name__)
CHECK_TIMEOUT = 300.0  # a first import of a CUDA torch reads gigabytes of libraries from disk


def run_check() -> None:
    """The child side: import torch and emit TorchChecked (the variant comes from MEADOW_TORCH)."""
    import torch

    wanted, variant = os.environ.get(ENV, "").strip(), activated_variant()
    path = str(Path(torch.__file__).parent)
    if wanted and wanted != variant:
        raise UserFacingError(f"The torch build {wanted} was not activated (see the message above); "
                              f"torch came from {path}")
    cuda = getattr(torch, "cuda", None)
    available = bool(cuda is not None and cuda.is_available())
    devices: list[str] = []
    if cuda is not None and available:
        devices = [str(cuda.get_device_name(index)) for index in range(cuda.device_count())]
    events.TorchChecked(variant=variant, torch_version=str(torch.__version__), path=path,
                        cuda_available=available, devices=devices).emit()


def check_in_child(variant: str, require_cuda: bool = True) -> events.TorchChecked:
    """Run `meadow runtime check` with the variant forced; raises UserFacingError unless torch imports (and,
    with `require_cuda`, sees a GPU)."""
    process = spawn(["runtime", "check"], env={**os.environ, ENV: variant})
    output = ChildOutput(process, "meadow-runtime-check").start()
    try:
        checked = output.wait_for(events.TorchChecked, CHECK_TIMEOUT)
        code = output.wait_exit(30.0)  # it exits right after its event
    except TimeoutError:
        stop_group(process)
        raise UserFacingError(f"Importing the torch build {variant} took over {CHECK_TIMEOUT:.0f} s; "
                              "not using it") from None
    except ChildFailedError as error:
        raise UserFacingError(f"The torch build {variant} does not load on this computer ({error}); Meadow keeps its "
                              "current torch. Run `meadow runtime status` for details.") from None
    if code != 0:
        raise UserFacingError(f"The torch build {variant} does not load on this computer (exit {code}: "
                              f"{output.stderr_text()}); Meadow keeps its current torch. Run `meadow runtime status` "
                              "for details.")
    if require_cuda and variant != "cpu" and not checked.cuda_available:
        raise UserFacingError(f"The torch build {variant} loads but sees no CUDA GPU (is the NVIDIA driver new "
                              f"enough for {variant}?); Meadow keeps its current torch. Pass --force to use it anyway.")
    logger.info("Checked torch %s from %s on %s", checked.torch_version, checked.path, checked.devices)
    return checked
