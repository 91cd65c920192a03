"""Which processes are ours (the node, its server child, p2pd): detectors must never pause us for ourselves."""
from __future__ import annotations

import os
from collections.abc import Callable, Collection

import psutil

OwnProcesses = Callable[[], Collection[int]]


def own_process_tree() -> frozenset[int]:
    """This process and all its descendants; read anew each call because the server child restarts."""
    pids = {os.getpid()}
    try:
        pids.update(child.pid for child in psutil.Process().children(recursive=True))
    except psutil.Error:
        pass  # a child exiting mid-walk; the next poll sees the new tree
    return frozenset(pids)
