"""Every server the client has seen stays a contact of its DHT peer, so that losing the bootstrap
peers does not blind it: records can still be read from the servers themselves.

hivemind adds a peer to the routing table whenever it answers a request, also in client mode; here
the client pings each server it saw in a record, which puts the server in the table at once. The
coroutines run inside the DHT process (DHT.run_coroutine), so they are module-level and picklable.
"""
from __future__ import annotations

import asyncio
import logging
from functools import partial

from hivemind import DHT
from hivemind.dht.node import DHTNode
from hivemind.p2p import PeerID

logger = logging.getLogger(__name__)


async def _add_contacts(_dht: DHT, node: DHTNode, peer_ids: list[str]) -> int:
    table = node.protocol.routing_table
    new = [PeerID.from_base58(peer) for peer in peer_ids]
    new = [peer for peer in new if table.get(peer_id=peer) is None]
    answers = await asyncio.gather(*(node.protocol.call_ping(peer) for peer in new))
    return sum(answer is not None for answer in answers)


async def _table_peers(_dht: DHT, node: DHTNode) -> list[str]:
    return [peer.to_base58() for peer in node.protocol.routing_table.peer_id_to_uid]


def add_contacts(dht: DHT, peer_ids: list[str]) -> int:
    """Ping the peers that are not in the DHT's routing table yet; returns how many answered."""
    if not peer_ids:
        return 0
    answered: int = dht.run_coroutine(partial(_add_contacts, peer_ids=list(peer_ids)))
    return answered


def contact_peer_ids(dht: DHT) -> list[str]:
    """The peer ids in the DHT peer's routing table."""
    peer_ids: list[str] = dht.run_coroutine(_table_peers)
    return peer_ids
