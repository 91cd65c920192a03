"""A real `meadow node` child and a small HTTP client for its local API."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from core.events import NodeReady
from tests.helpers.processes import MeadowProcess


class NodeHandle:
    def __init__(self, process: MeadowProcess):
        self.process = process
        assert isinstance(process.ready, NodeReady), "a node announces its API in its ready event"
        self.ready = process.ready
        self.api = process.ready.api
        self.token = Path(process.ready.token_file).read_text().strip()
        self.http = httpx.Client(base_url=self.api, headers={"Authorization": f"Bearer {self.token}"}, timeout=120)

    @classmethod
    def start(cls, args: list[str], ready_timeout: float = 120.0, env: dict[str, str] | None = None) -> NodeHandle:
        """`meadow node` with these arguments; `env` None inherits ours (the test session's MEADOW_HOME)."""
        return cls(MeadowProcess.start(["node", "--api-port", "0", *args], ready_timeout=ready_timeout, env=env))

    def status(self) -> dict:
        response = self.http.get("/api/status")
        response.raise_for_status()
        return response.json()

    def wait_for_state(self, state: str, timeout: float = 120.0) -> dict:
        """The serving status once it reaches `state` (fails with the last status when time runs out)."""
        return self.wait_until(lambda status: status["serving"]["state"] == state, timeout)["serving"]

    def wait_until(self, predicate: Callable[[dict], bool], timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        status = self.status()
        while not predicate(status):
            if time.monotonic() > deadline:
                raise TimeoutError(f"node status did not reach the expected state in {timeout:.0f} s: "
                                   f"{status['serving']}")
            time.sleep(0.25)
            status = self.status()
        return status

    def stop(self) -> int | None:
        self.http.close()
        return self.process.stop(30.0)
