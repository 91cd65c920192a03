"""App tests: real widgets (offscreen) against one real `meadow node` shared by the whole session."""
from __future__ import annotations

import os
from collections.abc import Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

import pytest

from tests.helpers.node import NodeHandle

# A short drain: at shutdown the node's kept chat sessions otherwise hold its server for the whole default.
NODE_ARGS = ["--new-swarm", "--serve", "--set", "server.throughput=100", "--set", "server.drain_timeout=5"]


@pytest.fixture(scope="session")
def node() -> Iterator[NodeHandle]:
    """A real node serving the default SmolLM2 model on 127.0.0.1."""
    handle = NodeHandle.start(NODE_ARGS)
    handle.wait_for_state("serving", timeout=180)
    yield handle
    handle.stop()


def node_info(node: NodeHandle) -> dict:
    """What core.node.api_token.read_node_info returns for this node."""
    return {"api": node.api, "pid": node.process.pid, "token_file": node.ready.token_file}


@pytest.fixture
def desktop(qtbot, node):
    """The whole app (with its tray object) attached to the shared node, closed after the test."""
    from app.main import build

    app = build(use_tray=True)
    assert app.supervisor.attach(node_info(node))
    qtbot.waitUntil(lambda: app.status.status is not None, timeout=10_000)
    yield app
    app.close()


def wait_for_node(qtbot, node: NodeHandle, predicate, timeout_ms: int = 60_000) -> dict:
    """Process Qt events until the node's /api/status satisfies `predicate`; returns that status."""
    seen: dict = {}

    def check() -> bool:
        seen["status"] = node.status()
        return predicate(seen["status"])

    qtbot.waitUntil(check, timeout=timeout_ms)
    return seen["status"]


def serving_state(status: dict) -> str:
    return status["serving"]["state"]


def ensure_serving(qtbot, node: NodeHandle, wait_for_server: bool = True, timeout_ms: int = 120_000) -> None:
    """Donation on and no user pause (other tests may have changed both); with `wait_for_server`, also the
    server child serving, else starting is enough."""
    status = node.status()
    if status["pause"]["decision"]["kind"] == "user":
        node.http.post("/api/serving/resume").raise_for_status()
    if status["pause"]["decision"]["kind"] == "donation_off":
        node.http.post("/api/serving/start").raise_for_status()
    wanted = ("serving",) if wait_for_server else ("starting", "serving")
    wait_for_node(qtbot, node, lambda status: serving_state(status) in wanted, timeout_ms)
