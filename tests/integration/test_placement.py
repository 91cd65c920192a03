"""Servers choose their blocks on 127.0.0.1: three 12-block servers cover SmolLM2; a duplicate fills a gap.

Lean on purpose: each test starts only the servers it needs, with their throughput fixed by a setting.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from core.events import ServerMoved, Stopped
from tests.helpers.processes import MeadowProcess

SMOLLM = "smollm2-135m-instruct"


def serve(bootstrap, namespace: str, *args: str) -> MeadowProcess:
    # The default throughput comes first: a later `--set` in `args` overrides it.
    return MeadowProcess.start(["serve", "--model", SMOLLM, "--set", "server.throughput=1", *args,
                                "--initial-peers", *bootstrap.multiaddrs, "--set", f"swarm.namespace={namespace}"],
                               ready_timeout=180)


def swarm_status(bootstrap, namespace: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "core", "swarm", "status", "--json", "--initial-peers",
                           *bootstrap.multiaddrs, "--set", f"swarm.namespace={namespace}"],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_three_servers_joining_one_after_another_cover_every_block(bootstrap):
    servers = []
    try:
        for _ in range(3):
            servers.append(serve(bootstrap, "join3", "--num-blocks", "12"))
        spans = [tuple(server.blocks) for server in servers]
        covered = {index for start, end in spans for index in range(start, end)}
        assert covered == set(range(30)), spans
        status = swarm_status(bootstrap, "join3")
    finally:
        for server in servers:
            server.stop()
    (model,) = status["models"]
    assert (model["model"], model["num_blocks"]) == (SMOLLM, 30)
    assert [block["index"] for block in model["blocks"]] == list(range(30))
    assert all(block["servers"] >= 1 and block["throughput"] >= 1 for block in model["blocks"])
    assert sum(block["servers"] for block in model["blocks"]) == 36


@pytest.mark.slow
def test_duplicate_moves_into_the_gap_when_the_only_server_leaves(bootstrap):
    namespace = "rebalance"
    first = serve(bootstrap, namespace, "--blocks", "0:15", "--set", "server.throughput=5")
    others = []
    try:
        others.append(serve(bootstrap, namespace, "--blocks", "15:30"))
        # Blocks 15:30 are the weaker half, so the newcomer duplicates them.
        mover = serve(bootstrap, namespace, "--num-blocks", "15", "--set", "server.rebalance_period=4",
                      "--set", "server.drain_timeout=2")
        others.append(mover)
        assert mover.blocks == [15, 30]
        os.kill(first.pid, signal.SIGTERM)
        first.wait_for(Stopped, 30)
        moved = mover.wait_for(ServerMoved, 4 * 1.5 + 60)  # one (jittered) period, then drain, reload, announce
        assert moved.blocks == [0, 15]
        blocks = swarm_status(bootstrap, namespace)["models"][0]["blocks"]
        assert all(block["servers"] == 1 for block in blocks), blocks
    finally:
        for server in [first, *others]:
            server.stop()
