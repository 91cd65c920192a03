"""Keeps this server's records fresh in the DHT and checks that a fresh client can read them."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from functools import partial

from hivemind import DHT
from hivemind.dht.crypto import RSASignatureValidator
from hivemind.dht.node import DHTNode

from core.swarm.directory import fetch_servers_on_node, record_expiration, store_records
from core.swarm.keys import block_key
from core.swarm.records import ServerRecord, record_validators

logger = logging.getLogger(__name__)


class Announcer:
    def __init__(self, dht: DHT, namespace: str, record: ServerRecord, owner_key: bytes, period: float, ttl: float):
        self.dht = dht
        self.namespace = namespace
        self.record = record
        self.owner_key = owner_key
        self.period = period
        self.ttl = ttl
        self.keys = [block_key(namespace, record.model, index) for index in range(record.start, record.end)]

    async def announce(self, state: str) -> bool:
        self.record = dataclasses.replace(self.record, state=state)
        store = partial(store_records, keys=self.keys, subkey=self.owner_key, value=self.record.to_value(),
                        expiration=record_expiration(self.ttl))
        future = self.dht.run_coroutine(store, return_future=True)
        return bool(await future)

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh the records every period until `stop` is set."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.period)
                return
            except asyncio.TimeoutError:
                pass
            try:
                if not await self.announce("online"):
                    logger.warning("Some DHT peers refused this server's records; retrying next period")
            except Exception:  # noqa: BLE001 - the server keeps serving; the next period retries
                logger.exception("Refreshing the server's records failed")

    async def wait_visible(self, initial_peers: list[str], timeout: float) -> None:
        """Return once a new client-mode DHT peer bootstrapped from `initial_peers` reads every record."""
        validator = RSASignatureValidator()
        node = await DHTNode.create(initial_peers=initial_peers, client_mode=True,
                                    record_validator=_composite(validator))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                found = await fetch_servers_on_node(node, self.namespace, self.record.model,
                                                    list(range(self.record.start, self.record.end)))
                if all(any(s.record.peer_id == self.record.peer_id for s in servers) for servers in found.values()):
                    return
                if loop.time() > deadline:
                    raise TimeoutError(f"a fresh client could not read this server's records within {timeout:.0f} s")
                await asyncio.sleep(0.2)
        finally:
            await node.shutdown()


def _composite(signer: RSASignatureValidator):
    from hivemind.dht.validation import CompositeValidator

    return CompositeValidator(record_validators(signer))
