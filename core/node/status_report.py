"""The node's status (core.node.contract.NodeStatus), assembled from its parts.

Every expensive read is cached for a stated interval: the swarm's coverage and peer count (core.node.swarm_view),
the server child's rpc_info (core.node.server_stats) and its GPU memory from NVML (GPU_MEMORY_SECONDS here). The
rest (the supervisor's and the pause monitor's state, the process tree's resident memory) is read each time.
"""
from __future__ import annotations

import os
import time
from collections.abc import Collection

import psutil

from core import __version__
from core.config import Settings
from core.node.contract import (
    ModelCoverage,
    NodeInfo,
    NodeStatus,
    OwnModel,
    PauseDecision,
    PauseSignal,
    PauseStatus,
    ServingStatus,
    SessionsInfo,
)
from core.node.conversations import Conversations
from core.node.expiring import Expiring
from core.node.model_pool import ModelPool
from core.node.server_stats import ServerStatsReader
from core.node.supervisor import ServerSupervisor
from core.node.swarm_view import SwarmView
from core.nvml import process_gpu_bytes
from core.pause import Decision, PauseMonitor
from core.pause.own_processes import own_process_tree

GPU_MEMORY_SECONDS = 5.0  # an NVML session lists every GPU process
MIB = 1 << 20


class StatusReport:
    def __init__(self, supervisor: ServerSupervisor, swarm_view: SwarmView, pool: ModelPool,
                 conversations: Conversations, stats: ServerStatsReader):
        self.supervisor, self.swarm_view, self.pool = supervisor, swarm_view, pool
        self.conversations, self.stats = conversations, stats
        self.started = time.time()
        self._gpu_bytes: Expiring[int | None] = Expiring(GPU_MEMORY_SECONDS)

    def status(self, settings: Settings, monitor: PauseMonitor | None, restart_needed: list[str]) -> NodeStatus:
        models = self.swarm_view.coverage()
        node = NodeInfo(pid=os.getpid(), version=__version__, uptime_s=round(time.time() - self.started, 1),
                        restart_needed=restart_needed)
        return NodeStatus(node=node, swarm=self.swarm_view.describe(), model=self.own_model(settings, models),
                          models=models, serving=self.serving(monitor), pause=self.pause(monitor),
                          sessions=SessionsInfo(open=self.conversations.open_count))

    def own_model(self, settings: Settings, models: list[ModelCoverage]) -> OwnModel:
        name = self.pool.own_name
        return OwnModel(setting=settings["node.model"], name=name,
                        coverage=next((model for model in models if model.model == name), None))

    def serving(self, monitor: PauseMonitor | None) -> ServingStatus:
        """The server child's state, counters and memory (its DHT and p2pd children included)."""
        child = self.supervisor.status
        counters = self.stats.read(child.peer_id if child.state == "serving" else None)
        pids = own_process_tree(child.pid) if child.pid is not None else frozenset()
        resume_in_s = monitor.decision.resume_in_s if monitor is not None else None
        return ServingStatus(
            state=child.state, reason=child.reason, pid=child.pid, blocks=child.blocks, peer_id=child.peer_id,
            since=child.since, resume_in_s=None if resume_in_s is None else round(resume_in_s, 1), **counters,
            memory_bytes=_tree_rss(pids), vram_bytes=self._gpu_bytes.get(pids, lambda: _gpu_bytes(pids)))

    @staticmethod
    def pause(monitor: PauseMonitor | None) -> PauseStatus:
        """The monitor's decision and its detectors' signals."""
        if monitor is None:
            return PauseStatus(decision=None, signals=[])
        signals = [PauseSignal(detector=signal.detector, active=signal.active, reason=signal.reason, kind=signal.kind,
                               subject=signal.subject, available=signal.available) for signal in monitor.signals()]
        return PauseStatus(decision=_decision(monitor.decision), signals=signals)


def _decision(decision: Decision) -> PauseDecision:
    resume_in_s = None if decision.resume_in_s is None else round(decision.resume_in_s, 1)
    return PauseDecision(state=decision.state, kind=decision.kind, reason=decision.reason, resume_in_s=resume_in_s)


def _gpu_bytes(pids: frozenset[int]) -> int | None:
    return process_gpu_bytes(set(pids)) if pids else None


def _tree_rss(pids: Collection[int]) -> int | None:
    """Resident memory of these processes, in bytes rounded to whole MiB (finer is noise that would count as a
    change of status)."""
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            continue
    return round(total / MIB) * MIB or None
