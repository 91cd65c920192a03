"""The state machine's output: whether to serve, and if not, why, in words for the user."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.pause.signals import Signal, SignalKind


class ServingState(StrEnum):
    SERVING = "serving"
    PAUSED = "paused"
    STOPPED = "stopped"  # the user switched donation off


class PauseKind(StrEnum):
    """Who or what holds serving back; the tray picks its icon from this."""

    NONE = ""
    USER = "user"
    GAME = "game"
    BATTERY = "battery"
    MEMORY = "memory"
    USER_ACTIVE = "user_active"
    DONATION_OFF = "donation_off"


@dataclass(frozen=True)
class Decision:
    """Desired serving state. `resume_in_s` (a countdown, not part of equality) is None when unknown."""

    state: ServingState
    kind: PauseKind = PauseKind.NONE
    reason: str = ""
    resume_in_s: float | None = field(default=None, compare=False)

    @property
    def serving(self) -> bool:
        return self.state is ServingState.SERVING

    def to_json(self) -> dict[str, object]:
        return {"state": self.state.value, "kind": self.kind.value, "reason": self.reason,
                "resume_in_s": None if self.resume_in_s is None else round(self.resume_in_s, 1)}


SERVING = Decision(ServingState.SERVING)
DONATION_OFF = Decision(ServingState.STOPPED, PauseKind.DONATION_OFF, "GPU donation is off")


def user_pause(resume_in_s: float | None) -> Decision:
    """Paused by the user; `resume_in_s` None means until the user resumes."""
    return Decision(ServingState.PAUSED, PauseKind.USER, "paused by you", resume_in_s)


def automatic_pause(signal: Signal, resume_in_s: float | None) -> Decision:
    """Word the reason for the user: "paused for a game: Steam game: Cyberpunk2077.exe"."""
    if signal.kind is SignalKind.GAME:
        reason = f"paused for a game: {signal.reason}"
    elif signal.kind is SignalKind.USER_ACTIVE:
        reason = f"paused while you use the computer: {signal.reason}"
    else:
        reason = f"paused: {signal.reason}"
    return Decision(ServingState.PAUSED, PauseKind(signal.kind.value), reason, resume_in_s)


@dataclass(frozen=True)
class Transition:
    """A change of decision, for the node to act on (stop the server child fast, start it again)."""

    previous: Decision
    current: Decision

    @property
    def serving_changed(self) -> bool:
        """True when the server child must be stopped or started; False for a reason change only."""
        return self.previous.serving != self.current.serving
