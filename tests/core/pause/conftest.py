"""Real processes started from renamed copies of /bin/sleep, killed after each test (only ours)."""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SLEEP = shutil.which("sleep") or "/bin/sleep"


@pytest.fixture
def start_program() -> Iterator[Callable[..., subprocess.Popen]]:
    """start_program(path, argv0=None, env=None): copy sleep to `path`, run it for 60 s, return the Popen."""
    started: list[subprocess.Popen] = []

    def start(path: Path, argv0: str | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            shutil.copy2(SLEEP, path)
        process = subprocess.Popen([argv0 or str(path), "60"], executable=str(path), env=env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=10)
