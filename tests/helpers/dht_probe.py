"""Raw DHT requests to one peer (ping, find, store on exact keys), as a member or an outsider would send them.

They go through hivemind's own DHTProtocol stubs, so a request is signed by the node's authorizer (or not
at all), and a refusal arrives as the callee's error message rather than a silent None.
"""
from __future__ import annotations

from collections.abc import Sequence

from hivemind.dht.node import DHTNode
from hivemind.dht.protocol import DHTProtocol
from hivemind.dht.routing import DHTID
from hivemind.p2p import PeerID
from hivemind.proto import dht_pb2
from hivemind.utils.auth import AuthorizerBase
from hivemind.utils.timed_storage import get_dht_time

TIMEOUT = 10.0


async def probe_node(initial_peers: Sequence[str], authorizer: AuthorizerBase | None) -> DHTNode:
    """A DHT node that dials `initial_peers` but does not insist on bootstrapping (an outsider's first step)."""
    return await DHTNode.create(initial_peers=list(initial_peers), authorizer=authorizer,
                                ensure_bootstrap_success=False, wait_timeout=3)


def _stub(node: DHTNode, peer_id: str):
    return node.protocol.get_stub(PeerID.from_base58(peer_id))


async def ping(node: DHTNode, peer_id: str) -> dht_pb2.PingResponse:
    request = dht_pb2.PingRequest(peer=node.protocol.node_info, validate=False)
    return await _stub(node, peer_id).rpc_ping(request, timeout=TIMEOUT)


async def find(node: DHTNode, peer_id: str, keys: Sequence[str]) -> dht_pb2.FindResponse:
    request = dht_pb2.FindRequest(keys=[DHTID.generate(source=key).to_bytes() for key in keys],
                                  peer=node.protocol.node_info)
    return await _stub(node, peer_id).rpc_find(request, timeout=TIMEOUT)


async def store(node: DHTNode, peer_id: str, key: str, value: bytes) -> dht_pb2.StoreResponse:
    request = dht_pb2.StoreRequest(keys=[DHTID.generate(source=key).to_bytes()],
                                   subkeys=[DHTProtocol.IS_REGULAR_VALUE], values=[value],
                                   expiration_time=[get_dht_time() + 60], in_cache=[False],
                                   peer=node.protocol.node_info)
    return await _stub(node, peer_id).rpc_store(request, timeout=TIMEOUT)
