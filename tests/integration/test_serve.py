"""`meadow serve` lifecycle on 127.0.0.1: ready only when readable, offline on SIGTERM, memory of a span."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from core.client.swarm_client import SwarmClient
from core.client.worker import run_sync
from core.config import Settings
from core.errors import MissingBlocksError
from core.events import Stopped, Stopping
from core.swarm.dht import SwarmSelection
from tests.integration.conftest import client_for, start_servers

SMOLLM = "smollm2-135m-instruct"


def _records(bootstrap, namespace: str, model: str, num_blocks: int) -> dict:
    client = SwarmClient(SwarmSelection(namespace, bootstrap.multiaddrs), Settings.load())
    try:
        return client.servers(model, num_blocks)
    finally:
        client.shutdown()


@pytest.mark.slow
def test_ready_record_is_readable_and_sigterm_announces_offline(bootstrap, tiny_llama):
    (server,) = start_servers(str(tiny_llama), [(0, 6)], "lifecycle", bootstrap.multiaddrs)
    # `ready` promised that a fresh client can read the records: read them at once, no retry.
    found = _records(bootstrap, "lifecycle", "tiny-llama", 6)
    assert all([s.record.peer_id for s in found[i]] == [server.peer_id] for i in range(6))
    assert found[0][0].record.state == "online" and (found[0][0].record.start, found[0][0].record.end) == (0, 6)
    assert all(m.endswith(f"/p2p/{server.peer_id}") for m in server.multiaddrs)
    os.kill(server.pid, signal.SIGTERM)
    assert server.wait_for(Stopping, 10).reason == "SIGTERM"
    server.wait_for(Stopped, 15)
    assert server.process.wait(15) == 0
    found = _records(bootstrap, "lifecycle", "tiny-llama", 6)
    assert {s.record.state for i in range(6) for s in found[i]} == {"offline"}


@pytest.mark.slow
def test_missing_blocks_error_names_them_within_bounded_time(bootstrap, tiny_llama):
    servers = start_servers(str(tiny_llama), [(0, 2)], "gappy", bootstrap.multiaddrs)
    try:
        model = client_for(str(tiny_llama), "gappy", bootstrap.multiaddrs, "client.route_timeout=2")
        started = time.monotonic()
        with pytest.raises(MissingBlocksError) as error:
            model.generate(__import__("torch").tensor([[1, 2, 3]]), max_new_tokens=2)
        elapsed = time.monotonic() - started
        model.shutdown()
    finally:
        for server in servers:
            server.stop()
    assert error.value.missing == [2, 3, 4, 5]
    assert "blocks 2-5 of tiny-llama" in str(error.value) and "meadow serve" in str(error.value)
    assert elapsed < 15


@pytest.mark.slow
def test_cli_generate_streams_and_reports_missing_blocks(bootstrap, smollm_swarms):
    env = dict(os.environ)
    base = [sys.executable, "-m", "core", "generate", "--model", SMOLLM, "--initial-peers", *bootstrap.multiaddrs]
    done = subprocess.run([*base, "--set", "swarm.namespace=two", "--prompt", "What is the capital of France?",
                           "--chat", "--max-new-tokens", "12"], capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Paris" in done.stdout
    missing = subprocess.run([*base, "--set", "swarm.namespace=empty", "--set", "client.route_timeout=1",
                              "--prompt", "Hi"], capture_output=True, text=True, timeout=180, env=env)
    assert missing.returncode == 2
    assert "blocks 0-29 of smollm2-135m-instruct" in missing.stderr


@pytest.mark.slow
def test_half_server_never_loads_other_blocks_or_embeddings(bootstrap):
    """Peak RSS of a 15-block server is below a 30-block one by about 15 blocks' weights."""
    peaks = {}
    for spans, namespace in (([(0, 15)], "rss15"), ([(0, 30)], "rss30")):
        (server,) = start_servers(SMOLLM, spans, namespace, bootstrap.multiaddrs)
        peaks[namespace] = server.peak_rss_bytes()
        server.stop()
    block_bytes = 3 * 576 * 1536 * 4 + (2 * 576 * 576 + 2 * 576 * 192) * 4  # MLP + attention, fp32
    saved = peaks["rss30"] - peaks["rss15"]
    print(f"peak RSS: 15 blocks {peaks['rss15'] / 2**20:.0f} MiB, 30 blocks {peaks['rss30'] / 2**20:.0f} MiB")
    # Loading the other 15 blocks (or the 113 MB fp32 embeddings) at any point would erase the difference.
    assert saved > 0.8 * 15 * block_bytes


@pytest.mark.slow
def test_quantized_server_says_so_and_answers_close_to_the_float_model(bootstrap, tiny_llama):
    import torch
    from transformers import AutoModelForCausalLM

    from tests.integration.conftest import PROMPT

    (server,) = start_servers(str(tiny_llama), [(0, 6)], "quantized", bootstrap.multiaddrs, ["--quantization", "nf4"])
    try:
        (record,) = _records(bootstrap, "quantized", "tiny-llama", 6)[0]
        assert record.record.quantization == "nf4"
        model = client_for(str(tiny_llama), "quantized", bootstrap.multiaddrs)
        try:
            assert run_sync(model.swarm_client.server_info(server.peer_id, 10), 15)["quantization"] == "nf4"
            with torch.no_grad():
                logits = model(PROMPT).logits
            generated = model.generate(PROMPT, max_new_tokens=8, min_new_tokens=8, do_sample=False)
        finally:
            model.shutdown()
    finally:
        server.stop()
    from core.server.quantize import quantize_block

    local = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32).eval()
    with torch.no_grad():
        exact = local(PROMPT).logits
        for layer in local.model.layers:  # the blocks quantized locally, as the server did
            quantize_block(layer, "nf4", "cpu").eval()
        expected = local(PROMPT).logits
        local_tokens = local.generate(PROMPT, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    print(f"nf4 logits against float32: relative error {((logits - exact).norm() / exact.norm()).item():.3f}; "
          f"against the same blocks quantized locally: {((logits - expected).norm() / expected.norm()).item():.2e}")
    assert not torch.allclose(logits, exact, atol=1e-3)  # 4-bit weights really served
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
    assert torch.equal(generated, local_tokens)
