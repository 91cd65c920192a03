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


def make_route(
    found: dict[int, list[BlockServer]],
    model: str,
    num_blocks: int,
    start: int = 0,
    end: int | None = None,
    exclude: frozenset[str] = frozenset(),
) -> list[RouteSpan]:
    """Blocks [start, end) with the fewest hops: from each position, the server reaching furthest
    (ties: throughput, then random); servers in `exclude` (banned) are skipped."""
    end = num_blocks if end is None else end
    peers = [record for peer, record in online_servers(found).items() if peer not in exclude]
    route: list[RouteSpan] = []
    position = start
    while position < end:
        candidates = [r for r in peers if r.start <= position < r.end]
        if not candidates:
            covered = {i for r in peers for i in range(r.start, r.end)}
            raise MissingBlocksError(model, [i for i in range(start, end) if i not in covered], num_blocks)
        best = max(candidates, key=lambda r: (min(r.end, end), r.throughput, random.random()))
        span_end = min(best.end, end)
        route.append(RouteSpan(best.peer_id, position, span_end, best))
        position = span_end
    return route


def wait_for_route(client, model: str, num_blocks: int, timeout: float,  # client: SwarmClient
                   exclude: frozenset[str] = frozenset()) -> list[RouteSpan]:
    """A route as soon as the swarm covers the model; MissingBlocksError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        found = client.servers(model, num_blocks)
        try:
            try:
                return make_route(found, model, num_blocks, exclude=exclude)
            except MissingBlocksError:
                return make_route(found, model, num_blocks)  # banned servers beat no servers at all
        except MissingBlocksError:
            if time.monotonic() >= deadline:
                raise
            logger.info("Waiting for servers of %s (missing %s)", model, missing_blocks(found, num_blocks))
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 2.0)
