"""A server on the session's route dies, stops or hangs mid-generation: the output still equals the
fault-free run, because replacements are rebuilt by replaying the session with its step boundaries."""
from __future__ import annotations

import os
import signal

import pytest
import torch
from transformers.generation.streamers import BaseStreamer

from tests.integration.conftest import PROMPT, client_for, start_servers

SPANS = [(0, 6), (0, 6), (0, 3), (3, 6)]  # overlapping replicas of the tiny 6-block model


class Faults(BaseStreamer):
    """Calls faults[n] when the generation has produced n new tokens."""

    def __init__(self, faults: dict):
        self.faults = faults
        self.count = -1  # the first put() is the prompt

    def put(self, value: torch.Tensor) -> None:
        self.count += 1
        if self.count in self.faults:
            self.faults[self.count]()

    def end(self) -> None:
        pass


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["SIGKILL", "SIGTERM", "SIGSTOP"])
def test_generation_survives_loss_of_the_on_route_server(bootstrap, tiny_llama, expected_tokens, fault):
    namespace = f"failover-{fault.lower()}"
    # A SIGTERMed server drains: without a drain time, it ends the open session right after its current step.
    extra = ["--set", "server.drain_timeout=0"] if fault == "SIGTERM" else []
    servers = start_servers(str(tiny_llama), SPANS, namespace, bootstrap.multiaddrs, extra)
    by_peer = {server.peer_id: server for server in servers}
    model = client_for(str(tiny_llama), namespace, bootstrap.multiaddrs, "client.request_timeout=20")
    victims = []
    try:
        with model.inference_session(max_length=PROMPT.shape[1] + 64) as session:
            def strike() -> None:
                victim = by_peer[session.route[0].peer_id]
                victims.append(victim)
                os.kill(victim.pid, getattr(signal, fault))

            tokens = model.generate(PROMPT, max_new_tokens=64, min_new_tokens=64, do_sample=False,
                                    streamer=Faults({20: strike}))
            replacements = session.replacements
            final_route = {span.peer_id for span in session.route}
    finally:
        model.shutdown()
        for server in servers:
            if fault == "SIGSTOP" and server in victims:
                os.kill(server.pid, signal.SIGCONT)
            server.stop()
    assert victims, "the fault was never injected"
    assert torch.equal(tokens, expected_tokens)
    assert replacements == 1
    assert victims[0].peer_id not in final_route
