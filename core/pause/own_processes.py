"""Which processes are ours (the node, its server child, p2pd): detectors must never pause us for ourselves."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection

import psutil

OwnProcesses = Callable[[], Collection[int]]


def own_process_tree(root: int | None = None) -> frozenset[int]:
    """`root` (default: this process) and all its descendants, empty when `root` is gone; read anew each
    call because the server child restarts."""
    try:
        process = psutil.Process(root)  # None: this process
    except psutil.Error:
        return frozenset()
    pids = {process.pid}
    with contextlib.suppress(psutil.Error):  # a child exiting mid-walk; the next poll sees the new tree
        pids.update(child.pid for child in process.children(recursive=True))
    return frozenset(pids)
