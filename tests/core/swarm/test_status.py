"""`meadow swarm status`: per-block servers and throughput, compact table with gaps, fixed JSON shape."""
from __future__ import annotations

from core.cli import build_parser
from core.swarm.directory import BlockServer
from core.swarm.records import ServerRecord
from core.swarm.status import format_table, model_status


def servers(*spans: tuple[str, int, int, float, str], dtype: str = "float32",
            quantization: str = "none") -> dict[int, list[BlockServer]]:
    found: dict[int, list[BlockServer]] = {}
    for peer, start, end, throughput, state in spans:
        record = ServerRecord(peer_id=peer, state=state, model="m", start=start, end=end, throughput=throughput,
                              dtype=dtype, quantization=quantization, public_name=f"{peer}-name" if peer == "b" else "")
        for index in range(start, end):
            found.setdefault(index, []).append(BlockServer(record, 0.0))
    return found


def test_model_status_counts_online_servers_per_block():
    found = servers(("a", 0, 4, 2.0, "online"), ("b", 2, 6, 1.5, "online"), ("c", 6, 8, 9.0, "offline"))
    status = model_status("m", 8, found)
    assert status["model"] == "m" and status["num_blocks"] == 8
    assert status["blocks"][0] == {"index": 0, "servers": 1, "throughput": 2.0}
    assert status["blocks"][3] == {"index": 3, "servers": 2, "throughput": 3.5}
    assert [b["servers"] for b in status["blocks"]] == [1, 1, 2, 2, 1, 1, 0, 0]


def test_table_groups_runs_and_names_gaps():
    found = servers(("a", 0, 4, 2.0, "online"), ("b", 2, 6, 1.5, "online"))
    table = format_table({"models": [model_status("m", 9, found)]})
    assert "m (9 blocks)" in table
    assert any(line.split() == ["2-3", "2", "3.5"] for line in table.splitlines())
    assert "gaps: blocks 6-8" in table


def test_status_names_the_architecture_and_how_each_server_computes():
    found = servers(("a", 0, 4, 2.0, "online"), ("b", 4, 8, 1.5, "online"), ("c", 2, 3, 9.0, "offline"),
                    dtype="bfloat16", quantization="nf4")
    status = model_status("m", 8, found, "mixtral")
    assert status["architecture"] == "mixtral"
    assert status["servers"] == [
        {"peer_id": "a", "name": "", "blocks": [0, 4], "dtype": "bfloat16", "quantization": "nf4", "throughput": 2.0},
        {"peer_id": "b", "name": "b-name", "blocks": [4, 8], "dtype": "bfloat16", "quantization": "nf4",
         "throughput": 1.5}]
    table = format_table({"models": [status]})
    assert "m (8 blocks, mixtral)" in table
    assert any(line.split() == ["b-name", "4-7", "bfloat16", "nf4"] for line in table.splitlines())
    assert any(line.split() == ["...a", "0-3", "bfloat16", "nf4"] for line in table.splitlines())


def test_table_of_a_covered_model_and_of_an_empty_swarm():
    found = servers(("a", 0, 3, 1.0, "online"))
    assert "gaps: none" in format_table({"models": [model_status("m", 3, found)]})
    assert "No models" in format_table({"models": []})


def test_cli_parses_swarm_status():
    args = build_parser().parse_args(["swarm", "status", "--new-swarm", "--json"])
    assert (args.command, args.swarm_command, args.json, args.new_swarm) == ("swarm", "status", True, True)
