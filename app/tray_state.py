"""What the tray icon shows, derived from the node's /api/status."""
from __future__ import annotations

from enum import Enum


class TrayState(Enum):
    CONNECTING = "connecting"  # no answer from the node yet
    STARTING = "starting"
    SERVING = "serving"
    PAUSED_BY_USER = "paused_by_user"
    PAUSED_FOR_GAME = "paused_for_game"
    PAUSED_OTHER = "paused_other"  # battery, memory, user at the keyboard in idle-only mode
    STOPPED = "stopped"  # donation is off
    ERROR = "error"

    @property
    def icon_stem(self) -> str:
        """The file stem under resources/icons/."""
        return _ICONS[self]

    @property
    def is_paused(self) -> bool:
        return self in (TrayState.PAUSED_BY_USER, TrayState.PAUSED_FOR_GAME, TrayState.PAUSED_OTHER)


_ICONS = {
    TrayState.CONNECTING: "starting", TrayState.STARTING: "starting", TrayState.SERVING: "serving",
    TrayState.PAUSED_BY_USER: "paused", TrayState.PAUSED_FOR_GAME: "gaming", TrayState.PAUSED_OTHER: "paused",
    TrayState.STOPPED: "stopped", TrayState.ERROR: "error",
}


def tray_state(status: dict | None) -> TrayState:
    """The state of a /api/status answer; None (no answer) is CONNECTING."""
    if status is None:
        return TrayState.CONNECTING
    serving = status.get("serving") or {}
    decision = (status.get("pause") or {}).get("decision") or {}
    state = serving.get("state")
    if state == "error":
        return TrayState.ERROR
    if state == "paused" or decision.get("state") == "paused":
        kind = decision.get("kind", "")
        if kind == "user":
            return TrayState.PAUSED_BY_USER
        return TrayState.PAUSED_FOR_GAME if kind == "game" else TrayState.PAUSED_OTHER
    if state == "stopped":
        return TrayState.STOPPED
    return TrayState.SERVING if state == "serving" else TrayState.STARTING


def headline(status: dict | None) -> str:
    """One line for the tray tooltip and the dashboard: what serving does now, and why."""
    state = tray_state(status)
    if status is None:
        return "Connecting to the Meadow node..."
    serving = status["serving"]
    reason = serving.get("reason") or (status.get("pause") or {}).get("decision", {}).get("reason", "")
    if state is TrayState.SERVING and serving.get("blocks"):
        start, end = serving["blocks"]
        return f"Serving blocks {start}-{end - 1} of {serving.get('model', '?')}"
    text = {TrayState.STARTING: "Starting the server", TrayState.STOPPED: "GPU donation is off",
            TrayState.ERROR: "Server error"}.get(state, "Paused")
    return f"{text}: {reason}" if reason and reason.lower() != text.lower() else text
