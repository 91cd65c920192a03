"""Routes: a chain of servers whose spans cover every block of a model, read from the DHT.

Inference sessions take the chain with the lowest expected seconds per token: a shortest path whose
nodes are block positions and whose edges are "server s computes blocks [i, j)", weighted by
CostModel.span_seconds. One-shot forward passes instead spread over servers at random, weighted by
announced throughput, so that many independent requests share the swarm's capacity.
"""
from __future__ import annotations

import heapq
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.client.route_cost import CostModel, precision_steps
from core.errors import MissingBlocksError
from core.swarm.directory import BlockServer
from core.swarm.records import ServerRecord

if TYPE_CHECKING:  # the client imports this module
    from core.client.swarm_client import SwarmClient

logger = logging.getLogger(__name__)
_JITTER = 1e-4  # seconds of noise on edge costs, so that equal servers share the load


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


def _usable(found: dict[int, list[BlockServer]], model: str, num_blocks: int, start: int, end: int,
            exclude: frozenset[str]) -> list[ServerRecord]:
    """Online, non-excluded servers; MissingBlocksError naming the gaps if they do not cover [start, end)."""
    peers = [record for peer, record in online_servers(found).items() if peer not in exclude]
    covered = {i for r in peers for i in range(r.start, r.end)}
    gaps = [i for i in range(start, end) if i not in covered]
    if gaps:
        raise MissingBlocksError(model, gaps, num_blocks)
    return peers


def make_route(
    found: dict[int, list[BlockServer]],
    model: str,
    num_blocks: int,
    start: int = 0,
    end: int | None = None,
    exclude: frozenset[str] = frozenset(),
    costs: CostModel | None = None,
) -> list[RouteSpan]:
    """The cheapest chain of servers over blocks [start, end) (Dijkstra over block positions);
    servers in `exclude` (banned) are skipped."""
    end = num_blocks if end is None else end
    peers = _usable(found, model, num_blocks, start, end, exclude)
    costs = costs or CostModel.for_records(None, peers)
    servers = [(record, costs.for_server(record)) for record in peers]
    best: dict[int, float] = {start: 0.0}
    came_from: dict[int, RouteSpan] = {}
    frontier = [(0.0, start)]
    while frontier:
        cost, position = heapq.heappop(frontier)
        if position == end:
            break
        if cost > best.get(position, float("inf")):
            continue
        for record, server_cost in servers:
            if not record.start <= position < record.end:
                continue
            for stop in range(position + 1, min(record.end, end) + 1):
                total = cost + server_cost.span_seconds(stop - position) + _JITTER * random.random()
                if total < best.get(stop, float("inf")):
                    best[stop] = total
                    came_from[stop] = RouteSpan(record.peer_id, position, stop, record)
                    heapq.heappush(frontier, (total, stop))
    return _walk_back(came_from, start, end)


def _walk_back(came_from: dict[int, RouteSpan], start: int, end: int) -> list[RouteSpan]:
    route: list[RouteSpan] = []
    position = end
    while position != start:
        span = came_from[position]
        route.append(span)
        position = span.start
    return route[::-1]


def sample_route(found: dict[int, list[BlockServer]], model: str, num_blocks: int,
                 exclude: frozenset[str] = frozenset(), prefer_full_precision: bool = False) -> list[RouteSpan]:
    """A random chain for one forward pass: at each position, a server picked with probability
    proportional to its announced throughput, used as far as it reaches (among the most precise servers at
    that position, when the caller prefers full precision)."""
    peers = _usable(found, model, num_blocks, 0, num_blocks, exclude)
    route: list[RouteSpan] = []
    position = 0
    while position < num_blocks:
        candidates = [r for r in peers if r.start <= position < r.end]
        if prefer_full_precision:
            best = min(precision_steps(r) for r in candidates)
            candidates = [r for r in candidates if precision_steps(r) == best]
        chosen = random.choices(candidates, weights=[max(r.throughput, 1e-6) for r in candidates])[0]
        route.append(RouteSpan(chosen.peer_id, position, chosen.end, chosen))
        position = chosen.end
    return route


def wait_for_route(client: SwarmClient, model: str, num_blocks: int, timeout: float,
                   exclude: frozenset[str] = frozenset(), need_tokens: int = 0,
                   spread: bool = False) -> list[RouteSpan]:
    """A route as soon as the swarm covers the model; MissingBlocksError after `timeout` seconds.

    `spread`: a throughput-weighted random route (one-shot passes) instead of the cheapest one."""
    deadline = time.monotonic() + timeout
    delay = 0.2
    fresh = False
    while True:
        found = client.servers(model, num_blocks, fresh=fresh)
        try:
            return _route_preferring_unbanned(client, found, model, num_blocks, exclude, need_tokens, spread)
        except MissingBlocksError:
            if time.monotonic() >= deadline:
                raise
            logger.info("Waiting for servers of %s (missing %s)", model, missing_blocks(found, num_blocks))
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 2.0)
        fresh = True


def _route_preferring_unbanned(client: SwarmClient, found: dict[int, list[BlockServer]], model: str, num_blocks: int,
                               exclude: frozenset[str], need_tokens: int, spread: bool) -> list[RouteSpan]:
    if spread:
        precise = client.settings["client.prefer_full_precision"]
        try:
            return sample_route(found, model, num_blocks, exclude, precise)
        except MissingBlocksError:
            return sample_route(found, model, num_blocks, prefer_full_precision=precise)  # banned beat none
    records = list(online_servers(found).values())
    client.ping_unmeasured([record.peer_id for record in records])
    costs = CostModel.for_records(client.stats, records, need_tokens, client.settings["client.prefer_full_precision"])
    try:
        return make_route(found, model, num_blocks, exclude=exclude, costs=costs)
    except MissingBlocksError:
        return make_route(found, model, num_blocks, costs=costs)
