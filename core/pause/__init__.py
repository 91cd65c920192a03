"""Auto-pause: detectors of games and other pause signals, and the state machine that decides when to serve.

The node builds a monitor with `build_monitor(settings, on_transition)`, starts it, routes user commands
(pause, resume, donate on/off) and the app's posted snapshots (`AppSnapshot.from_json`) through it, and
stops or starts its server child when a transition's `serving_changed`.
"""
from __future__ import annotations

from core.pause.app_snapshot import AppSnapshot
from core.pause.decision import Decision, PauseKind, ServingState, Transition
from core.pause.from_settings import apply_settings, build_detectors, build_monitor
from core.pause.monitor import PauseMonitor, TransitionCallback
from core.pause.signals import Detector, Signal, SignalKind
from core.pause.state import PauseStateMachine

__all__ = ["AppSnapshot", "Decision", "Detector", "PauseKind", "PauseMonitor", "PauseStateMachine", "ServingState",
           "Signal", "SignalKind", "Transition", "TransitionCallback", "apply_settings", "build_detectors",
           "build_monitor"]
