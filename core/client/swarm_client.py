"""The client's view of a swarm: a DHT peer for discovery and P2P stubs for calling servers."""
from __future__ import annotations

import logging

from hivemind import DHT
from hivemind.p2p import P2P, PeerID

from core.config import Settings
from core.server.handler import BlockServicer
from core.swarm.dht import SwarmSelection, start_dht
from core.swarm.directory import BlockServer, fetch_servers

logger = logging.getLogger(__name__)


class SwarmClient:
    """Discovery and RPC access to one swarm; owns its DHT peer unless one was passed in."""

    def __init__(self, swarm: SwarmSelection, settings: Settings, dht: DHT | None = None):
        self.swarm = swarm
        self.settings = settings
        self._owns_dht = dht is None
        self.dht = dht if dht is not None else start_dht(swarm, settings, client_mode=True)
        self._p2p: P2P | None = None

    def servers(self, model: str, num_blocks: int) -> dict[int, list[BlockServer]]:
        return fetch_servers(self.dht, self.swarm.namespace, model, list(range(num_blocks)))

    async def stub(self, peer_id: str):  # -> BlockServicer stub
        if self._p2p is None:
            self._p2p = await self.dht.replicate_p2p()
        return BlockServicer.get_stub(self._p2p, PeerID.from_base58(peer_id))

    async def auth_proof(self, peer_id: str) -> bytes | None:
        if self._p2p is None:
            self._p2p = await self.dht.replicate_p2p()
        return self.swarm.authorizer.make_proof(self._p2p.peer_id, PeerID.from_base58(peer_id))

    def shutdown(self) -> None:
        if self._p2p is not None:
            from core.client.worker import run_sync

            try:
                run_sync(self._p2p.shutdown(), timeout=5.0)
            except Exception:  # noqa: BLE001 - best effort: the process may be exiting
                logger.debug("Closing the P2P replica failed", exc_info=True)
            self._p2p = None
        if self._owns_dht:
            self.dht.shutdown()
