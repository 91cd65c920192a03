"""The node's state and actions behind the control API: serving, pausing, settings, status."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from core.config import LIVE, NODE, SCHEMA, SERVER, Settings, lookup, update_settings_file
from core.events import ServingChanged, SettingsChanged
from core.node.contract import AppliedSettings, NodeStatus, PauseStatus, ServingStatus
from core.node.conversations import Conversations
from core.node.event_hub import EventHub
from core.node.model_pool import ModelPool
from core.node.status_publisher import StatusPublisher
from core.node.status_report import StatusReport
from core.node.supervisor import ChildStatus, ServerSupervisor
from core.node.swarm_view import SwarmView
from core.pause import AppSnapshot, Decision, PauseMonitor, ServingState, Transition, apply_settings

logger = logging.getLogger(__name__)

PAUSE_KEYS = ("pause.", "server.vram_reserve_gb")  # what the pause monitor's detectors read


class Node:
    """Serving follows the pause monitor's decisions; user commands go through the monitor too, so that
    a user pause, a game and "donation off" are weighed in one place."""

    def __init__(self, settings: Settings, overrides: list[str], hub: EventHub, supervisor: ServerSupervisor,
                 pool: ModelPool, conversations: Conversations, swarm_view: SwarmView, report: StatusReport):
        self.settings = settings
        self.started_settings = settings  # what settings that apply at the node's start were then
        self.overrides = overrides
        self.hub = hub
        self.supervisor = supervisor
        self.pool = pool
        self.conversations = conversations
        self.swarm_view = swarm_view
        self.report = report
        self.publisher = StatusPublisher(self.status, hub)
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
        self.publisher.start()

    def on_transition(self, transition: Transition) -> None:
        self._pending = self._control.submit(self._apply, transition.current)
        self.publisher.nudge()

    def on_serving_changed(self, status: ChildStatus) -> None:
        self.hub.publish(ServingChanged(state=status.state, reason=status.reason, pid=status.pid,
                                        model=self.pool.own_name, blocks=status.blocks))
        self.publisher.nudge()

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

    def update_settings(self, changes: dict[str, Any]) -> tuple[list[str], AppliedSettings]:
        """Store new settings (all or nothing; raises SettingsError) and apply each as its schema says: at once,
        by restarting the server child, or at the node's next start. Returns the stored keys and how they apply."""
        update_settings_file(changes)
        stored = Settings.load()  # the file alone: where it differs, this run's command line overrides it
        old, self.settings = self.settings, Settings.load(self.overrides)
        keys = sorted(changes)
        self._apply_settings([key for key in keys if old[key] != self.settings[key]])
        self.hub.publish(SettingsChanged(keys=keys))
        self.publisher.nudge()
        overridden = [key for key in keys if self.settings[key] != stored[key]]
        keys_by = {applies: [key for key in keys if lookup(key).applies is applies and key not in overridden]
                   for applies in (LIVE, SERVER, NODE)}
        return keys, AppliedSettings(live=keys_by[LIVE], server_restart=keys_by[SERVER], node_restart=keys_by[NODE],
                                     overridden=overridden)

    def restart_needed(self) -> list[str]:
        """Settings changed since the node started that take effect only when it starts again."""
        return [setting.key for setting in SCHEMA if setting.applies is NODE
                and self.settings[setting.key] != self.started_settings[setting.key]]

    def status(self) -> NodeStatus:
        return self.report.status(self.settings, self.monitor, self.restart_needed())

    def serving_status(self) -> ServingStatus:
        """The "serving" part of `status`, without its swarm scan."""
        return self.report.serving(self.monitor)

    def pause_status(self) -> PauseStatus:
        """The "pause" part of `status`: the monitor's decision and its detectors' signals."""
        return self.report.pause(self.monitor)

    def shutdown(self) -> None:
        self.publisher.stop()
        if self.monitor is not None:
            self.monitor.stop()
        self._control.shutdown(wait=True)
        self.supervisor.shutdown()

    def _apply_settings(self, changed: list[str]) -> None:
        """Apply changed values: live ones here, server ones by restarting the server child."""
        settings = self.settings
        self.conversations.configure(settings["node.max_sessions"], settings["node.session_idle_timeout"],
                                     settings["node.session_tokens"])
        self.supervisor.configure(settings["node.restart_backoff_max"], settings["server.drain_timeout"])
        if self.monitor is not None and any(key.startswith(PAUSE_KEYS) for key in changed):
            apply_settings(self.monitor, settings)
        if "node.model" in changed:  # the API answers for the new model too, not only the server child
            self.pool.set_own_model(settings["node.model"])
            threading.Thread(target=preload_own_model, args=(self,), daemon=True, name="meadow-preload").start()
        if any(lookup(key).applies is SERVER for key in changed):
            self._control.submit(self.supervisor.restart, "applying new settings")

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


def preload_own_model(node: Node) -> None:
    """Load the own model's client part now, so that the first request does not wait for it."""
    try:
        node.pool.get(node.pool.own_name)
    except Exception:  # the first request reports the problem to its caller
        logger.warning("Preloading %s failed", node.settings["node.model"], exc_info=True)
