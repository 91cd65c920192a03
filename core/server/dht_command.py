"""`meadow dht`: a DHT-only bootstrap peer that prints its multiaddrs and runs until signalled."""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from core import events
from core.config import Settings
from core.swarm.dht import SwarmSelection, start_dht, visible_maddrs
from core.swarm.identity import Identity


def run_dht(swarm: SwarmSelection, settings: Settings, host: str, port: int, identity_path: Path | None,
            announce_maddrs: tuple[str, ...] = ()) -> None:
    events.Starting(command="dht", pid=os.getpid()).emit()
    stop = threading.Event()
    reason = {"value": "stopped"}

    def on_signal(signum: int, _frame: object) -> None:
        reason["value"] = signal.Signals(signum).name
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    identity = Identity.from_file(identity_path) if identity_path else Identity.ephemeral()
    swarm.new_swarm = swarm.new_swarm or not swarm.initial_peers  # a bootstrap peer may start a swarm
    dht = start_dht(swarm, settings, identity, identity_path, host=host, port=port, announce_maddrs=announce_maddrs)
    try:
        events.DhtReady(peer_id=dht.peer_id.to_base58(), multiaddrs=visible_maddrs(dht)).emit()
        stop.wait()
        events.Stopping(reason=reason["value"]).emit()
    finally:
        dht.shutdown()
    events.Stopped().emit()
