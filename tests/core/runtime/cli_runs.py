"""Run the real `meadow` CLI (and small Python snippets) in fresh processes against a temporary MEADOW_HOME."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from core.events import parse_event

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Run:
    returncode: int
    events: list[dict]
    stdout: str
    stderr: str

    def named(self, name: str) -> list[dict]:
        return [event for event in self.events if event["event"] == name]


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "MEADOW_TORCH"}
    env.update(MEADOW_HOME=str(home), PYTHONPATH=str(ROOT), NO_PROXY="127.0.0.1,localhost", **extra)
    return env


def meadow(home: Path, *args: str, timeout: float = 120, **extra_env: str) -> Run:
    completed = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=environment(home, **extra_env),
                               capture_output=True, text=True, timeout=timeout)
    # Typed (a malformed event fails here), then compared as the JSON the CLI printed.
    found = [event.model_dump() for line in completed.stdout.splitlines() if (event := parse_event(line))]
    return Run(completed.returncode, found, completed.stdout, completed.stderr)


def python(home: Path, code: str, timeout: float = 60, **extra_env: str) -> tuple[int, dict | None, str]:
    """Run `code` in a fresh interpreter; it prints one JSON object as its last stdout line."""
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment(home, **extra_env),
                               capture_output=True, text=True, timeout=timeout)
    lines = completed.stdout.strip().splitlines()
    return completed.returncode, json.loads(lines[-1]) if lines else None, completed.stderr


IMPORT_TORCH = """
import importlib.metadata, json
from core.runtime.activate import activate_runtime
variant = activate_runtime()
import torch, torch.nn
print(json.dumps({"variant": variant, "file": torch.__file__, "cuda_marker": getattr(torch, "cuda_marker", False),
                  "nn": getattr(torch.nn, "LINEAR", None), "metadata": importlib.metadata.version("torch")}))
"""

FIND_TORCH = """
import importlib.util, json
from core.runtime.activate import activate_runtime
variant = activate_runtime()
print(json.dumps({"variant": variant, "origin": importlib.util.find_spec("torch").origin}))
"""
