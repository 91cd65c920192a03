"""What the tray icon shows, derived from the node's status (core.node.contract.NodeStatus)."""
from __future__ import annotations

from enum import Enum

from core.node.contract import NodeStatus
from core.pause import PauseKind, ServingState

NOT_ANSWERING = "The Meadow node does not answer"  # what the app says while its last status is stale


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


def tray_state(status: NodeStatus | None) -> TrayState:
    """The state of a status; None (no answer yet) is CONNECTING."""
    if status is None:
        return TrayState.CONNECTING
    state, decision = status.serving.state, status.pause.decision
    if state == "error":
        return TrayState.ERROR
    if state == "paused" or (decision is not None and decision.state is ServingState.PAUSED):
        kind = decision.kind if decision is not None else PauseKind.NONE
        if kind is PauseKind.USER:
            return TrayState.PAUSED_BY_USER
        return TrayState.PAUSED_FOR_GAME if kind is PauseKind.GAME else TrayState.PAUSED_OTHER
    if state == "stopped":
        return TrayState.STOPPED
    return TrayState.SERVING if state == "serving" else TrayState.STARTING


def headline(status: NodeStatus | None) -> str:
    """One line for the tray tooltip and the dashboard: what serving does now, and why."""
    state = tray_state(status)
    if status is None:
        return "Connecting to the Meadow node..."
    serving, decision = status.serving, status.pause.decision
    reason = serving.reason or (decision.reason if decision is not None else "")
    if state is TrayState.SERVING and serving.blocks:
        start, end = serving.blocks
        return f"Serving blocks {start}-{end - 1} of {status.model.name}"
    text = {TrayState.STARTING: "Starting the server", TrayState.STOPPED: "GPU donation is off",
            TrayState.ERROR: "Server error"}.get(state, "Paused")
    return f"{text}: {reason}" if reason and reason.lower() != text.lower() else text
