"""A real private swarm on 127.0.0.1: members generate; an outsider who knows everything but the secret
cannot bootstrap into its DHT, get or store its records, or call its server; an expired invite is refused.

The bootstrap peer gets the secret on stdin (as a supervisor's child would), the server reads the keyring.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
import torch
from hivemind.p2p import P2PHandlerError, PeerID
from hivemind.proto import dht_pb2
from transformers import AutoModelForCausalLM

from core.client import AutoDistributedModelForCausalLM
from core.config import Settings
from core.errors import UserFacingError
from core.server.handler import BlockServicer
from core.swarm import private
from core.swarm.auth import SecretRpcAuthorizer
from core.swarm.dht import SwarmSelection, start_dht
from core.swarm.dht_auth import SecretDhtAuthorizer
from core.swarm.invite import encode_invite, make_invite
from core.swarm.keys import block_key, models_key
from core.swarm.secrets import KeyringSecrets, encode_secret
from core.wire import request
from tests.helpers import dht_probe
from tests.helpers.processes import MeadowProcess

pytestmark = pytest.mark.slow

NAME = "team-it"
MODEL = "tiny-llama"
WRONG = b"w" * 32
TIMEOUT = 20.0


def meadow(*args: str, home: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"MEADOW_HOME": home} if home else {})}
    return subprocess.run([sys.executable, "-m", "core", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def private_swarm(tiny_llama):
    """A `meadow dht` (secret on stdin) and one `meadow serve` of every tiny block (secret from the keyring)."""
    created = meadow("swarm", "create", NAME)
    assert created.returncode == 0, created.stderr
    swarm = private.list_swarms()[-1]
    secret = KeyringSecrets().get(swarm.namespace, NAME)
    started = [MeadowProcess.start(["dht", "--swarm", NAME, "--new-swarm", "--secret-stdin"],
                                   stdin_text=encode_secret(secret))]
    try:
        started.append(MeadowProcess.start(["serve", "--swarm", NAME, "--model", str(tiny_llama), "--blocks", "0:6",
                                            "--initial-peers", *started[0].multiaddrs], ready_timeout=180))
        yield swarm, started[0], started[1]
    finally:
        for process in started:
            process.stop()
        private.leave_swarm(NAME)


def outsider_authorizers():
    return [(None, None), (SecretDhtAuthorizer(WRONG), SecretRpcAuthorizer(WRONG))]


def test_outsider_cannot_bootstrap(private_swarm):
    swarm, _, server = private_swarm
    settings = Settings.load(["dht.wait_timeout=2", "client.connect_timeout=15"])
    for dht_authorizer, _ in outsider_authorizers():
        selection = SwarmSelection(swarm.namespace, server.multiaddrs, dht_authorizer=dht_authorizer)
        with pytest.raises(UserFacingError, match="Could not join the swarm"):
            start_dht(selection, settings, client_mode=True).shutdown()


def test_outsider_cannot_get_store_or_call(private_swarm):
    swarm, _, server = private_swarm
    keys = [block_key(swarm.namespace, MODEL, index) for index in range(6)] + [models_key(swarm.namespace)]

    async def scenario():
        member = await dht_probe.probe_node(server.multiaddrs, SecretDhtAuthorizer(_secret(swarm)))
        try:  # the member's view proves the keys are the right ones and hold records
            found = await dht_probe.find(member, server.peer_id, keys)
            assert all(result.type == dht_pb2.FOUND_DICTIONARY for result in found.results)
        finally:
            await member.shutdown()
        for dht_authorizer, rpc_authorizer in outsider_authorizers():
            outsider = await dht_probe.probe_node(server.multiaddrs, dht_authorizer)
            try:
                await _assert_refused(dht_probe.ping(outsider, server.peer_id))
                await _assert_refused(dht_probe.find(outsider, server.peer_id, keys))
                for key in keys:
                    await _assert_refused(dht_probe.store(outsider, server.peer_id, key, b"forged"))
                await _assert_rpcs_refused(outsider, server.peer_id, rpc_authorizer)
            finally:
                await outsider.shutdown()

    asyncio.run(asyncio.wait_for(scenario(), 120))


def _secret(swarm) -> bytes:
    return KeyringSecrets().get(swarm.namespace, NAME)


async def _assert_refused(call) -> None:
    with pytest.raises(P2PHandlerError, match="access denied"):
        await asyncio.wait_for(call, TIMEOUT)


async def _assert_rpcs_refused(outsider, peer_id: str, rpc_authorizer) -> None:
    """rpc_info, rpc_forward and rpc_inference, called directly with correct requests, all refuse."""
    stub = BlockServicer.get_stub(outsider.p2p, PeerID.from_base58(peer_id))
    proof = None if rpc_authorizer is None else rpc_authorizer.make_proof(outsider.peer_id, PeerID.from_base58(peer_id))
    auth = {} if proof is None else {"auth": proof}
    span = {"model": MODEL, "start": 0, "end": 6, **auth}
    hidden = torch.randn(1, 2, 64)
    await _assert_refused(stub.rpc_info(request([], auth)))
    await _assert_refused(stub.rpc_forward(request([hidden], span)))

    async def one_message():
        yield request([hidden], {**span, "max_length": 8, "position": 0})

    responses = await asyncio.wait_for(stub.rpc_inference(one_message()), TIMEOUT)
    await _assert_refused(anext(responses))


def test_member_with_the_token_generates(private_swarm, tiny_llama, tmp_path, monkeypatch):
    invited = meadow("invite", "create", "--swarm", NAME, "--initial-peers", *private_swarm[1].multiaddrs,
                     "--expires", "1h")
    assert invited.returncode == 0, invited.stderr
    token = invited.stdout.strip().splitlines()[-1]
    monkeypatch.setenv("MEADOW_HOME", str(tmp_path))  # the member's own data dir; the keyring is shared
    joined = meadow("swarm", "join", token, home=str(tmp_path))
    assert joined.returncode == 0 and "Joined private swarm 'team-it'" in joined.stdout, joined.stderr
    prompt = torch.tensor([[1, 17, 42, 99]])
    expected = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32).eval().generate(
        prompt, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    model = AutoDistributedModelForCausalLM.from_pretrained(str(tiny_llama), swarm=NAME,
                                                            settings=Settings.load(["client.route_timeout=30"]))
    try:
        got = model.generate(prompt, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    finally:
        model.shutdown()
    assert torch.equal(got, expected)


def test_expired_token_is_refused_at_join(private_swarm, tmp_path):
    swarm = private_swarm[0]
    token = encode_invite(make_invite(NAME, swarm.namespace, _secret(swarm), private_swarm[1].multiaddrs, -1))
    joined = meadow("swarm", "join", token, home=str(tmp_path))
    assert joined.returncode == 2 and "expired" in joined.stderr
    assert "No private swarms joined" in meadow("swarm", "list", home=str(tmp_path)).stdout


def test_status_of_the_private_swarm_and_this_peers_reachability(private_swarm):
    done = meadow("swarm", "status", "--swarm", NAME, "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout.strip().splitlines()[-1])
    (model,) = status["models"]
    assert model["model"] == MODEL and [block["servers"] for block in model["blocks"]] == [1] * 6
    assert status["reachability"]["direct"] is False and status["reachability"]["scope"] == "loopback"
