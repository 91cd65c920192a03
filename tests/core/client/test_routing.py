"""Routes cover every block with the fewest hops; gaps become an error that names them."""
from __future__ import annotations

import pytest

from core.client.routing import make_route, missing_blocks
from core.errors import MissingBlocksError
from core.swarm.directory import BlockServer
from core.swarm.records import ServerRecord


def _found(spans: dict[str, tuple[int, int, str]], num_blocks: int) -> dict[int, list[BlockServer]]:
    found: dict[int, list[BlockServer]] = {i: [] for i in range(num_blocks)}
    for peer, (start, end, state) in spans.items():
        record = ServerRecord(peer_id=peer, state=state, model="m", start=start, end=end, throughput=1.0)
        for index in range(start, end):
            found[index].append(BlockServer(record, 0.0))
    return found


def test_route_takes_furthest_reaching_servers():
    found = _found({"a": (0, 10, "online"), "b": (0, 4, "online"), "c": (8, 30, "online"), "d": (10, 30, "online")}, 30)
    route = make_route(found, "m", 30)
    assert [(s.peer_id, s.start, s.end) for s in route] == [("a", 0, 10), ("c", 10, 30)] or \
           [(s.peer_id, s.start, s.end) for s in route] == [("a", 0, 10), ("d", 10, 30)]


def test_offline_servers_are_not_routed_and_gaps_are_named():
    found = _found({"a": (0, 10, "online"), "b": (10, 20, "offline"), "c": (25, 30, "online")}, 30)
    assert missing_blocks(found, 30) == list(range(10, 25))
    with pytest.raises(MissingBlocksError, match=r"blocks 10-24 of m .*--blocks 10:25"):
        make_route(found, "m", 30)


def test_empty_swarm_names_every_block():
    with pytest.raises(MissingBlocksError, match="0-5"):
        make_route(_found({}, 6), "m", 6)
