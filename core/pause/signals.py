"""What a detector reports: one typed signal per check, active or not, with a reason the user can read."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class SignalKind(StrEnum):
    """Why serving should pause; the state machine words the user-facing reason from it."""

    GAME = "game"
    BATTERY = "battery"
    MEMORY = "memory"
    USER_ACTIVE = "user_active"


@dataclass(frozen=True)
class Signal:
    """One detector's finding at one moment.

    `reason` is shown to the user ("Steam game: Cyberpunk2077.exe"); `subject` identifies what was found
    (a stable key even when the reason's wording carries numbers) and defaults to the reason.
    `available` is False where the machine lacks the facility (no NVIDIA driver, no X display, ...).
    """

    detector: str
    active: bool
    reason: str = ""
    kind: SignalKind = SignalKind.GAME
    subject: str = ""
    available: bool = True

    @property
    def identity(self) -> tuple[str, str]:
        """What a user's resume overrides: this detector finding this thing."""
        return self.detector, self.subject or self.reason

    @classmethod
    def clear(cls, detector: str, kind: SignalKind = SignalKind.GAME) -> Signal:
        return cls(detector, False, kind=kind)

    @classmethod
    def unavailable(cls, detector: str, why: str, kind: SignalKind = SignalKind.GAME) -> Signal:
        """The facility is missing here; `why` is kept for diagnostics, never shown as a pause reason."""
        return cls(detector, False, reason=why, kind=kind, available=False)

    def to_json(self) -> dict[str, object]:
        return {"detector": self.detector, "active": self.active, "reason": self.reason, "kind": self.kind.value,
                "subject": self.subject, "available": self.available}


class Detector(Protocol):
    """A check of one facility; `detect` never raises for a missing facility (it reports unavailable)."""

    name: str

    def detect(self) -> Signal: ...
