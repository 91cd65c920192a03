"""Detector snapshots posted by the desktop app (`POST /api/pause/signals`), validated from JSON.

Body: {"source": "windows-app", "ttl_s": 30, "signals": [{"detector": "windows_fullscreen", "active": true,
"reason": "a fullscreen Direct3D game", "kind": "game", "subject": "quns-3"}]}. `kind` and `subject` are
optional; a snapshot counts until `ttl_s` passes (the app re-posts on every check), so a crashed app cannot
keep the server paused forever.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.pause.signals import Signal, SignalKind

MAX_TTL_S = 600.0
DEFAULT_TTL_S = 30.0
_MAX_SIGNALS = 32
_MAX_TEXT = 200


@dataclass(frozen=True)
class AppSnapshot:
    """One app's latest signals; a newer snapshot from the same source replaces the older one."""

    source: str
    signals: tuple[Signal, ...]
    ttl_s: float = DEFAULT_TTL_S

    @classmethod
    def from_json(cls, data: Any) -> AppSnapshot:
        """Validate a decoded JSON body; raises ValueError naming the first bad field."""
        if not isinstance(data, dict):
            raise ValueError("A pause snapshot must be a JSON object with 'source' and 'signals'")
        unknown = set(data) - {"source", "signals", "ttl_s"}
        if unknown:
            raise ValueError(f"Unknown field(s) in the pause snapshot: {', '.join(sorted(unknown))}")
        source = _text(data.get("source"), "source", required=True)
        ttl_s = data.get("ttl_s", DEFAULT_TTL_S)
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, (int, float)) or not 0 < ttl_s <= MAX_TTL_S:
            raise ValueError(f"'ttl_s' must be a number of seconds in (0, {MAX_TTL_S:g}], got {ttl_s!r}")
        raw_signals = data.get("signals")
        if not isinstance(raw_signals, list) or len(raw_signals) > _MAX_SIGNALS:
            raise ValueError(f"'signals' must be a list of at most {_MAX_SIGNALS} signal objects")
        signals = tuple(_signal(item, index) for index, item in enumerate(raw_signals))
        return cls(source, signals, float(ttl_s))

    def to_json(self) -> dict[str, Any]:
        """The body `from_json` reads: what the app posts."""
        return {"source": self.source, "ttl_s": self.ttl_s, "signals": [
            {"detector": signal.detector, "active": signal.active, "reason": signal.reason,
             "kind": signal.kind.value, "subject": signal.subject} for signal in self.signals]}


def _signal(item: Any, index: int) -> Signal:
    where = f"signals[{index}]"
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be an object with 'detector' and 'active'")
    unknown = set(item) - {"detector", "active", "reason", "kind", "subject"}
    if unknown:
        raise ValueError(f"Unknown field(s) in {where}: {', '.join(sorted(unknown))}")
    active = item.get("active")
    if not isinstance(active, bool):
        raise ValueError(f"{where}.active must be true or false, got {active!r}")
    kind = item.get("kind", SignalKind.GAME.value)
    if kind not in {member.value for member in SignalKind}:
        raise ValueError(f"{where}.kind must be one of {', '.join(m.value for m in SignalKind)}, got {kind!r}")
    reason = _text(item.get("reason", ""), f"{where}.reason", required=active)
    return Signal(_text(item.get("detector"), f"{where}.detector", required=True), active, reason, SignalKind(kind),
                  subject=_text(item.get("subject", ""), f"{where}.subject"))


def _text(value: Any, name: str, required: bool = False) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise ValueError(f"'{name}' must be text of at most {_MAX_TEXT} characters, got {value!r:.60}")
    if required and not value.strip():
        raise ValueError(f"'{name}' must not be empty")
    return value.strip()
