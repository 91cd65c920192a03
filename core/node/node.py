"""The node's state and actions behind the control API: serving, pausing, settings, status."""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import psutil

from core import __version__
from core.config import Settings, update_settings_file
from core.events import ServingChanged, SettingsChanged
from core.node.conversations import Conversations
from core.node.event_hub import EventHub
from core.node.model_pool import ModelPool
from core.node.server_stats import ServerStatsReader
from core.node.supervisor import ServerSupervisor, ServingStatus
from core.node.swarm_view import SwarmView
from core.nvml import process_gpu_bytes
from core.pause import AppSnapshot, Decision, PauseMonitor, ServingState, Transition, apply_settings
from core.pause.own_processes import own_process_tree

logger = logging.getLogger(__name__)

RESTART_PREFIXES = ("server.", "node.model", "node.num_blocks")  # read by the server child when it starts


class Node:
    """Serving follows the pause monitor's decisions; user commands go through the monitor too, so that
    a user pause, a game and "donation off" are weighed in one place."""

    def __init__(self, settings: Settings, overrides: list[str], hub: EventHub, supervisor: ServerSupervisor,
                 pool: ModelPool, conversations: Conversations, swarm_view: SwarmView, stats: ServerStatsReader):
        self.settings = settings
        self.overrides = overrides
        self.hub = hub
        self.supervisor = supervisor
        self.pool = pool
        self.conversations = conversations
        self.swarm_view = swarm_view
        self.stats = stats
        self.started = time.time()
        self.monitor: PauseMonitor | None = None
        # Transitions are applied in order by one thread: stopping a server may take seconds, and the
        # monitor's callback must return at once.
        self._control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meadow-serving-control")
        self._pending: Future[None] | None = None

    def attach_monitor(self, monitor: PauseMonitor) -> None:
        """Start following `monitor` (built with `on_transition` as its callback) and apply its decision."""
        self.monitor = monitor
        self._pending = self._control.submit(self._apply, monitor.decision)
        monitor.start()

    def on_transition(self, transition: Transition) -> None:
        self._pending = self._control.submit(self._apply, transition.current)

    def on_serving_changed(self, status: ServingStatus) -> None:
        self.hub.publish(ServingChanged(state=status.state, reason=status.reason, pid=status.pid,
                                        model=self.settings["node.model"], blocks=status.blocks))

    def start_serving(self) -> None:
        self._command(lambda monitor: monitor.set_donating(True))

    def stop_serving(self) -> None:
        self._command(lambda monitor: monitor.set_donating(False))

    def pause(self, minutes: float | None) -> None:
        """Stop the server child now (its memory is freed); resume by itself after `minutes` if given."""
        self._command(lambda monitor: monitor.pause(minutes))

    def resume(self) -> None:
        self._command(lambda monitor: monitor.resume())

    def post_pause_signals(self, body: object) -> None:
        """Detector snapshots from the app (raises ValueError on a malformed body)."""
        snapshot = AppSnapshot.from_json(body)
        self._command(lambda monitor: monitor.post_app_snapshot(snapshot))

    def update_settings(self, changes: dict[str, Any]) -> list[str]:
        """Store new settings (all or nothing); restarts the server child when it reads one of them."""
        update_settings_file(changes)
        self.settings = Settings.load(self.overrides)
        keys = sorted(changes)
        self.hub.publish(SettingsChanged(keys=keys))
        if self.monitor is not None and any(key.startswith("pause.") for key in keys):
            apply_settings(self.monitor, self.settings)
        if any(key.startswith(RESTART_PREFIXES) for key in keys):
            self._control.submit(self.supervisor.restart, "applying new settings")
        return keys

    def status(self) -> dict[str, Any]:
        decision = self._decision()
        return {
            "node": {"pid": os.getpid(), "version": __version__, "uptime_s": round(time.time() - self.started, 1)},
            "swarm": self.swarm_view.describe(),
            "models": self.swarm_view.coverage(),
            "serving": self._serving_status(decision),
            "pause": self._pause_status(decision),
            "sessions": {"open": self.conversations.open_count},
        }

    def serving_status(self) -> dict[str, Any]:
        """The "serving" part of `status`, without its swarm scan."""
        return self._serving_status(self._decision())

    def pause_status(self) -> dict[str, Any]:
        """The "pause" part of `status`: the monitor's decision and its detectors' signals."""
        return self._pause_status(self._decision())

    def shutdown(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()
        self._control.shutdown(wait=True)
        self.supervisor.shutdown()

    def _command(self, command: Callable[[PauseMonitor], object]) -> None:
        """Run a user command through the monitor and wait until the server child follows it."""
        assert self.monitor is not None, "the node attaches its pause monitor before serving its API"
        command(self.monitor)
        pending = self._pending
        if pending is not None:
            pending.result(timeout=self.settings["server.drain_timeout"] + 30)

    def _apply(self, decision: Decision) -> None:
        peer_id = self.supervisor.status.peer_id
        if not decision.serving and peer_id is not None:
            self.conversations.close_idle_on(peer_id)  # else our own kept sessions hold up its drain
        if decision.serving:
            self.supervisor.start("starting the server")
        elif decision.state is ServingState.STOPPED:
            self.supervisor.stop(state="stopped", reason=decision.reason)
        else:
            self.supervisor.stop(state="paused", reason=decision.reason,
                                 timeout=self.settings["node.pause_stop_timeout"])

    def _decision(self) -> dict[str, Any] | None:
        return self.monitor.decision.to_json() if self.monitor is not None else None

    def _serving_status(self, decision: dict[str, Any] | None) -> dict[str, Any]:
        return {**self._serving_details(self.supervisor.status), "model": self.settings["node.model"],
                "resume_in_s": decision["resume_in_s"] if decision is not None else None}

    def _pause_status(self, decision: dict[str, Any] | None) -> dict[str, Any]:
        signals = [signal.to_json() for signal in self.monitor.signals()] if self.monitor is not None else []
        return {"decision": decision, "signals": signals}

    def _serving_details(self, serving: ServingStatus) -> dict[str, Any]:
        details = asdict(serving)
        details.update(self.stats.read(serving.peer_id if serving.state == "serving" else None))
        pids = own_process_tree(serving.pid) if serving.pid is not None else frozenset()  # with its DHT and p2pd
        details["memory_bytes"] = _tree_rss(pids)
        details["vram_bytes"] = process_gpu_bytes(set(pids)) if pids else None
        return details


def _tree_rss(pids: Collection[int]) -> int | None:
    """Resident memory of these processes, in bytes."""
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            continue
    return total or None
