"""A real `meadow node`'s answers and events hold to the contract (core.node.contract), checked by jsonschema.

The JSON the node sends is validated against the JSON schemas of the contract's models by an independent
validator, with every object closed (additionalProperties false): a key the contract does not declare, a
missing one or a wrong type fails, whatever the node's own classes think of it.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from pydantic import BaseModel

from core.config import SCHEMA
from core.node.contract import (
    NODE_EVENTS,
    NodeStatus,
    PauseSignalsAnswer,
    ServingAnswer,
    SettingsAnswer,
    SettingsSchemaAnswer,
    SettingsUpdateAnswer,
)
from tests.helpers.node import NodeHandle
from tests.helpers.tiny_models import save_tiny_llama

pytestmark = pytest.mark.slow


def validator(model: type[BaseModel]) -> jsonschema.Draft202012Validator:
    schema = model.model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


EVENT_SCHEMA = jsonschema.Draft202012Validator(NODE_EVENTS.json_schema())


def check(model: type[BaseModel], data: Any) -> Any:
    """`data` (the node's decoded JSON) against `model`'s schema; returns it for further checks."""
    errors = sorted(validator(model).iter_errors(data), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(error.path)}: {error.message}" for error in errors)
    return data


@pytest.fixture(scope="module")
def node(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeHandle]:
    """A node with its own MEADOW_HOME, whose settings file (not its command line) chooses its model, so that
    changing the model through the API applies."""
    home = tmp_path_factory.mktemp("contract-home")
    (home / "settings.json").write_text(json.dumps({"node.model": str(tiny_llama), "server.throughput": 100.0,
                                                    "pause.poll_seconds": 0.5, "server.drain_timeout": 2.0}))
    handle = NodeHandle.start(["--new-swarm", "--serve"], env={**os.environ, "MEADOW_HOME": str(home)})
    try:
        handle.wait_until(lambda status: status["serving"]["state"] == "serving"
                          and status["model"]["coverage"] is not None, 180)
        yield handle
    finally:
        handle.stop()


def test_the_ready_event_names_the_node_as_its_process(node: NodeHandle) -> None:
    assert node.ready.process == "node" and node.ready.event == "ready"


def test_status_holds_to_the_contract_and_names_our_model(node: NodeHandle, tiny_llama: Path) -> None:
    status = check(NodeStatus, node.http.get("/api/status").json())
    assert status["model"]["setting"] == str(tiny_llama) and status["model"]["name"] == tiny_llama.name
    assert status["model"]["coverage"]["num_blocks"] == 6 and status["model"]["coverage"]["missing"] == []
    assert status["serving"]["state"] == "serving" and status["serving"]["blocks"] == [0, 6]
    # The check can fail: a key the contract does not declare, or a wrong type, breaks it.
    for broken in ({**status, "surprise": 1}, {**status, "serving": {**status["serving"], "pid": "12"}}):
        assert not validator(NodeStatus).is_valid(broken)


def test_settings_their_schema_and_a_patch_hold_to_the_contract(node: NodeHandle) -> None:
    values = check(SettingsAnswer, node.http.get("/api/settings").json())["values"]
    assert set(values) == {setting.key for setting in SCHEMA}
    schema = check(SettingsSchemaAnswer, node.http.get("/api/settings/schema").json())["settings"]
    assert {item["applies"] for item in schema} == {"live", "server_restart", "node_restart"}
    assert all(item["label"] for item in schema)
    changes = {"node.default_max_tokens": 99, "client.max_retries": 3}
    try:
        answer = check(SettingsUpdateAnswer, node.http.patch("/api/settings", json=changes).json())
        assert answer["changed"] == sorted(changes)
        assert answer["applied"] == {"live": ["node.default_max_tokens"], "server_restart": [],
                                     "node_restart": ["client.max_retries"], "overridden": []}
        assert node.status()["node"]["restart_needed"] == ["client.max_retries"]
    finally:
        node.http.patch("/api/settings", json={"node.default_max_tokens": 512, "client.max_retries": 8})
    assert node.status()["node"]["restart_needed"] == []


def test_changing_the_model_switches_the_nodes_own_model_and_its_server(node: NodeHandle, tiny_llama: Path,
                                                                       tmp_path: Path) -> None:
    other = save_tiny_llama(tmp_path / "tiny-llama-other", seed=1)
    try:
        answer = check(SettingsUpdateAnswer, node.http.patch("/api/settings", json={"node.model": str(other)}).json())
        assert answer["applied"]["server_restart"] == ["node.model"]
        assert node.status()["model"]["name"] == other.name  # the node answers for it at once
        assert other.name in [card["id"] for card in node.http.get("/v1/models").json()["data"]]
        served = node.wait_until(lambda status: status["serving"]["state"] == "serving"
                                 and status["model"]["coverage"] is not None, 180)
        assert served["model"]["coverage"]["model"] == other.name
    finally:
        node.http.patch("/api/settings", json={"node.model": str(tiny_llama)})
    node.wait_until(lambda status: status["model"]["name"] == tiny_llama.name
                    and status["serving"]["state"] == "serving" and status["model"]["coverage"] is not None, 180)


def test_serving_answers_and_events_hold_to_the_contract(node: NodeHandle) -> None:
    events: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {node.token}"}
    with httpx.stream("GET", f"{node.api}/api/events", headers=headers, timeout=60) as stream:
        lines = stream.iter_lines()
        events.append(_next_event(lines))
        assert events[0]["event"] == "status"  # every stream starts with the current status
        check(ServingAnswer, node.http.post("/api/serving/pause", json={"minutes": 5}).json())
        events += _events_until(lines, lambda event: event["event"] == "status"
                                and event["status"]["serving"]["state"] == "paused")
        check(ServingAnswer, node.http.post("/api/serving/resume").json())
        events += _events_until(lines, lambda event: event["event"] == "status"
                                and event["status"]["serving"]["state"] == "serving")
    for event in events:
        errors = list(EVENT_SCHEMA.iter_errors(event))
        assert not errors, f"{event['event']}: {errors[0].message}"
    assert {"status", "serving"} <= {event["event"] for event in events}
    signals = {"source": "contract-test", "signals": [{"detector": "test", "active": False}]}
    check(PauseSignalsAnswer, node.http.post("/api/pause/signals", json=signals).json())


def test_a_status_event_follows_a_change_without_polling(node: NodeHandle) -> None:
    headers = {"Authorization": f"Bearer {node.token}"}
    with httpx.stream("GET", f"{node.api}/api/events", headers=headers, timeout=60) as stream:
        lines = stream.iter_lines()
        _next_event(lines)
        started = time.monotonic()
        node.http.patch("/api/settings", json={"client.max_retries": 4})
        try:
            changed = _events_until(lines, lambda event: event["event"] == "status"
                                    and event["status"]["node"]["restart_needed"] == ["client.max_retries"])
        finally:
            node.http.patch("/api/settings", json={"client.max_retries": 8})
    assert time.monotonic() - started < 10 and changed


def _next_event(lines: Iterator[str]) -> dict[str, Any]:
    for line in lines:
        if line.startswith("data: "):
            event: dict[str, Any] = json.loads(line[6:])
            return event
    raise AssertionError("the event stream ended")


def _events_until(lines: Iterator[str], done: Any, limit: int = 2000) -> list[dict[str, Any]]:
    """Events up to the first for which `done` holds (bounded: a loading server sends one per tensor)."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        seen.append(_next_event(lines))
        if done(seen[-1]):
            return seen
    raise AssertionError(f"no matching event among {limit}: last {seen[-1]}")
