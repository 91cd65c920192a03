"""`meadow swarm status`: per model, how many servers hold each block, their summed throughput, and the gaps.

Models are listed from the model index records servers write under `{namespace}/models`, so the
reader need not know them in advance. JSON (fixed by DESIGN.md):
{"models": [{"model": ID, "num_blocks": N, "blocks": [{"index": i, "servers": k, "throughput": t}, ...]}]},
extended per model with "architecture" (its config's model_type, "" when only older servers serve it) and
"servers" (each online server's peer id, name, blocks [start, end], dtype, quantization and throughput), and
with "reachability" (core/swarm/reachability.py): whether this peer is directly reachable.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

from hivemind import DHT

from core.errors import format_ranges
from core.swarm.directory import BlockServer, fetch_model_index, fetch_servers

if TYPE_CHECKING:
    from core.config import Settings
    from core.swarm.dht import SwarmSelection

logger = logging.getLogger(__name__)


def collect_status(dht: DHT, namespace: str) -> dict[str, Any]:
    """The swarm's models and, for each block, its online servers and their summed throughput."""
    sizes: dict[str, Counter[int]] = {}
    architectures: dict[str, Counter[str]] = {}
    for record in fetch_model_index(dht, namespace):
        sizes.setdefault(record.model, Counter())[record.num_blocks] += 1
        architectures.setdefault(record.model, Counter())[record.architecture] += 1
    models = []
    for model in sorted(sizes):
        num_blocks = sizes[model].most_common(1)[0][0]  # servers of one model agree unless one is broken
        named = [(count, name) for name, count in architectures[model].items() if name]
        found = fetch_servers(dht, namespace, model, list(range(num_blocks)))
        models.append(model_status(model, num_blocks, found, max(named)[1] if named else ""))
    return {"models": models}


def model_status(model: str, num_blocks: int, found: dict[int, list[BlockServer]],
                 architecture: str = "") -> dict[str, Any]:
    blocks = []
    for index in range(num_blocks):
        online = [server.record for server in found.get(index, []) if server.record.state == "online"]
        blocks.append({"index": index, "servers": len(online),
                       "throughput": round(sum(record.throughput for record in online), 3)})
    servers = {server.record.peer_id: server.record for servers in found.values() for server in servers
               if server.record.state == "online"}
    return {"model": model, "architecture": architecture, "num_blocks": num_blocks, "blocks": blocks,
            "servers": [{"peer_id": record.peer_id, "name": record.public_name, "blocks": [record.start, record.end],
                         "dtype": record.dtype, "quantization": record.quantization,
                         "throughput": round(record.throughput, 3)}
                        for record in sorted(servers.values(), key=lambda record: (record.start, record.peer_id))]}


def format_table(status: dict[str, Any]) -> str:
    """A compact table: one row per run of blocks with the same servers and throughput, then the gaps."""
    if not status["models"]:
        return "No models are served in this swarm yet."
    lines = []
    for model in status["models"]:
        architecture = f", {model['architecture']}" if model.get("architecture") else ""
        lines.append(f"{model['model']} ({model['num_blocks']} blocks{architecture})")
        lines.append(f"  {'blocks':<10} {'servers':>7} {'throughput':>12}")
        for first, last, servers, throughput in _runs(model["blocks"]):
            label = f"{first}" if first == last else f"{first}-{last}"
            lines.append(f"  {label:<10} {servers:>7} {throughput:>12.1f}")
        gaps = [block["index"] for block in model["blocks"] if block["servers"] == 0]
        lines.append(f"  gaps: blocks {format_ranges(gaps)}" if gaps else "  gaps: none, every block is served")
        lines.extend(f"  {line}" for line in server_lines(model.get("servers", [])))
    return "\n".join(lines)


def server_lines(servers: list[dict[str, Any]]) -> list[str]:
    """One line per server: its blocks, how it computes them, and its name (or the end of its peer id)."""
    lines = [f"{'server':<14} {'blocks':<10} {'dtype':<9} {'quantized':<9}"] if servers else []
    for server in servers:
        start, end = server["blocks"]
        blocks = f"{start}" if end - start == 1 else f"{start}-{end - 1}"
        quantization = server["quantization"] if server["quantization"] != "none" else "no"
        lines.append(f"{server['name'] or '...' + server['peer_id'][-8:]:<14} {blocks:<10} {server['dtype']:<9} "
                     f"{quantization:<9}")
    return lines


def _runs(blocks: list[dict[str, Any]]) -> list[tuple[int, int, int, float]]:
    runs: list[tuple[int, int, int, float]] = []
    for block in blocks:
        key = (block["servers"], block["throughput"])
        if runs and runs[-1][2:] == key and runs[-1][1] == block["index"] - 1:
            runs[-1] = (runs[-1][0], block["index"], *key)
        else:
            runs.append((block["index"], block["index"], *key))
    return runs


def run_status(swarm: SwarmSelection, settings: Settings, as_json: bool) -> None:
    """Print the swarm's coverage, then whether this peer is directly reachable (JSON: key "reachability")."""
    from core.swarm.dht import start_dht
    from core.swarm.reachability import format_reachability, reachability

    dht = start_dht(swarm, settings, client_mode=True)
    try:
        status = collect_status(dht, swarm.namespace)
        maddrs = [str(maddr) for maddr in dht.get_visible_maddrs(latest=True)]
        status["reachability"] = reachability(dht.peer_id.to_base58(), maddrs)
    finally:
        dht.shutdown()
    if as_json:
        print(json.dumps(status), flush=True)
    else:
        print(format_table(status), format_reachability(status["reachability"]), sep="\n", flush=True)
