"""The one place that builds command lines for Meadow child processes.

From source a child is `python -m core ...`; in a frozen (PyInstaller) bundle it is the bundle's
executable with the same arguments. Children get their own process group and die with their parent.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_PR_SET_PDEATHSIG = 1
# The one long-lived thread that forks children off the main thread (started by its first submit).
_FORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meadow-forker")


def child_command(*args: str) -> list[str]:
    """The argv that runs `meadow <args>` in a child process."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "core", *args]


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: new process group, SIGTERM when the parent dies (Linux)."""
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    stdout: int | None = subprocess.PIPE,
    stderr: int | None = subprocess.PIPE,
    stdin_text: str | None = None,
) -> subprocess.Popen[str]:
    """Start `meadow <args>` as a child in its own process group that dies with this process.

    `stdin_text` is written to the child's stdin, which is then closed: the way to hand a child a secret
    (with `--secret-stdin`), since argv and the environment are readable by other local users.
    """
    full_env = dict(os.environ if env is None else env)
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    popen = functools.partial(
        subprocess.Popen,
        child_command(*args),
        env=full_env,
        stdin=subprocess.DEVNULL if stdin_text is None else subprocess.PIPE,
        stdout=stdout,
        stderr=stderr,
        text=True,
        preexec_fn=_die_with_parent if os.name == "posix" else None,
    )
    # PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process: a child forked
    # by a worker or timer thread would be killed when that thread exits. Fork from the main thread or from
    # one thread that lives as long as this process.
    process = popen() if threading.current_thread() is threading.main_thread() else _FORKER.submit(popen).result()
    if stdin_text is not None and process.stdin is not None:
        try:
            with process.stdin:  # a pipe buffer holds a line; the child reads it when it starts
                process.stdin.write(stdin_text if stdin_text.endswith("\n") else stdin_text + "\n")
        except BrokenPipeError:
            pass  # the child already exited; its own error tells why
    return process


def stop_group(process: subprocess.Popen[Any], timeout: float = 10.0) -> int | None:
    """SIGTERM the child's process group, then SIGKILL it if it outlives the timeout; returns the exit code."""
    if process.poll() is not None:
        return process.returncode
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return process.poll()
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return process.wait(timeout)
