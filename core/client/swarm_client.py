"""The client's view of a swarm: a DHT peer for discovery and P2P stubs for calling servers."""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from hivemind import DHT
from hivemind.p2p import P2P, PeerID

from core.client.contacts import add_contacts
from core.client.peer_stats import PeerStats
from core.client.worker import run_sync
from core.config import Settings
from core.server.handler import BlockServicer
from core.swarm.dht import SwarmSelection, start_dht
from core.swarm.directory import BlockServer, fetch_servers
from core.wire import decode_metadata, request

logger = logging.getLogger(__name__)


class SwarmClient:
    """Discovery and RPC access to one swarm; owns its DHT peer unless one was passed in.

    Server records are cached and refreshed from the DHT in the background (more often while a session
    is open); every server seen is pinged for its round-trip time and kept as a DHT contact.
    """

    def __init__(self, swarm: SwarmSelection, settings: Settings, dht: DHT | None = None):
        self.swarm = swarm
        self.settings = settings
        self._owns_dht = dht is None
        self.dht = dht if dht is not None else start_dht(swarm, settings, client_mode=True)
        self._p2p: P2P | None = None
        self.stats = PeerStats()
        self._found: dict[tuple[str, int], tuple[float, dict[int, list[BlockServer]]]] = {}
        self._pinged: dict[str, float] = {}
        self._contacted: set[str] = set()
        self._active_sessions = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._refresher: threading.Thread | None = None

    def servers(self, model: str, num_blocks: int, fresh: bool = False) -> dict[int, list[BlockServer]]:
        """Servers of each block: from the cache unless `fresh` or older than the refresh period."""
        self._start_refresher()
        with self._lock:
            cached = self._found.get((model, num_blocks))
        if cached is not None and not fresh and time.monotonic() - cached[0] < self._refresh_period():
            return cached[1]
        return self._fetch(model, num_blocks)

    def _fetch(self, model: str, num_blocks: int) -> dict[int, list[BlockServer]]:
        found = fetch_servers(self.dht, self.swarm.namespace, model, list(range(num_blocks)))
        with self._lock:
            self._found[(model, num_blocks)] = (time.monotonic(), found)
        return found

    def _refresh_period(self) -> float:
        key = "client.active_refresh_period" if self._active_sessions else "client.refresh_period"
        period: float = self.settings[key]
        return period

    def session_opened(self) -> None:
        with self._lock:
            self._active_sessions += 1

    def session_closed(self) -> None:
        with self._lock:
            self._active_sessions = max(self._active_sessions - 1, 0)

    def ping_unmeasured(self, peer_ids: list[str]) -> None:
        """Ping (concurrently, bounded by client.ping_timeout) the peers not pinged within a refresh period."""
        now = time.monotonic()
        stale = [peer for peer in peer_ids if now - self._pinged.get(peer, -1e9) > self._refresh_period()]
        if stale:
            try:
                run_sync(self._ping_all(stale), timeout=self.settings["client.ping_timeout"] + 1.0)
            except Exception:  # pings only inform routing
                logger.debug("Pinging servers failed", exc_info=True)

    async def _ping_all(self, peer_ids: list[str]) -> None:
        await asyncio.gather(*(self._ping(peer) for peer in peer_ids))

    async def _ping(self, peer_id: str) -> None:
        """Round trip of a cheap rpc_info call, kept as a moving average per peer."""
        self._pinged[peer_id] = time.monotonic()
        timeout = self.settings["client.ping_timeout"]
        try:
            if peer_id not in self.stats.known_rtt():
                # The first call also dials the connection: timed, it would make a new server look far away
                # next to servers whose round trips are already bounded by real steps, so it never gets tried.
                await self.server_info(peer_id, timeout)
            started = time.monotonic()
            await self.server_info(peer_id, timeout)
        except Exception as error:  # noqa: BLE001 - any failure means "do not route through it if avoidable"
            logger.debug("Ping of %s failed: %s", peer_id, error)
            self.stats.observe_unreachable(peer_id)
            return
        self.stats.observe_rtt(peer_id, time.monotonic() - started)

    async def server_info(self, peer_id: str, timeout: float) -> dict[str, Any]:
        """A server's rpc_info answer: its span, limits, load and counters."""
        stub = await self.stub(peer_id)
        proof = await self.auth_proof(peer_id)
        metadata = {"auth": proof} if proof is not None else {}
        response = await asyncio.wait_for(stub.rpc_info(request([], metadata)), timeout)
        return decode_metadata(response.metadata)

    async def stub(self, peer_id: str) -> Any:  # BlockServicer's stub, a class hivemind builds at run time
        if self._p2p is None:
            self._p2p = await self.dht.replicate_p2p()
        return BlockServicer.get_stub(self._p2p, PeerID.from_base58(peer_id))

    async def auth_proof(self, peer_id: str) -> bytes | None:
        if self._p2p is None:
            self._p2p = await self.dht.replicate_p2p()
        return self.swarm.authorizer.make_proof(self._p2p.peer_id, PeerID.from_base58(peer_id))

    def _start_refresher(self) -> None:
        with self._lock:
            if self._refresher is None and not self._stopped.is_set():
                self._refresher = threading.Thread(target=self._refresh_loop, daemon=True, name="meadow-routes")
                self._refresher.start()

    def _refresh_loop(self) -> None:
        while not self._stopped.wait(1.0):
            try:
                self._refresh_once()
            except Exception:  # the next round tries again; routing falls back to fresh reads
                logger.debug("Refreshing routes failed", exc_info=True)

    def _refresh_once(self) -> None:
        with self._lock:
            due = [key for key, (fetched, _) in self._found.items()
                   if time.monotonic() - fetched >= self._refresh_period()]
        for model, num_blocks in due:
            self._fetch(model, num_blocks)
        with self._lock:
            seen = {server.record.peer_id for _, found in self._found.values()
                    for servers in found.values() for server in servers}
            new_peers = seen - self._contacted
        if (due or new_peers) and not self._stopped.is_set():
            add_contacts(self.dht, sorted(seen))
            self._contacted = seen
        self.ping_unmeasured(sorted(seen))

    def shutdown(self) -> None:
        self._stopped.set()
        if self._refresher is not None:
            self._refresher.join(10.0)
        if self._p2p is not None:
            try:
                run_sync(self._p2p.shutdown(), timeout=5.0)
            except Exception:  # best effort: the process may be exiting
                logger.debug("Closing the P2P replica failed", exc_info=True)
            self._p2p = None
        if self._owns_dht:
            self.dht.shutdown()
