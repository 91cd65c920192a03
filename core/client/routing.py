"""Routes: a chain of servers whose spans cover every block of a model, read from the DHT."""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

from core.errors import MissingBlocksError
from core.swarm.directory import BlockServer
from core.swarm.records import ServerRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouteSpan:
    """Blocks [start, end) computed by one server."""

    peer_id: str
    start: int
    end: int
    record: ServerRecord


def online_servers(found: dict[int, list[BlockServer]]) -> dict[str, ServerRecord]:
    """One record per online peer (its whole span is in every block record it wrote)."""
    peers: dict[str, ServerRecord] = {}
    for servers in found.values():
        for server in servers:
            if server.record.state == "online":
                peers[server.record.peer_id] = server.record
    return peers


def missing_blocks(found: dict[int, list[BlockServer]], num_blocks: int) -> list[int]:
    peers = online_servers(found)
    return [i for i in range(num_blocks) if not any(r.start <= i < r.end for r in peers.values())]


def make_route(found: dict[int, list[BlockServer]], model: str, num_blocks: int) -> list[RouteSpan]:
    """Fewest hops: from each position take the server reaching furthest (ties: throughput, then random)."""
    peers = list(online_servers(found).values())
    route: list[RouteSpan] = []
    position = 0
    while position < num_blocks:
        candidates = [r for r in peers if r.start <= position < r.end]
        if not candidates:
            raise MissingBlocksError(model, missing_blocks(found, num_blocks), num_blocks)
        best = max(candidates, key=lambda r: (min(r.end, num_blocks), r.throughput, random.random()))
        end = min(best.end, num_blocks)
        route.append(RouteSpan(best.peer_id, position, end, best))
        position = end
    return route


def wait_for_route(client, model: str, num_blocks: int, timeout: float) -> list[RouteSpan]:  # client: SwarmClient
    """A route as soon as the swarm covers the model; MissingBlocksError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        found = client.servers(model, num_blocks)
        try:
            return make_route(found, model, num_blocks)
        except MissingBlocksError:
            if time.monotonic() >= deadline:
                raise
            logger.info("Waiting for servers of %s (missing %s)", model, missing_blocks(found, num_blocks))
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 2.0)
