"""Where fetched torch builds live and which one is active, under MEADOW_HOME/runtime/.

    runtime/torch-<variant>/            one installed build: an unpacked site dir plus meadow-runtime.json
    runtime/active                      the variant to activate at start (`cpu` or absent: the bundled torch)
    runtime/failed.json                 a build that failed to import: skipped until `runtime use` passes again
    runtime/.staging-<variant>-<pid>-*  an install in progress; never activated, removed when it ends

Activation reads this at every start, so this module imports nothing heavy.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from core.paths import meadow_home, write_atomically

MANIFEST = "meadow-runtime.json"
STAGING_PREFIX = ".staging-"


def runtime_root() -> Path:
    return meadow_home() / "runtime"


def variant_dir(variant: str) -> Path:
    return runtime_root() / f"torch-{variant}"


def python_tag() -> str:
    """The interpreter a build was fetched for; a build for another Python cannot be imported."""
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def search_path_without(root: Path) -> list[str]:
    """sys.path without the entries inside `root`: where the program finds its own (bundled) packages."""
    root = root.resolve()

    def inside(entry: str) -> bool:
        try:
            return bool(entry) and Path(entry).resolve().is_relative_to(root)
        except OSError:
            return False

    return [entry for entry in sys.path if not inside(entry)]


def _read_json_dict(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_manifest(variant: str) -> dict[str, Any] | None:
    """The manifest of an installed variant, or None if it is not (completely) installed."""
    return _read_json_dict(variant_dir(variant) / MANIFEST)


def installed_variants() -> list[str]:
    root = runtime_root()
    if not root.is_dir():
        return []
    names = [path.name.removeprefix("torch-") for path in root.glob("torch-*") if path.is_dir()]
    return sorted(name for name in names if read_manifest(name) is not None)


def read_active() -> str:
    try:
        return (runtime_root() / "active").read_text(encoding="utf-8").strip() or "cpu"
    except OSError:
        return "cpu"


def write_active(variant: str) -> None:
    write_atomically(runtime_root() / "active", (variant + "\n").encode())


def read_failure() -> dict[str, Any] | None:
    """{"variant": ..., "error": ...} when a build failed to import at a start, else None."""
    return _read_json_dict(runtime_root() / "failed.json")


def write_failure(variant: str, error: str) -> None:
    write_atomically(runtime_root() / "failed.json", json.dumps({"variant": variant, "error": error}).encode())


def clear_failure() -> None:
    (runtime_root() / "failed.json").unlink(missing_ok=True)
