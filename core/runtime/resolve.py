"""Which wheels a CUDA torch needs: torch itself plus every requirement the running bundle cannot import.

Rule: a requirement is fetched unless its distribution metadata, or a module named like it (dashes as
underscores: typing-extensions -> typing_extensions), is found on sys.path outside MEADOW_HOME/runtime.
So numpy, sympy, filelock ... come from the bundle, and nvidia-*, triton and the like from the index.
"""
from __future__ import annotations

import importlib.machinery
import importlib.metadata
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from core.errors import UserFacingError
from core.runtime.index import project_files
from core.runtime.layout import search_path_without
from core.runtime.wheels import Wheel, best_wheel, requirements_of

logger = logging.getLogger(__name__)
MAX_PROJECTS = 200  # a bound against a runaway dependency graph on a broken index

MetadataReader = Callable[[Wheel], str]


@dataclass
class Plan:
    """The wheels to install, torch first, and the requirements left to the bundle."""

    wheels: list[Wheel] = field(default_factory=list)
    from_bundle: list[str] = field(default_factory=list)


def resolve(index_url: str, torch_version: str, timeout: float, read_metadata: MetadataReader,
            runtime_root: Path) -> Plan:
    """Walk the requirements from torch==<version> breadth first; raises UserFacingError when one is missing."""
    plan = Plan()
    chosen: dict[str, Wheel] = {}
    queue = [(Requirement(f"torch=={torch_version}"), "Meadow")]
    while queue:
        requirement, wanted_by = queue.pop(0)
        project = canonicalize_name(requirement.name)
        if project in chosen:
            _check_consistent(chosen[project], requirement, wanted_by)
            continue
        if project in plan.from_bundle:
            continue
        if project != "torch" and is_present(project, runtime_root):
            plan.from_bundle.append(project)
            continue
        wheel = _find(index_url, requirement, wanted_by, timeout)
        chosen[project] = wheel
        plan.wheels.append(wheel)
        if len(plan.wheels) > MAX_PROJECTS:
            raise UserFacingError(f"torch needs more than {MAX_PROJECTS} packages from {index_url}; "
                                  "is it the right index?")
        needs = requirements_of(read_metadata(wheel), wheel.link.filename)
        queue += [(needed, wheel.link.filename) for needed in needs]
    return plan


def _find(index_url: str, requirement: Requirement, wanted_by: str, timeout: float) -> Wheel:
    wheel = best_wheel(project_files(index_url, requirement.name, timeout), requirement)
    if wheel is None:
        raise UserFacingError(
            f"{index_url} has no wheel of {requirement} (needed by {wanted_by}) for this computer "
            f"(Python {sys.version_info.major}.{sys.version_info.minor}, {sys.platform}). "
            "Check --index-url and --variant; `meadow runtime status` shows the build this GPU needs.")
    logger.info("%s -> %s", requirement, wheel.link.filename)
    return wheel


def _check_consistent(wheel: Wheel, requirement: Requirement, wanted_by: str) -> None:
    if not requirement.specifier.contains(wheel.version, prereleases=True):
        raise UserFacingError(f"{wanted_by} needs {requirement}, but {wheel.link.filename} was chosen for an "
                              "earlier requirement; the index offers no consistent set of wheels")


def is_present(project: str, runtime_root: Path) -> bool:
    """Whether the running program can import this project without a runtime dir (see the module rule)."""
    search = search_path_without(runtime_root)
    if next(iter(importlib.metadata.distributions(name=project, path=search)), None) is not None:
        return True
    module = canonicalize_name(project).replace("-", "_")
    return importlib.machinery.PathFinder.find_spec(module, search) is not None

