"""Make `import torch` load the CUDA build in MEADOW_HOME/runtime/torch-<variant>/ instead of the bundled one.

core/cli.py main() calls `activate_for_command` before anything imports torch; every child (`meadow node`,
`meadow serve`, ...) goes through main() too. Two things take effect:
- the build's dir goes first on sys.path (torch's own loader searches sys.path for the nvidia-* libraries,
  and importlib.metadata then reports the CUDA torch), and
- a meta path finder in front of every other finder resolves the build's top-level packages (torch,
  triton, nvidia, ...) and their submodules from that dir only. PyInstaller >= 6 hooks in as a path entry
  finder, which sys.path order already beats; older PyInstaller put its importer first in sys.meta_path,
  and any code may reorder sys.path; the finder makes the choice independent of both.

`MEADOW_TORCH=cpu` (or `meadow --cpu ...`, which sets it for children too) bypasses the runtime dir;
`MEADOW_TORCH=<variant>` forces a variant (how `runtime use` tests a build in a child before switching).
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from core.runtime import layout
from core.runtime.variants import is_cuda_variant_name

ENV = "MEADOW_TORCH"
_activated: str | None = None  # the variant this process activated, for `runtime check`


def activate_for_command(argv: list[str]) -> list[str]:
    """Strip a leading `--cpu` (kept for children through the environment), activate; returns the rest."""
    if argv[:1] == ["--cpu"]:
        os.environ[ENV] = "cpu"
        argv = argv[1:]
    activate_runtime()
    return argv


def activate_runtime() -> str | None:
    """Activate the chosen CUDA build; returns its variant, or None when the bundled torch stays in use.

    A build that cannot be used is skipped with a message on stderr, never silently."""
    global _activated
    forced = os.environ.get(ENV, "").strip()
    variant = forced or layout.read_active()
    if _activated or variant == "cpu" or "torch" in sys.modules:  # once some torch is loaded, it is too late
        return _activated
    problem = usability_problem(variant, forced=bool(forced))
    if problem:
        print(f"meadow: {problem}; using the bundled CPU torch.", file=sys.stderr)
        return None
    directory = layout.variant_dir(variant)
    sys.path.insert(0, str(directory))
    sys.meta_path.insert(0, RuntimeFinder(directory, variant, guard=not forced))
    _activated = variant
    return variant


def activated_variant() -> str:
    """The CUDA build this process activated, or `cpu` for the bundled torch."""
    return _activated or "cpu"


def usability_problem(variant: str, forced: bool = False) -> str | None:
    """Why the installed build cannot be activated here, or None."""
    if not is_cuda_variant_name(variant):
        return f"{ENV} or {layout.runtime_root() / 'active'} names {variant!r}, which is not cpu or a cuXYZ build"
    manifest = layout.read_manifest(variant)
    if manifest is None:
        return (f"the torch build {variant} is not installed in {layout.runtime_root()} "
                f"(run `meadow runtime install-cuda --variant {variant}`, or `meadow runtime use cpu`)")
    if manifest.get("python") != layout.python_tag():
        return (f"the torch build {variant} was fetched for {manifest.get('python')}, but Meadow now runs "
                f"{layout.python_tag()}; run `meadow runtime install-cuda` again")
    bundled = bundled_torch_version()
    fetched = str(manifest.get("torch_version", "")).split("+")[0]
    if bundled and fetched != bundled:
        return (f"the torch build {variant} is torch {fetched}, but this Meadow needs torch {bundled}; "
                "run `meadow runtime install-cuda` again")
    failure = layout.read_failure()
    if not forced and failure and failure.get("variant") == variant:
        return (f"the torch build {variant} failed to load at an earlier start ({failure.get('error')}); "
                f"once the cause is fixed (often the NVIDIA driver), run `meadow runtime use {variant}`")
    return None


def bundled_torch_version() -> str | None:
    """The public version of the torch that ships with this program (read before activation)."""
    import importlib.metadata

    search = layout.search_path_without(layout.runtime_root())
    found = next(iter(importlib.metadata.distributions(name="torch", path=search)), None)
    return found.version.split("+")[0] if found is not None else None


class RuntimeFinder(importlib.abc.MetaPathFinder):
    """Finds the runtime dir's top-level packages and their submodules in that dir, before anyone else."""

    def __init__(self, directory: Path, variant: str, guard: bool):
        self.directory = directory
        self.variant = variant
        self.guard = guard
        self.top_level = top_level_names(directory)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self.top_level:
            return None
        search = [str(self.directory)] if "." not in fullname else [
            entry for entry in (path or []) if Path(entry).is_relative_to(self.directory)]
        if not search:
            return None  # the parent package was imported from elsewhere before activation
        spec = importlib.machinery.PathFinder.find_spec(fullname, search, target)
        if (spec is not None and spec.origin is not None and fullname == "torch" and self.guard
                and isinstance(spec.loader, importlib.machinery.SourceFileLoader)):
            spec.loader = GuardedLoader(fullname, spec.origin, self.variant)
        return spec


class GuardedLoader(importlib.machinery.SourceFileLoader):
    """Loads torch/__init__.py; if that fails, records the failure so the next start uses the bundled torch.

    The failing process itself cannot switch back: the CUDA build's native libraries may already be
    loaded, and mixing them with the CPU build's libraries of the same names would crash or misbehave."""

    def __init__(self, fullname: str, path: str, variant: str):
        super().__init__(fullname, path)
        self.variant = variant

    def exec_module(self, module: ModuleType) -> None:
        try:
            super().exec_module(module)
        except Exception as error:
            message = f"{type(error).__name__}: {error}"
            layout.write_failure(self.variant, message)
            print(f"meadow: the CUDA build of torch ({self.variant}, in {layout.variant_dir(self.variant)}) failed "
                  f"to load: {message}. Meadow will use the bundled CPU torch from the next start on; once the "
                  f"cause is fixed, run `meadow runtime use {self.variant}` to try the CUDA build again.",
                  file=sys.stderr)
            raise


def top_level_names(directory: Path) -> frozenset[str]:
    """Importable top-level names in an unpacked site dir: packages, namespace dirs and modules."""
    names = set()
    for entry in directory.iterdir():
        if entry.name.startswith(".") or entry.name == "__pycache__" or entry.name.endswith((".dist-info", ".data")):
            continue
        if entry.is_dir():
            names.add(entry.name)
        elif entry.suffix in (".py", ".so", ".pyd"):
            names.add(entry.name.split(".")[0])
    return frozenset(names)
