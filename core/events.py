"""One typed catalogue of lifecycle events, printed as one JSON line each on stdout.

Supervisors and tests parse these lines, never log text. Emitting an event with a wrong field fails,
because every event is a frozen dataclass with declared fields.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    name: ClassVar[str] = "event"

    def to_json(self) -> str:
        return json.dumps({"event": self.name, **asdict(self)})

    def emit(self) -> None:
        sys.stdout.write(self.to_json() + "\n")
        sys.stdout.flush()


@dataclass(frozen=True)
class Starting(Event):
    name: ClassVar[str] = "starting"
    command: str
    pid: int


@dataclass(frozen=True)
class Loading(Event):
    name: ClassVar[str] = "loading"
    model: str
    done: int
    total: int


@dataclass(frozen=True)
class DhtReady(Event):
    name: ClassVar[str] = "ready"
    peer_id: str
    multiaddrs: list[str]


@dataclass(frozen=True)
class ServerReady(Event):
    name: ClassVar[str] = "ready"
    peer_id: str
    multiaddrs: list[str]
    model: str
    blocks: list[int]


@dataclass(frozen=True)
class ServerMoved(Event):
    """A running server now serves other blocks of its model (after rebalancing)."""

    name: ClassVar[str] = "moved"
    model: str
    blocks: list[int]


@dataclass(frozen=True)
class Stopping(Event):
    name: ClassVar[str] = "stopping"
    reason: str


@dataclass(frozen=True)
class Stopped(Event):
    name: ClassVar[str] = "stopped"


@dataclass(frozen=True)
class Failed(Event):
    name: ClassVar[str] = "error"
    message: str


@dataclass(frozen=True)
class NodeReady(Event):
    """The node's DHT peer is up and its local API answers."""

    name: ClassVar[str] = "ready"
    peer_id: str
    multiaddrs: list[str]
    api: str
    token_file: str


@dataclass(frozen=True)
class ServingChanged(Event):
    """The node's server child changed state (starting, serving, paused, stopped, error)."""

    name: ClassVar[str] = "serving"
    state: str
    reason: str
    pid: int | None
    model: str
    blocks: list[int] | None


@dataclass(frozen=True)
class SettingsChanged(Event):
    name: ClassVar[str] = "settings"
    keys: list[str]


def parse_json_object(line: str) -> dict[str, Any] | None:
    """Parse one stdout line into a JSON object, or None if it is anything else (log text, a list, ...)."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def parse_event(line: str) -> dict[str, Any] | None:
    """Parse one stdout line into an event dict, or None if it is not an event."""
    data = parse_json_object(line)
    return data if data is not None and "event" in data else None


def field_names(event_type: type[Event]) -> list[str]:
    return [field.name for field in fields(event_type)]


@dataclass(frozen=True)
class RuntimeResolved(Event):
    """`runtime install-cuda` knows the wheels to fetch (torch first); the rest come from the bundle."""

    name: ClassVar[str] = "resolved"
    variant: str
    files: list[str]
    from_bundle: list[str]


@dataclass(frozen=True)
class Downloading(Event):
    """Progress of one download: bytes done of total (0 when the server does not say)."""

    name: ClassVar[str] = "downloading"
    file: str
    done: int
    total: int


@dataclass(frozen=True)
class RuntimeInstalled(Event):
    """A torch build is unpacked in place under MEADOW_HOME/runtime/ (not yet active)."""

    name: ClassVar[str] = "installed"
    variant: str
    path: str
    torch_version: str


@dataclass(frozen=True)
class TorchChecked(Event):
    """`runtime check` imported torch: which build, from where, and whether it sees a CUDA GPU."""

    name: ClassVar[str] = "torch_checked"
    variant: str
    torch_version: str
    path: str
    cuda_available: bool
    devices: list[str]


@dataclass(frozen=True)
class RuntimeActivated(Event):
    """Processes started from now on use this torch build (`cpu`: the bundled one); restart to apply."""

    name: ClassVar[str] = "activated"
    variant: str
