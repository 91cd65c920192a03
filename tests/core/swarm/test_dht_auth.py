"""The DHT authorizer: signed requests and responses; members talk, outsiders are refused (real DHT nodes)."""
from __future__ import annotations

import asyncio

import pytest
from hivemind.dht.node import DHTNode
from hivemind.p2p import P2PHandlerError
from hivemind.proto import dht_pb2
from hivemind.utils.timed_storage import get_dht_time

from core.swarm.dht_auth import DhtAccessDenied, SecretDhtAuthorizer
from tests.helpers import dht_probe

SECRET = b"d" * 32


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


async def _signed(authorizer: SecretDhtAuthorizer) -> dht_pb2.FindRequest:
    request = dht_pb2.FindRequest(keys=[b"key"])
    await authorizer.sign_request(request, None)
    return request


def test_signed_request_and_response_validate():
    async def scenario():
        member = SecretDhtAuthorizer(SECRET)
        request = await _signed(member)
        received = dht_pb2.FindRequest.FromString(request.SerializeToString())
        assert await SecretDhtAuthorizer(SECRET).validate_request(received)
        response = dht_pb2.FindResponse()
        await member.sign_response(response, request)
        assert await member.validate_response(dht_pb2.FindResponse.FromString(response.SerializeToString()), request)
        assert not await SecretDhtAuthorizer(b"w" * 32).validate_response(response, request)

    run(scenario())


@pytest.mark.parametrize("case", ["unsigned", "wrong secret", "tampered", "replayed", "stale"])
def test_bad_requests_are_refused(case):
    async def scenario():
        validator = SecretDhtAuthorizer(SECRET)
        request = await _signed(SecretDhtAuthorizer(b"w" * 32 if case == "wrong secret" else SECRET))
        if case == "unsigned":
            request = dht_pb2.FindRequest(keys=[b"key"])
        elif case == "tampered":
            request.keys.append(b"other")
        elif case == "replayed":
            await validator.validate_request(dht_pb2.FindRequest.FromString(request.SerializeToString()))
        elif case == "stale":
            request.auth.time = get_dht_time() - 600
            request.auth.signature = b""
            request.auth.signature = validator._mac(b"request", request)
        with pytest.raises(DhtAccessDenied, match="access denied"):
            await validator.validate_request(request)

    run(scenario())


def test_members_share_records_and_outsiders_get_nothing():
    async def scenario():
        first = await DHTNode.create(authorizer=SecretDhtAuthorizer(SECRET))
        maddrs = [str(maddr) for maddr in await first.get_visible_maddrs()]
        first_id = first.peer_id.to_base58()
        nodes = [first]
        try:
            member = await DHTNode.create(initial_peers=maddrs, authorizer=SecretDhtAuthorizer(SECRET))
            nodes.append(member)
            assert await member.store("key", "value", get_dht_time() + 60)
            assert (await first.get("key")).value == "value"
            for authorizer in (None, SecretDhtAuthorizer(b"w" * 32)):
                outsider = await dht_probe.probe_node(maddrs, authorizer)
                nodes.append(outsider)
                assert first.peer_id not in outsider.protocol.routing_table  # bootstrap failed
                for request in (dht_probe.ping(outsider, first_id), dht_probe.find(outsider, first_id, ["key"]),
                                dht_probe.store(outsider, first_id, "key", b"forged")):
                    with pytest.raises(P2PHandlerError, match="access denied"):
                        await request
                assert await outsider.get("key") is None
            assert (await first.get("key")).value == "value"
        finally:
            await asyncio.gather(*(node.shutdown() for node in nodes))

    run(scenario())
