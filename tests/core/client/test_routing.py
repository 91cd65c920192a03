"""Routes take the cheapest chain of servers (latency, compute, load); gaps become an error that names them."""
from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest

from core.client.peer_stats import PeerStats
from core.client.route_cost import CACHE_PENALTY, CostModel
from core.client.routing import make_route, missing_blocks, online_servers, sample_route
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


def _spans(route) -> list[tuple[str, int, int]]:
    return [(s.peer_id, s.start, s.end) for s in route]


def _records(found) -> list[ServerRecord]:
    return list(online_servers(found).values())


def test_route_takes_the_fewest_hops_between_equal_servers():
    found = _found({"a": (0, 10, "online"), "b": (0, 4, "online"), "c": (8, 30, "online"), "d": (10, 30, "online")}, 30)
    route = make_route(found, "m", 30)
    assert len(route) == 2 and route[0].peer_id == "a" and route[1].peer_id in ("c", "d")
    assert route[0].start == 0 and route[0].end == route[1].start and route[1].end == 30


def test_route_avoids_a_server_measured_slow_even_if_it_saves_a_hop():
    found = _found({"slow": (0, 6, "online"), "head": (0, 3, "online"), "tail": (3, 6, "online")}, 6)
    stats = PeerStats()
    for peer in ("slow", "head", "tail"):
        stats.observe_rtt(peer, 0.002)
    stats.observe_step("slow", 6, 0.3)
    stats.observe_step("head", 3, 0.01)
    stats.observe_step("tail", 3, 0.01)
    route = make_route(found, "m", 6, costs=CostModel.for_records(stats, _records(found)))
    assert _spans(route) == [("head", 0, 3), ("tail", 3, 6)]


def test_unmeasured_servers_are_estimated_from_measured_ones_and_tried():
    found = _found({"slow": (0, 6, "online"), "new": (0, 6, "online")}, 6)
    stats = PeerStats()
    stats.observe_step("slow", 6, 0.3)
    costs = CostModel.for_records(stats, _records(found))
    assert all(make_route(found, "m", 6, costs=costs)[0].peer_id == "new" for _ in range(20))


def test_queue_depth_and_missing_cache_room_are_penalised():
    found = _found({"queued": (0, 6, "online"), "idle": (0, 6, "online")}, 6)
    records = {r.peer_id: r for r in _records(found)}
    costs = CostModel.for_records(None, list(records.values()))
    queued = dataclasses.replace(records["queued"], queue_depth=3, cache_tokens_free=1000)
    idle = dataclasses.replace(records["idle"], cache_tokens_free=1000)
    assert costs.span_seconds(queued, 6) > costs.span_seconds(idle, 6)
    needy = CostModel.for_records(None, [idle], need_tokens=2000)
    assert needy.span_seconds(idle, 6) >= CACHE_PENALTY


def test_banned_servers_are_skipped_when_others_cover():
    found = _found({"a": (0, 6, "online"), "b": (0, 6, "online")}, 6)
    assert all(make_route(found, "m", 6, exclude=frozenset({"a"}))[0].peer_id == "b" for _ in range(10))


def test_forward_routes_spread_by_throughput():
    found = _found({"a": (0, 6, "online"), "b": (0, 6, "online")}, 6)
    fast = dataclasses.replace(found[0][0].record, throughput=9.0)
    found = {i: [BlockServer(fast, 0.0) if s.record.peer_id == "a" else s for s in servers]
             for i, servers in found.items()}
    random.seed(1)
    picks = Counter(sample_route(found, "m", 6)[0].peer_id for _ in range(1000))
    assert 850 < picks["a"] < 950


def test_offline_servers_are_not_routed_and_gaps_are_named():
    found = _found({"a": (0, 10, "online"), "b": (10, 20, "offline"), "c": (25, 30, "online")}, 30)
    assert missing_blocks(found, 30) == list(range(10, 25))
    with pytest.raises(MissingBlocksError, match=r"blocks 10-24 of m .*--blocks 10:25"):
        make_route(found, "m", 30)


def test_empty_swarm_names_every_block():
    with pytest.raises(MissingBlocksError, match="0-5"):
        make_route(_found({}, 6), "m", 6)


def test_a_slow_first_ping_does_not_hide_a_slow_server():
    found = _found({"slow": (0, 6, "online"), "fast": (0, 6, "online")}, 6)
    stats = PeerStats()
    stats.observe_rtt("slow", 0.8)  # both first pings paid for dialing
    stats.observe_rtt("fast", 0.8)
    for _ in range(3):
        stats.observe_step("slow", 6, 0.055)
        stats.observe_step("fast", 6, 0.004)
    costs = CostModel.for_records(stats, _records(found))
    assert make_route(found, "m", 6, costs=costs)[0].peer_id == "fast"


def _precision_found(servers: dict[str, tuple[int, int, str, str]], num_blocks: int) -> dict[int, list[BlockServer]]:
    """peer -> (start, end, dtype, quantization), all online and equally fast."""
    found: dict[int, list[BlockServer]] = {i: [] for i in range(num_blocks)}
    for peer, (start, end, dtype, quantization) in servers.items():
        record = ServerRecord(peer_id=peer, state="online", model="m", start=start, end=end, throughput=1.0,
                              dtype=dtype, quantization=quantization)
        for index in range(start, end):
            found[index].append(BlockServer(record, 0.0))
    return found


def test_a_caller_preferring_full_precision_routes_through_float32_servers_where_they_serve():
    found = _precision_found({"fast-nf4": (0, 6, "float32", "nf4"), "bf16": (0, 3, "bfloat16", "none"),
                              "fp32-head": (0, 2, "float32", "none"), "fp32-tail": (3, 6, "float32", "none")}, 6)
    records = _records(found)
    assert _spans(make_route(found, "m", 6, costs=CostModel.for_records(None, records))) == [("fast-nf4", 0, 6)]
    precise = make_route(found, "m", 6, costs=CostModel.for_records(None, records, prefer_full_precision=True))
    # Block 2 has no float32 server: bfloat16 beats nf4 there, and only there.
    assert _spans(precise) == [("fp32-head", 0, 2), ("bf16", 2, 3), ("fp32-tail", 3, 6)]
    for _ in range(20):
        sampled = sample_route(found, "m", 6, prefer_full_precision=True)
        assert [span.record.dtype for span in sampled] == ["float32", "bfloat16", "float32"]
        assert all(span.record.quantization == "none" for span in sampled)
