"""Logging is configured once, at the entry point: a rotating file per command and pid, stderr when verbose."""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from core.paths import logs_dir


def configure_logging(command: str, level: str = "INFO", verbose: bool = False, hivemind: bool = True) -> Path:
    """Send logs to MEADOW_HOME/logs/<command>-<pid>.log (and stderr with -v); returns the log path.

    `hivemind=False` leaves hivemind alone, for commands that must not import it (it imports torch)."""
    path = logs_dir() / f"{command}-{os.getpid()}.log"
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=10_000_000, backupCount=2)
    file_handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [file_handler]
    root.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    stream.setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.addHandler(stream)
    if hivemind:
        # hivemind installs its own stderr handler on import; route its records through ours instead.
        from hivemind.utils.logging import use_hivemind_log_handler

        use_hivemind_log_handler("nowhere")
    return path
