"""Start real `meadow` commands as child processes and read their JSON lifecycle events."""
from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil

from core.events import parse_event
from core.launcher import spawn, stop_group

_STARTED: list[subprocess.Popen] = []


class MeadowProcess:
    """A `meadow` child in its own process group; events from stdout are collected by a thread."""

    def __init__(self, process: subprocess.Popen, args: list[str]):
        self.process = process
        self.args = args
        self.events: queue.Queue[dict] = queue.Queue()
        self.seen: list[dict] = []
        self.stderr_lines: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.ready: dict = {}

    @classmethod
    def start(cls, args: list[str], ready_timeout: float = 120.0, wait_ready: bool = True,
              stdin_text: str | None = None) -> MeadowProcess:
        process = spawn(args, stdin_text=stdin_text)
        _STARTED.append(process)
        child = cls(process, args)
        if wait_ready:
            child.ready = child.wait_for("ready", ready_timeout)
        return child

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def multiaddrs(self) -> list[str]:
        return list(self.ready["multiaddrs"])

    @property
    def peer_id(self) -> str:
        return self.ready["peer_id"]

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            event = parse_event(line)
            if event is not None:
                self.seen.append(event)
                self.events.put(event)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line)
            del self.stderr_lines[:-200]

    def wait_for(self, name: str, timeout: float) -> dict:
        """The next event called `name`; fails with the child's stderr if it exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.events.empty():
                    break
                continue
            if event["event"] == name:
                return event
            if event["event"] == "error":
                raise RuntimeError(f"meadow {' '.join(self.args)} failed: {event['message']}")
        tail = "".join(self.stderr_lines[-30:])
        raise TimeoutError(f"meadow {' '.join(self.args)}: no {name!r} event in {timeout:.0f} s "
                           f"(exit code {self.process.poll()}). stderr:\n{tail}")

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
