"""Session-scoped swarms of real `meadow serve` processes on 127.0.0.1, sharing one `meadow dht` bootstrap.

Each swarm lives in its own namespace, so a client of one sees only that swarm's servers.
"""
from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch
from transformers import AutoModelForCausalLM

from core.client import AutoDistributedModelForCausalLM
from core.config import Settings
from core.models.source import resolve_model
from tests.helpers.processes import MeadowProcess

SMOLLM = "smollm2-135m-instruct"
SMOLLM_SPLITS = {"one": [(0, 30)], "two": [(0, 15), (15, 30)], "three": [(0, 10), (10, 20), (20, 30)]}
PROMPT = torch.tensor([[1, 11, 23, 57, 101, 7]])  # token ids for the tiny Llama


def start_servers(model: str, spans: list[tuple[int, int]], namespace: str, initial_peers: list[str],
                  extra: Sequence[str] = (), per_server: list[list[str]] | None = None) -> list[MeadowProcess]:
    """Start one `meadow serve` per span together (with `extra` arguments, and `per_server[i]` for the i-th), then
    wait until every one is ready."""
    servers = [
        MeadowProcess.start(["serve", "--model", model, "--blocks", f"{start}:{end}", "--initial-peers", *initial_peers,
                             "--set", f"swarm.namespace={namespace}", "--set", "server.throughput=1", *extra,
                             *(per_server[index] if per_server else [])],
                            wait_ready=False)
        for index, (start, end) in enumerate(spans)
    ]
    for server in servers:
        server.wait_ready(180)
    return servers


@pytest.fixture(scope="module")
def expected_tokens(tiny_llama):
    """The fault-free output for PROMPT: the tiny Llama run locally by transformers."""
    local = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32).eval()
    return local.generate(PROMPT, max_new_tokens=64, min_new_tokens=64, do_sample=False)


def client_for(model: str, namespace: str, initial_peers: list[str], *overrides: str):
    settings = Settings.load([f"swarm.namespace={namespace}", "client.route_timeout=20", *overrides])
    return AutoDistributedModelForCausalLM.from_pretrained(model, initial_peers=initial_peers, settings=settings)


@pytest.fixture(scope="session")
def smollm_swarms(bootstrap):
    """Three swarms of SmolLM2 servers: all blocks on one server, split over two, split over three."""
    servers = {}
    for namespace, spans in SMOLLM_SPLITS.items():
        servers[namespace] = start_servers(SMOLLM, spans, namespace, bootstrap.multiaddrs)
    yield servers
    for group in servers.values():
        for server in group:
            server.stop()


@pytest.fixture(scope="session")
def smollm_local():
    """SmolLM2 loaded by transformers itself, in fp32: the reference for exactness."""
    from transformers import AutoModelForCausalLM

    source = resolve_model(SMOLLM)
    return AutoModelForCausalLM.from_pretrained(source.folder, gguf_file=source.gguf_file, dtype=torch.float32).eval()


@pytest.fixture(scope="session")
def tiny_swarm(bootstrap, tiny_llama):
    """The tiny Llama split over two servers, loaded from sharded safetensors."""
    servers = start_servers(str(tiny_llama), [(0, 3), (3, 6)], "tiny", bootstrap.multiaddrs)
    yield servers
    for server in servers:
        server.stop()
