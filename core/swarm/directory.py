"""Reading and writing server records in the DHT: which peers serve which blocks of which model.

The coroutines here run inside the hivemind DHT process (through DHT.run_coroutine) or on a DHTNode
the caller owns, so they take plain, picklable arguments.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from hivemind import DHT
from hivemind.dht.node import DHTNode
from hivemind.utils import get_dht_time

from core.swarm.keys import block_key, models_key
from core.swarm.records import IncompatibleVersion, ModelIndexRecord, RecordError, ServerRecord, check_owner

logger = logging.getLogger(__name__)
_warned_versions: set[tuple[int, ...]] = set()


@dataclass(frozen=True)
class BlockServer:
    """One server's record as read from one block's key."""

    record: ServerRecord
    expiration: float


async def store_records(
    _dht: DHT | None, node: DHTNode, keys: list[str], subkey: bytes, value: dict[str, Any], expiration: float
) -> bool:
    results = await node.store_many(keys, [value] * len(keys), expiration, subkeys=[subkey] * len(keys))
    return all(results.values())


async def store_values(
    _dht: DHT | None, node: DHTNode, keys: list[str], values: list[dict[str, Any]], subkey: bytes, expiration: float
) -> bool:
    """Store one value per key, all under this server's owner subkey."""
    results = await node.store_many(keys, values, expiration, subkeys=[subkey] * len(keys))
    return all(results.values())


async def fetch_raw(_dht: DHT | None, node: DHTNode, keys: list[str]) -> dict[str, dict[bytes, tuple[object, float]]]:
    found = await node.get_many(keys, sufficient_expiration_time=float("inf"))
    result: dict[str, dict[bytes, tuple[object, float]]] = {}
    for key in keys:
        entry = found.get(key)
        if entry is None or not isinstance(entry.value, dict):
            result[key] = {}
            continue
        result[key] = {subkey: (item.value, item.expiration_time) for subkey, item in entry.value.items()
                       if isinstance(subkey, bytes)}
    return result


def parse_block_records(raw: dict[bytes, tuple[object, float]]) -> list[BlockServer]:
    """Keep the records that parse, match their owner key and speak our major version."""
    servers = []
    for subkey, (value, expiration) in raw.items():
        try:
            record = ServerRecord.from_value(value)
            check_owner(record, subkey)
        except IncompatibleVersion as error:
            if error.protocol not in _warned_versions:
                _warned_versions.add(error.protocol)
                logger.warning("Ignoring peers of an incompatible version: %s. Upgrade whichever is older.", error)
            continue
        except RecordError as error:
            logger.debug("Dropping a DHT record: %s", error)
            continue
        servers.append(BlockServer(record, expiration))
    return servers


def fetch_servers(dht: DHT, namespace: str, model: str, indices: list[int]) -> dict[int, list[BlockServer]]:
    """Servers of each block index, read from the DHT with latest=True."""
    keys = [block_key(namespace, model, index) for index in indices]
    raw = dht.run_coroutine(partial(fetch_raw, keys=keys))
    return {index: parse_block_records(raw[key]) for index, key in zip(indices, keys, strict=True)}


async def fetch_servers_on_node(node: DHTNode, namespace: str, model: str,
                                indices: list[int]) -> dict[int, list[BlockServer]]:
    keys = [block_key(namespace, model, index) for index in indices]
    raw = await fetch_raw(None, node, keys)
    return {index: parse_block_records(raw[key]) for index, key in zip(indices, keys, strict=True)}


def fetch_model_index(dht: DHT, namespace: str) -> list[ModelIndexRecord]:
    """The model index records of every server that announced one (valid and owner-signed only)."""
    key = models_key(namespace)
    raw = dht.run_coroutine(partial(fetch_raw, keys=[key]))[key]
    records = []
    for subkey, (value, _expiration) in raw.items():
        try:
            record = ModelIndexRecord.from_value(value)
            check_owner(record, subkey)
        except RecordError as error:
            logger.debug("Dropping a model index record: %s", error)
            continue
        records.append(record)
    return records


def record_expiration(ttl: float) -> float:
    now: float = get_dht_time()
    return now + ttl
