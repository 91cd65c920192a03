"""The private swarms this MEADOW_HOME has joined: `swarms.json` (name, namespace, bootstrap peers, expiry).

The secret is never here: it lives in the OS keyring (core/swarm/secrets.py). Several processes may share
MEADOW_HOME, so every change is a read-modify-write under a lock file, written atomically.
"""
from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import UserFacingError
from core.paths import meadow_home, write_atomically


@dataclass(frozen=True)
class JoinedSwarm:
    """A private swarm as this peer knows it (no secret)."""

    name: str
    namespace: str
    initial_peers: tuple[str, ...] = ()
    expires_at: float | None = None  # the invite's expiry (None for a swarm created here)
    created_here: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # fields of newer versions, kept on rewrite

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        data["initial_peers"] = list(self.initial_peers)
        return data


def swarms_file() -> Path:
    return meadow_home() / "swarms.json"


def load_joined() -> list[JoinedSwarm]:
    """Every joined swarm, in the order joined; a damaged file is a clear error, not an empty list."""
    path = swarms_file()
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text())["swarms"]
        return [_from_json(entry) for entry in entries]
    except (ValueError, KeyError, TypeError) as error:
        raise UserFacingError(f"{path} is damaged ({error}); fix or delete it, then join your swarms again") from None


def find_joined(name: str) -> JoinedSwarm:
    """The joined swarm called `name`, or an error that says how to join one."""
    swarms = load_joined()
    for swarm in swarms:
        if swarm.name == name:
            return swarm
    known = ", ".join(swarm.name for swarm in swarms) or "none"
    raise UserFacingError(f"No joined swarm is called {name!r} (joined: {known}). Join one with "
                          "`meadow swarm join TOKEN`, or create one with `meadow swarm create NAME`.")


def save_joined(swarm: JoinedSwarm) -> None:
    """Add `swarm`, or replace the entry with its name."""
    with _locked():
        others = [entry for entry in load_joined() if entry.name != swarm.name]
        _write([*others, swarm])


def remove_joined(name: str) -> JoinedSwarm | None:
    """Remove the entry called `name`; returns it (None when there was none)."""
    with _locked():
        swarms = load_joined()
        found = next((swarm for swarm in swarms if swarm.name == name), None)
        _write([swarm for swarm in swarms if swarm.name != name])
    return found


def _from_json(entry: dict[str, Any]) -> JoinedSwarm:
    known = {"name", "namespace", "initial_peers", "expires_at", "created_here"}
    if not isinstance(entry.get("name"), str) or not isinstance(entry.get("namespace"), str):
        raise TypeError("an entry lacks its name or namespace")
    expires_at = entry.get("expires_at")
    if expires_at is not None and (not isinstance(expires_at, (int, float)) or isinstance(expires_at, bool)):
        raise TypeError(f"expires_at of {entry['name']!r} is not a time")
    return JoinedSwarm(name=entry["name"], namespace=entry["namespace"],
                       initial_peers=tuple(str(peer) for peer in entry.get("initial_peers", [])),
                       expires_at=expires_at, created_here=bool(entry.get("created_here", False)),
                       extra={key: value for key, value in entry.items() if key not in known})


def _write(swarms: list[JoinedSwarm]) -> None:
    data = json.dumps({"version": 1, "swarms": [swarm.to_json() for swarm in swarms]}, indent=2)
    write_atomically(swarms_file(), data.encode(), mode=0o600)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """An exclusive lock on MEADOW_HOME/swarms.lock (POSIX; elsewhere writes are rare and single-user)."""
    path = meadow_home() / "swarms.lock"
    with open(path, "a") as handle:
        if os.name == "posix":
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
