"""`meadow runtime status | install-cuda | use | check`: the torch build this machine runs."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core import events
from core.config import Settings
from core.errors import UserFacingError
from core.runtime import layout
from core.runtime.activate import ENV, bundled_torch_version, usability_problem
from core.runtime.check import check_in_child, run_check
from core.runtime.gpu import detect
from core.runtime.variants import check_variant_name, format_cuda

PROGRESS_INTERVAL = 0.5  # seconds between download events: enough for a progress bar, few enough to parse


def run_runtime_command(args: argparse.Namespace, settings: Settings) -> None:
    if args.runtime_command == "status":
        show_status(args.json)
    elif args.runtime_command == "install-cuda":
        install_cuda(args.variant, args.index_url, settings)
    elif args.runtime_command == "use":
        use(check_variant_name(args.variant), args.force)
    elif args.runtime_command == "check":
        run_check()


def status() -> dict[str, Any]:
    """What the status command prints with --json (the app reads it to decide whether to offer the fetch)."""
    report = detect()
    active = layout.read_active()
    return {"gpus": report.gpus, "driver_cuda": None if report.driver_cuda is None else format_cuda(report.driver_cuda),
            "needed": report.needed, "reason": report.reason, "installed": layout.installed_variants(),
            "active": active, "problem": None if active == "cpu" else usability_problem(active),
            "bypass": os.environ.get(ENV) or None, "bundled_torch": bundled_torch_version()}


def show_status(as_json: bool) -> None:
    state = status()
    if as_json:
        print(json.dumps(state))
        return
    print(f"GPUs:            {', '.join(state['gpus']) or 'no NVIDIA GPU'}")
    print(f"Driver CUDA:     {state['driver_cuda'] or 'none'}")
    print(f"Torch needed:    {state['needed']} ({state['reason']})")
    print(f"Installed:       {', '.join(state['installed']) or 'none'} (bundled: CPU torch {state['bundled_torch']})")
    print(f"Active:          {state['active']}" + (f" - not used: {state['problem']}" if state["problem"] else ""))
    if state["bypass"]:
        print(f"Overridden:      {ENV}={state['bypass']} for this run")
    if state["needed"] != "cpu" and state["needed"] not in state["installed"]:
        print("Run `meadow runtime install-cuda` to fetch the CUDA build of torch for this GPU.")


def install_cuda(variant: str | None, index_url: str | None, settings: Settings) -> None:
    """Fetch the CUDA build this GPU needs (or `variant`), check it in a child, then make it active."""
    from core.runtime.fetch import InstallRequest, install

    variant = check_variant_name(variant) if variant else _needed_variant()
    if variant == "cpu":
        raise UserFacingError("Nothing to fetch for cpu: the CPU build of torch ships with Meadow")
    torch_version = bundled_torch_version()
    if torch_version is None:
        raise UserFacingError("Cannot tell which torch version this Meadow ships (no torch metadata); reinstall Meadow")
    url = (index_url or settings["runtime.torch_index_url"]).replace("{variant}", variant)
    request = InstallRequest(variant, url, torch_version, settings["runtime.download_timeout"])
    with _cancel_on_sigterm():
        path = install(request, on_resolved=lambda plan: events.RuntimeResolved(
            variant=variant, files=[wheel.link.filename for wheel in plan.wheels], from_bundle=plan.from_bundle).emit(),
            on_progress=_ProgressEvents())
    manifest = layout.read_manifest(variant) or {}
    events.RuntimeInstalled(variant=variant, path=str(path), torch_version=str(manifest.get("torch_version"))).emit()
    use(variant, force=False)


def use(variant: str, force: bool) -> None:
    """Make `variant` the torch of every process started from now on, after a child proved it loads."""
    if variant != "cpu":
        problem = usability_problem(variant, forced=True)
        if problem:
            raise UserFacingError(f"Cannot use it: {problem}")
        try:
            check_in_child(variant, require_cuda=not force).emit()
        except UserFacingError as error:
            if layout.read_active() == variant:  # a reinstall replaced the active build: starts must skip it now
                layout.write_failure(variant, str(error))
            raise
    layout.write_active(variant)
    layout.clear_failure()  # a fresh check passed, or the user chose the bundled torch
    events.RuntimeActivated(variant=variant).emit()
    print(f"meadow: torch build {variant} is active for processes started from now on; restart the node "
          "(or the app) to use it.", file=sys.stderr)


def _needed_variant() -> str:
    report = detect()
    if report.variant is None:
        raise UserFacingError(f"No CUDA build of torch to fetch: {report.reason}. "
                              "Pass --variant cuXXX to fetch one anyway.")
    return report.variant.name


class _ProgressEvents:
    """Turns per-chunk progress into Downloading events: each file's first and last, and at most two a second."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def __call__(self, file: str, done: int, total: int) -> None:
        now = time.monotonic()
        final = total > 0 and done >= total
        if done == 0 or final or now - self._last.get(file, 0.0) >= PROGRESS_INTERVAL:
            self._last[file] = now
            events.Downloading(file=file, done=done, total=total).emit()


@contextmanager
def _cancel_on_sigterm() -> Iterator[None]:
    """SIGTERM (how a supervisor cancels) unwinds like Ctrl-C, so the staging dir is removed on the way out."""
    def cancel(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, cancel)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
