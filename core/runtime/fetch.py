"""Fetch a CUDA build of torch from a PEP 503 index into MEADOW_HOME/runtime/torch-<variant>/.

Everything is written under a staging dir next to the target and renamed into place only when every
wheel was downloaded, verified and unpacked, with the manifest written last; so a failed or cancelled
install leaves nothing that activation would pick up, and the staging dir is removed on the way out.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from core.errors import UserFacingError
from core.runtime.layout import MANIFEST, STAGING_PREFIX, python_tag, runtime_root, variant_dir
from core.runtime.resolve import Plan, resolve
from core.runtime.transfer import Progress, download, read_text
from core.runtime.unpack import unpack_wheel
from core.runtime.wheels import Wheel, wheel_metadata

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstallRequest:
    variant: str
    index_url: str
    torch_version: str
    timeout: float


def install(request: InstallRequest, on_resolved: Callable[[Plan], None], on_progress: Progress) -> Path:
    """Resolve, download, verify and unpack every wheel, then move the result into place; returns its dir."""
    root = runtime_root()
    root.mkdir(parents=True, exist_ok=True)
    remove_abandoned(root)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{request.variant}-{os.getpid()}-", dir=root))
    try:
        fetcher = _WheelFetcher(staging / "downloads", request.timeout, on_progress)
        plan = resolve(request.index_url, request.torch_version, request.timeout, fetcher.metadata, root)
        on_resolved(plan)
        site = staging / "site"
        site.mkdir()
        for wheel in plan.wheels:
            path = fetcher.fetch(wheel)
            unpack_wheel(path, site)
            path.unlink()  # a CUDA build is gigabytes: never hold the wheels and their contents at once
        _write_manifest(site, request, plan)
        return _move_into_place(site, variant_dir(request.variant))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _WheelFetcher:
    """Downloads each wheel once, and reads metadata from the index (PEP 658) when it offers it."""

    def __init__(self, directory: Path, timeout: float, on_progress: Progress):
        self.directory = directory
        self.timeout = timeout
        self.on_progress = on_progress
        directory.mkdir(parents=True)

    def fetch(self, wheel: Wheel) -> Path:
        target = self.directory / wheel.link.filename
        if not target.exists():
            partial = target.with_name(target.name + ".part")
            download(wheel.link.url, partial, self.timeout, wheel.link.sha256, self.on_progress, target.name)
            partial.rename(target)
        return target

    def metadata(self, wheel: Wheel) -> str:
        if wheel.link.has_metadata:
            try:
                return self._index_metadata(wheel)
            except UserFacingError as error:
                logger.warning("Falling back to the wheel for %s's metadata: %s", wheel.link.filename, error)
        return wheel_metadata(self.fetch(wheel))

    def _index_metadata(self, wheel: Wheel) -> str:
        if wheel.link.metadata_sha256:  # small, but verified like the wheel it describes
            target = self.directory / (wheel.link.filename + ".metadata")
            download(wheel.link.metadata_url, target, self.timeout, wheel.link.metadata_sha256, lambda *_: None,
                     target.name)
            return target.read_text(encoding="utf-8", errors="replace")
        return read_text(wheel.link.metadata_url, self.timeout)


def _write_manifest(site: Path, request: InstallRequest, plan: Plan) -> None:
    torch = plan.wheels[0]
    manifest = {"variant": request.variant, "torch_version": str(torch.version), "python": python_tag(),
                "index_url": request.index_url, "wheels": [wheel.link.filename for wheel in plan.wheels],
                "from_bundle": plan.from_bundle}
    (site / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _move_into_place(site: Path, target: Path) -> Path:
    # Two renames, because no OS replaces a non-empty directory in one; in between the variant simply
    # counts as not installed (activation then keeps the bundled torch).
    old = target.with_name(f"{STAGING_PREFIX}old-{target.name}-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(site, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def remove_abandoned(root: Path) -> None:
    """Delete staging dirs of installs whose process is gone (killed, or the machine lost power)."""
    for path in root.glob(STAGING_PREFIX + "*"):
        owner = _owner_pid(path.name)
        if owner is None or (owner != os.getpid() and not psutil.pid_exists(owner)):
            logger.info("Removing an abandoned install: %s", path)
            shutil.rmtree(path, ignore_errors=True)


def _owner_pid(name: str) -> int | None:
    for part in name.removeprefix(STAGING_PREFIX).split("-"):
        if part.isdigit():
            return int(part)
    return None
