"""Start real `meadow` commands as child processes and read their typed lifecycle events (core.child_output)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psutil

from core.child_output import ChildFailedError, ChildOutput
from core.events import Event, Ready, ServerReady
from core.launcher import spawn, stop_group

_STARTED: list[subprocess.Popen[str]] = []
EventType = TypeVar("EventType", bound=Event)


class MeadowProcess:
    """A `meadow` child in its own process group; its events are read by core.child_output.ChildOutput."""

    def __init__(self, process: subprocess.Popen[str], args: list[str]):
        self.process = process
        self.args = args
        self.output = ChildOutput(process, "meadow-test-child", stderr_lines=200).start()
        self.ready: Ready | None = None

    @classmethod
    def start(cls, args: list[str], ready_timeout: float = 120.0, wait_ready: bool = True,
              stdin_text: str | None = None, env: dict[str, str] | None = None) -> MeadowProcess:
        process = spawn(args, env=env, stdin_text=stdin_text)
        _STARTED.append(process)
        child = cls(process, args)
        if wait_ready:
            child.wait_ready(ready_timeout)
        return child

    def wait_ready(self, timeout: float) -> Ready:
        self.ready = self.wait_for(Ready, timeout)
        return self.ready

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def multiaddrs(self) -> list[str]:
        assert self.ready is not None, "not ready yet"
        return list(self.ready.multiaddrs)

    @property
    def blocks(self) -> list[int]:
        """The blocks [start, end) a `meadow serve` child said it serves when it was ready."""
        assert isinstance(self.ready, ServerReady), f"meadow {' '.join(self.args)} is no ready server"
        return list(self.ready.blocks)

    @property
    def peer_id(self) -> str:
        assert self.ready is not None, "not ready yet"
        return self.ready.peer_id

    def wait_for(self, event_type: type[EventType], timeout: float) -> EventType:
        """The next event of this type; fails with the child's stderr if it reports an error, exits or times out."""
        try:
            return self.output.wait_for(event_type, timeout)
        except (ChildFailedError, TimeoutError) as error:
            tail = "\n".join(list(self.output.stderr_tail)[-30:])
            raise type(error)(f"meadow {' '.join(self.args)}: {error}\nstderr:\n{tail}") from None

    def stop(self, timeout: float = 20.0) -> int | None:
        return stop_group(self.process, timeout)

    def peak_rss_bytes(self) -> int:
        """Peak resident memory of the main process (VmHWM)."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("VmHWM not found")


def stop_all(processes: list[MeadowProcess]) -> None:
    """Stop every process at once (each drains and announces itself offline in parallel)."""
    with ThreadPoolExecutor(max_workers=max(1, len(processes))) as pool:
        list(pool.map(lambda process: process.stop(), processes))


def kill_leftovers() -> None:
    """Kill every process group this test run started (never anything else)."""
    for process in _STARTED:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait(5)
    # DHT processes leave their owner's group; they exit when their owner dies, but wait for them.
    me = psutil.Process()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(c.status() != psutil.STATUS_ZOMBIE for c in me.children(recursive=True)
                                             if c.is_running()):
        time.sleep(0.1)
