"""One typed catalogue of lifecycle events, printed as one JSON line each on stdout.

Supervisors and tests parse these lines (through core.child_output), never log text. Every event is a frozen
pydantic model with declared fields: emitting or parsing one with a wrong, missing or unknown field fails.
Three kinds of process announce themselves with the same JSON name `ready` (a fixed interface); their
`process` field says which sent it.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """The base of every event: `event` is its JSON name."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    event: str

    def to_json(self) -> str:
        return self.model_dump_json()

    def emit(self) -> None:
        sys.stdout.write(self.to_json() + "\n")
        sys.stdout.flush()


class Starting(Event):
    event: Literal["starting"] = "starting"
    command: str
    pid: int


class Loading(Event):
    """Weights of `done` of `total` blocks are loaded."""

    event: Literal["loading"] = "loading"
    model: str
    done: int
    total: int


class Ready(Event):
    """A process is up; `process` names which kind (the subclasses below)."""

    event: Literal["ready"] = "ready"
    process: str
    peer_id: str
    multiaddrs: list[str]


class DhtReady(Ready):
    """`meadow dht` answers on its multiaddrs."""

    process: Literal["dht"] = "dht"


class ServerReady(Ready):
    """`meadow serve` serves `blocks` [start, end) of `model`, and a fresh client can read its record."""

    process: Literal["serve"] = "serve"
    model: str
    blocks: list[int]


class NodeReady(Ready):
    """The node's DHT peer is up and its local API answers."""

    process: Literal["node"] = "node"
    api: str
    token_file: str


class ServerMoved(Event):
    """A running server now serves other blocks of its model (after rebalancing)."""

    event: Literal["moved"] = "moved"
    model: str
    blocks: list[int]


class Stopping(Event):
    event: Literal["stopping"] = "stopping"
    reason: str


class Stopped(Event):
    event: Literal["stopped"] = "stopped"


class Failed(Event):
    """The process stops because of this error (a message for the user)."""

    event: Literal["error"] = "error"
    message: str


class ServingChanged(Event):
    """The node's server child changed state (starting, serving, paused, stopped, error)."""

    event: Literal["serving"] = "serving"
    state: str
    reason: str
    pid: int | None
    model: str
    blocks: list[int] | None


class SettingsChanged(Event):
    """Stored settings changed (through the node's API)."""

    event: Literal["settings"] = "settings"
    keys: list[str]


class RuntimeResolved(Event):
    """`runtime install-cuda` knows the wheels to fetch (torch first); the rest come from the bundle."""

    event: Literal["resolved"] = "resolved"
    variant: str
    files: list[str]
    from_bundle: list[str]


class Downloading(Event):
    """Progress of one download: bytes done of total (0 when the server does not say)."""

    event: Literal["downloading"] = "downloading"
    file: str
    done: int
    total: int


class RuntimeInstalled(Event):
    """A torch build is unpacked in place under MEADOW_HOME/runtime/ (not yet active)."""

    event: Literal["installed"] = "installed"
    variant: str
    path: str
    torch_version: str


class TorchChecked(Event):
    """`runtime check` imported torch: which build, from where, and whether it sees a CUDA GPU."""

    event: Literal["torch_checked"] = "torch_checked"
    variant: str
    torch_version: str
    path: str
    cuda_available: bool
    devices: list[str]


class RuntimeActivated(Event):
    """Processes started from now on use this torch build (`cpu`: the bundled one); restart to apply."""

    event: Literal["activated"] = "activated"
    variant: str


def _key(event_type: type[Event]) -> tuple[str, str | None]:
    process = event_type.model_fields.get("process")
    return str(event_type.model_fields["event"].default), None if process is None else str(process.default)


CATALOGUE: tuple[type[Event], ...] = (
    Starting, Loading, DhtReady, ServerReady, NodeReady, ServerMoved, Stopping, Stopped, Failed, ServingChanged,
    SettingsChanged, RuntimeResolved, Downloading, RuntimeInstalled, TorchChecked, RuntimeActivated,
)
_BY_KEY = {_key(event_type): event_type for event_type in CATALOGUE}


def parse_json_object(line: str) -> dict[str, Any] | None:
    """Parse one stdout line into a JSON object, or None if it is anything else (log text, a list, ...)."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def event_from_object(data: dict[str, Any]) -> Event | None:
    """The typed event of a JSON object; None when it is no event this version knows.

    Raises ValueError (pydantic's ValidationError) for a known event with wrong, missing or unknown fields."""
    name = data.get("event")
    if not isinstance(name, str):
        return None
    process = data.get("process") if name == "ready" else None
    event_type = _BY_KEY.get((name, process if isinstance(process, str) else None))
    return None if event_type is None else event_type.model_validate(data)


def parse_event(line: str) -> Event | None:
    """The typed event on one stdout line; None for log text, other JSON and events this version does not know."""
    data = parse_json_object(line)
    return None if data is None else event_from_object(data)
