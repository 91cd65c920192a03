"""A server with a KV cache budget for N sessions, hit by 50 at once: at least N run, the others are told
"busy:" within a second and succeed on retry; memory stays within the budget; the server keeps serving."""
from __future__ import annotations

import asyncio
import time

import pytest
from hivemind.p2p import P2PHandlerError
from transformers import AutoConfig

from core.client.swarm_client import SwarmClient
from core.client.worker import run_sync
from core.config import Settings
from core.server.block_cost import kv_bytes_per_token
from core.swarm.dht import SwarmSelection
from tests.helpers.streams import RawSession, hidden_states
from tests.integration.conftest import start_servers

pytestmark = pytest.mark.slow

NAMESPACE = "memory"
MODEL = "tiny-llama"
SPAN = (0, 6)
MAX_LENGTH = 32
CAPACITY = 10  # sessions of MAX_LENGTH that the budget holds
SESSIONS = 50


@pytest.fixture(scope="module")
def server(bootstrap, tiny_llama):
    (server,) = start_servers(str(tiny_llama), [SPAN], NAMESPACE, bootstrap.multiaddrs,
                              ["--set", f"server.cache_tokens={CAPACITY * MAX_LENGTH}"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(server, bootstrap):
    swarm_client = SwarmClient(SwarmSelection(NAMESPACE, bootstrap.multiaddrs), Settings.load())
    yield swarm_client
    swarm_client.shutdown()


async def _session(client: SwarmClient, peer: str, seed: int, think: float) -> None:
    """Prefill 8 tokens, hold the cache for `think` seconds, decode 3 tokens, close."""
    session = RawSession(client, peer, MODEL, SPAN, MAX_LENGTH)
    await session.open(hidden_states(8, seed=seed))
    await asyncio.sleep(think)
    for index in range(3):
        await session.step(hidden_states(1, seed=seed * 100 + index))
    await session.close()


async def _attempt(client: SwarmClient, peer: str, seed: int, think: float) -> tuple[bool, float]:
    """(succeeded, seconds until the answer); any error but "busy:" fails the test."""
    started = time.monotonic()
    try:
        await _session(client, peer, seed, think)
    except P2PHandlerError as error:
        assert str(error).startswith("busy:") or "busy:" in str(error), f"not a busy error: {error}"
        return False, time.monotonic() - started
    return True, time.monotonic() - started


async def _until_served(client: SwarmClient, peer: str, seed: int) -> int:
    """Retry a refused session until it succeeds; returns the number of tries it took."""
    attempts = 1
    while not (await _attempt(client, peer, seed, think=0.0))[0]:
        attempts += 1
        await asyncio.sleep(0.2)
    return attempts


async def _burst(client: SwarmClient, peer: str) -> tuple[list[tuple[bool, float]], list[int]]:
    first = await asyncio.gather(*(_attempt(client, peer, seed, think=1.0) for seed in range(SESSIONS)))
    refused = [seed for seed, (served, _) in enumerate(first) if not served]
    retries = await asyncio.gather(*(_until_served(client, peer, seed) for seed in refused))
    return first, retries


async def _warm_up(client: SwarmClient, peer: str) -> None:
    """A full budget's worth of sessions first, so that the baseline memory includes warm streams."""
    await asyncio.gather(*(_session(client, peer, seed, 0.0) for seed in range(CAPACITY)))


def _info(client: SwarmClient, peer: str) -> dict:
    from core.wire import decode_metadata
    from hivemind.proto import runtime_pb2

    async def call() -> dict:
        stub = await client.stub(peer)
        return decode_metadata((await stub.rpc_info(runtime_pb2.ExpertRequest(), timeout=10)).metadata)

    return run_sync(call(), 15)


def test_fifty_sessions_against_a_budget_for_ten(server, client, tiny_llama):
    peer = server.peer_id
    assert _info(client, peer)["cache_tokens_free"] == CAPACITY * MAX_LENGTH
    run_sync(_warm_up(client, peer), 60)
    baseline = server.peak_rss_bytes()
    first, retries = run_sync(_burst(client, peer), 300)

    served = [elapsed for ok, elapsed in first if ok]
    refused = [elapsed for ok, elapsed in first if not ok]
    assert len(served) >= CAPACITY
    assert refused, "the budget never filled up: nothing was refused"
    assert max(refused) < 1.0, f"busy answers took up to {max(refused):.2f} s"
    assert len(retries) == len(refused)  # every refused session was served on a later try

    budget_bytes = CAPACITY * MAX_LENGTH * (SPAN[1] - SPAN[0]) * kv_bytes_per_token(
        AutoConfig.from_pretrained(tiny_llama), "float32")
    growth = server.peak_rss_bytes() - baseline
    print(f"served at once {len(served)}, refused {len(refused)} (slowest {max(refused):.3f} s), "
          f"retries {sum(retries)}, RSS growth {growth / 2**20:.1f} MiB, budget {budget_bytes / 2**20:.2f} MiB, "
          f"baseline {baseline / 2**20:.0f} MiB")
    assert growth <= budget_bytes + 0.1 * baseline
    assert server.process.poll() is None
    details = _info(client, peer)
    assert details["open_sessions"] == 0 and details["cache_tokens_free"] == CAPACITY * MAX_LENGTH
