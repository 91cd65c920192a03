"""Routes follow measured load and latency, and a session outlives every bootstrap peer."""
from __future__ import annotations

import os
import signal
import time

import pytest
import torch

from core.client.contacts import contact_peer_ids
from tests.helpers.processes import MeadowProcess
from tests.integration.conftest import PROMPT, client_for, start_servers
from tests.integration.test_failover import Faults

SESSIONS = 10


def _wait_until_contacts(model, peer_ids: set[str], timeout: float = 15.0) -> None:
    """The client's DHT peer knows every server directly (the refresher pings each server it saw)."""
    deadline = time.monotonic() + timeout
    while not peer_ids <= set(contact_peer_ids(model.swarm_client.dht)):
        assert time.monotonic() < deadline, "the servers never became DHT contacts of the client"
        time.sleep(0.2)


@pytest.mark.slow
def test_sessions_prefer_the_fast_replica(bootstrap, tiny_llama):
    namespace = "routing-load"
    fast = start_servers(str(tiny_llama), [(0, 6)], namespace, bootstrap.multiaddrs)[0]
    slow = start_servers(str(tiny_llama), [(0, 6)], namespace, bootstrap.multiaddrs,
                         extra=["--set", "server.step_delay=0.05"])[0]
    model = client_for(str(tiny_llama), namespace, bootstrap.multiaddrs)
    routed = []
    try:
        for _ in range(SESSIONS):
            with model.inference_session(max_length=PROMPT.shape[1] + 4) as session:
                model.generate(PROMPT, max_new_tokens=4, min_new_tokens=4, do_sample=False)
                routed.append(session.route[0].peer_id)
    finally:
        model.shutdown()
        fast.stop()
        slow.stop()
    assert routed.count(fast.peer_id) > 0.8 * SESSIONS, routed


@pytest.mark.slow
def test_session_survives_the_loss_of_every_initial_peer(tiny_llama, expected_tokens):
    namespace = "lost-bootstrap"
    own_bootstrap = MeadowProcess.start(["dht", "--new-swarm"])
    servers = start_servers(str(tiny_llama), [(0, 6), (0, 6), (0, 3), (3, 6)], namespace, own_bootstrap.multiaddrs)
    by_peer = {server.peer_id: server for server in servers}
    model = client_for(str(tiny_llama), namespace, own_bootstrap.multiaddrs, "client.request_timeout=20")
    victims = []
    try:
        with model.inference_session(max_length=PROMPT.shape[1] + 64) as session:
            _wait_until_contacts(model, set(by_peer))

            def kill_bootstrap() -> None:
                victims.append(own_bootstrap)
                os.kill(own_bootstrap.pid, signal.SIGKILL)

            def kill_on_route_server() -> None:  # found again without any bootstrap peer
                victims.append(by_peer[session.route[0].peer_id])
                os.kill(victims[-1].pid, signal.SIGKILL)

            tokens = model.generate(PROMPT, max_new_tokens=64, min_new_tokens=64, do_sample=False,
                                    streamer=Faults({16: kill_bootstrap, 40: kill_on_route_server}))
            replacements = session.replacements
    finally:
        model.shutdown()
        for process in [own_bootstrap, *servers]:
            process.stop()
    assert len(victims) == 2
    assert torch.equal(tokens, expected_tokens)
    assert replacements == 1
