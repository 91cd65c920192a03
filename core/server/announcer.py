"""Keeps this server's records fresh in the DHT and checks that a fresh client can read them."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from hivemind import DHT
from hivemind.dht.crypto import RSASignatureValidator
from hivemind.dht.node import DHTNode
from hivemind.utils.auth import AuthorizerBase

from core.swarm.directory import fetch_servers_on_node, record_expiration, store_values
from core.swarm.keys import block_key, models_key
from core.swarm.records import ModelIndexRecord, ServerRecord, record_validators

if TYPE_CHECKING:
    from hivemind.dht.validation import CompositeValidator

logger = logging.getLogger(__name__)


class Announcer:
    """Writes this server's block records and its model index record under its owner subkey."""

    def __init__(self, dht: DHT, namespace: str, record: ServerRecord, owner_key: bytes, period: float, ttl: float,
                 num_blocks: int | None = None, dht_authorizer: AuthorizerBase | None = None, architecture: str = ""):
        self.dht = dht
        self.dht_authorizer = dht_authorizer  # a private swarm's: the fresh reader of wait_visible needs it too
        self.namespace = namespace
        self.record = record
        self.owner_key = owner_key
        self.period = period
        self.ttl = ttl
        self.index = ModelIndexRecord(record.peer_id, record.model, num_blocks or record.end,
                                      architecture=architecture)
        # Current load (queue_depth, cache_tokens_free, ...): record fields refreshed with every announcement.
        self.load: Callable[[], dict[str, Any]] = dict

    @property
    def keys(self) -> list[str]:
        record = self.record
        return [block_key(self.namespace, record.model, index) for index in range(record.start, record.end)]

    async def announce(self, state: str, **changes: Any) -> bool:
        """Store the record in `state` (with any other field changes) under every served block's key."""
        future = self.dht.run_coroutine(self._store(state, changes), return_future=True)
        return bool(await future)

    def announce_blocking(self, state: str, **changes: Any) -> bool:
        """`announce` for callers outside an event loop (before the server's loop starts)."""
        return bool(self.dht.run_coroutine(self._store(state, changes)))

    def _store(self, state: str, changes: dict[str, Any]) -> partial[Any]:
        self.record = dataclasses.replace(self.record, state=state, **{**self.load(), **changes})
        keys = [*self.keys, models_key(self.namespace)]
        values = [self.record.to_value()] * len(self.keys) + [self.index.to_value()]
        return partial(store_values, keys=keys, values=values, subkey=self.owner_key,
                       expiration=record_expiration(self.ttl))

    async def move(self, start: int, end: int) -> None:
        """Mark the old blocks offline, then claim the new ones as `joining` (so other servers see the plan)."""
        await self.announce("offline")
        await self.announce("joining", start=start, end=end)

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh the records (in their current state) every period until `stop` is set."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.period)
                return
            except TimeoutError:
                pass
            try:
                if not await self.announce(self.record.state):  # a moving server stays `joining` until loaded
                    logger.warning("Some DHT peers refused this server's records; retrying next period")
            except Exception:  # the server keeps serving; the next period retries
                logger.exception("Refreshing the server's records failed")

    async def wait_visible(self, initial_peers: list[str], timeout: float) -> None:
        """Return once a new client-mode DHT peer bootstrapped from `initial_peers` reads every record."""
        validator = RSASignatureValidator()
        node = await DHTNode.create(initial_peers=initial_peers, client_mode=True,
                                    record_validator=_composite(validator), authorizer=self.dht_authorizer)
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


def _composite(signer: RSASignatureValidator) -> CompositeValidator:
    from hivemind.dht.validation import CompositeValidator

    return CompositeValidator(record_validators(signer))
