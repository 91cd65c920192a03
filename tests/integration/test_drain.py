"""SIGTERM drains a server: new sessions are refused with "draining:", an open session finishes its steps
within server.drain_timeout, and one that outlives it is told "draining:" so that it moves on. A second
SIGTERM ends the drain at once."""
from __future__ import annotations

import os
import signal
import time

import pytest
from hivemind.p2p import P2PHandlerError

from core.client.swarm_client import SwarmClient
from core.client.worker import run_sync
from core.config import Settings
from core.events import Stopped, Stopping
from core.swarm.dht import SwarmSelection
from tests.helpers.processes import MeadowProcess
from tests.helpers.streams import RawSession, hidden_states

pytestmark = pytest.mark.slow

MODEL = "tiny-llama"
SPAN = (0, 6)


def _start(tiny_llama, bootstrap, namespace: str, drain_timeout: float) -> MeadowProcess:
    return MeadowProcess.start(["serve", "--model", str(tiny_llama), "--blocks", "0:6", "--initial-peers",
                                *bootstrap.multiaddrs, "--set", f"swarm.namespace={namespace}",
                                "--set", "server.throughput=1", "--set", f"server.drain_timeout={drain_timeout}"],
                               wait_ready=False)


@pytest.fixture(scope="module")
def servers(bootstrap, tiny_llama):
    """Servers started together: one drains for 20 s, one for 1 s, one for 60 s (cut short by a second SIGTERM)."""
    started = {"long": _start(tiny_llama, bootstrap, "drain-long", 20),
               "short": _start(tiny_llama, bootstrap, "drain-short", 1),
               "cut": _start(tiny_llama, bootstrap, "drain-cut", 60)}
    for server in started.values():
        server.wait_ready(180)
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture(scope="module")
def client(bootstrap):
    swarm_client = SwarmClient(SwarmSelection("drain-long", bootstrap.multiaddrs), Settings.load())
    yield swarm_client
    swarm_client.shutdown()


def _refused_while_draining(client: SwarmClient, peer: str) -> str:
    async def open_one() -> None:
        await RawSession(client, peer, MODEL, SPAN, 16, timeout=10).open(hidden_states(2))

    with pytest.raises(P2PHandlerError) as caught:
        run_sync(open_one(), 20)
    return str(caught.value)


def test_open_session_finishes_within_drain_timeout_and_new_ones_are_refused(servers, client):
    server = servers["long"]
    session = RawSession(client, server.peer_id, MODEL, SPAN, 16)
    run_sync(session.open(hidden_states(4)), 30)
    os.kill(server.pid, signal.SIGTERM)
    assert server.wait_for(Stopping, 10).reason == "SIGTERM"
    assert "draining:" in _refused_while_draining(client, server.peer_id)
    for index in range(3):  # the open session goes on
        run_sync(session.step(hidden_states(1, seed=index)), 30)
    assert session.position == 7
    run_sync(session.close(), 30)
    closed = time.monotonic()
    server.wait_for(Stopped, 15)
    assert server.process.wait(15) == 0
    assert time.monotonic() - closed < 10, "the server waited out its drain time after the last session ended"


def test_session_outliving_the_drain_is_told_at_once(servers, client):
    """hivemind's caller notices a silently closed stream only when it sends again, so the server ends an
    open session with a "draining:" error once the drain time is up: the caller reads it at once."""
    server = servers["short"]
    session = RawSession(client, server.peer_id, MODEL, SPAN, 16)
    run_sync(session.open(hidden_states(4)), 30)
    os.kill(server.pid, signal.SIGTERM)
    server.wait_for(Stopping, 10)
    started = time.monotonic()

    with pytest.raises(P2PHandlerError, match="draining:"):
        run_sync(_until_the_stream_ends(session), 20)
    assert time.monotonic() - started < 10
    server.wait_for(Stopped, 15)
    assert server.process.wait(15) == 0


def test_a_second_sigterm_cuts_the_drain_short(servers, client):
    server = servers["cut"]
    session = RawSession(client, server.peer_id, MODEL, SPAN, 16)
    run_sync(session.open(hidden_states(4)), 30)
    os.kill(server.pid, signal.SIGTERM)
    server.wait_for(Stopping, 10)
    run_sync(session.step(hidden_states(1)), 30)  # still draining: the open session is served
    os.kill(server.pid, signal.SIGTERM)
    started = time.monotonic()

    with pytest.raises(P2PHandlerError, match="draining:"):
        run_sync(_until_the_stream_ends(session), 20)
    server.wait_for(Stopped, 15)
    assert server.process.wait(15) == 0
    assert time.monotonic() - started < 10, "the second SIGTERM did not end the 60 s drain"


async def _until_the_stream_ends(session: RawSession) -> None:
    """Read the open session's stream to its end; any answer there is a failure (nothing was asked)."""
    async for extra in session._responses:
        raise AssertionError(f"unexpected answer: {extra}")
