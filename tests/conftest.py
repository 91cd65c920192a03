"""Shared fixtures: an isolated MEADOW_HOME, real `meadow` child processes, a tiny random Llama."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# One data dir for the whole run, set before anything reads it (children inherit it).
_HOME = Path(tempfile.mkdtemp(prefix="meadow-test-home-"))
os.environ["MEADOW_HOME"] = str(_HOME)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.helpers.processes import MeadowProcess, kill_leftovers  # noqa: E402 - after MEADOW_HOME is set
from tests.helpers.tiny_models import save_tiny_llama  # noqa: E402 - after MEADOW_HOME is set


@pytest.fixture(scope="session")
def meadow_home() -> Path:
    return _HOME


@pytest.fixture(scope="session", autouse=True)
def _kill_children_at_exit():
    yield
    kill_leftovers()


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A 6-block random-weight Llama (GQA) saved as a local HF folder with sharded safetensors."""
    return save_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture(scope="session")
def bootstrap() -> Iterator[MeadowProcess]:
    """A real `meadow dht` bootstrap peer on 127.0.0.1 for the whole test session."""
    process = MeadowProcess.start(["dht", "--new-swarm"])
    yield process
    process.stop()
