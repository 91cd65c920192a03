"""Where Meadow keeps its data: MEADOW_HOME, or the platform's user data dir."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def meadow_home() -> Path:
    """The data dir; created on first use."""
    configured = os.environ.get("MEADOW_HOME")
    if configured:
        home = Path(configured).expanduser()
    else:
        import platformdirs

        home = Path(platformdirs.user_data_dir("meadow", appauthor=False))
    home.mkdir(parents=True, exist_ok=True)
    return home


def logs_dir() -> Path:
    path = meadow_home() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a file so that concurrent readers see either the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
