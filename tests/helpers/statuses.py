"""Node statuses (core.node.contract.NodeStatus) for tests of the app's parts without a node."""
from __future__ import annotations

from core.node.contract import (
    NodeInfo,
    NodeStatus,
    OwnModel,
    PauseDecision,
    PauseStatus,
    ServingStateName,
    ServingStatus,
    SessionsInfo,
    SwarmInfo,
)
from core.pause import PauseKind, ServingState


def node_status(state: ServingStateName = "serving", kind: PauseKind = PauseKind.NONE,
                decision: ServingState = ServingState.SERVING, reason: str = "") -> NodeStatus:
    """A status whose server child is in `state` and whose pause monitor decided `decision` for `kind`."""
    serving = ServingStatus(state=state, reason=reason, pid=None, blocks=None, peer_id=None, since=0.0,
                            resume_in_s=None, requests_served=None, tokens_served=None, tokens_per_second=None,
                            open_sessions=None, cache_tokens_free=None, queue_depth=None, device=None, dtype=None,
                            quantization=None, memory_bytes=None, vram_bytes=None)
    pause = PauseStatus(decision=PauseDecision(state=decision, kind=kind, reason=reason, resume_in_s=None),
                        signals=[])
    return NodeStatus(node=NodeInfo(pid=1, version="0", uptime_s=0.0, restart_needed=[]),
                      swarm=SwarmInfo(name="public", private=False, namespace="meadow", peer_id="Qm1", multiaddrs=[],
                                      peers=None),
                      model=OwnModel(setting="m", name="m", coverage=None), models=[], serving=serving, pause=pause,
                      sessions=SessionsInfo(open=0))
