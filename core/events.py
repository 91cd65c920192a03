"""One typed catalogue of lifecycle events, printed as one JSON line each on stdout.

Supervisors and tests parse these lines, never log text. Emitting an event with a wrong field fails,
because every event is a frozen dataclass with declared fields.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, fields
from typing import ClassVar


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


def parse_event(line: str) -> dict | None:
    """Parse one stdout line into an event dict, or None if it is not an event."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) and "event" in data else None


def field_names(event_type: type[Event]) -> list[str]:
    return [field.name for field in fields(event_type)]
