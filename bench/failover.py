"""Failover benchmark: 20 greedy generations, each losing an on-route server to kill -9 at a random token.

A tiny random Llama (built like tests/helpers/tiny_models.py, in a temp dir) is served by four
`meadow serve` processes. Each run generates 64 tokens in one session and kills one server of the
current route at a seeded random token; a replacement with the same span is started before the next
run. Two phases, each in its own swarm:
  one-hop: spans 0:6, 0:6, 0:3, 3:6 (routes are mostly one server of all blocks);
  two-hop: spans 0:3, 3:6, 0:3, 3:6 (every route is 0:3 -> 3:6, and either hop may be killed: killing
           the second one means replaying hidden states that passed through a live first hop).
Reported per phase: how many runs equal the fault-free output, and the median and worst stall (the step
after the kill minus the run's median step). `--runs N` and `--phase NAME` shorten a run.
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MEADOW_HOME", tempfile.mkdtemp(prefix="meadow-bench-home-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from transformers import AutoModelForCausalLM
from transformers.generation.streamers import BaseStreamer

from core.client import AutoDistributedModelForCausalLM
from core.config import Settings
from tests.helpers.processes import MeadowProcess, kill_leftovers
from tests.helpers.tiny_models import save_tiny_llama
from tests.integration.conftest import PROMPT, start_servers

RUNS = 20
NEW_TOKENS = 64
SEED = 1234
PHASES = {"one-hop": [(0, 6), (0, 6), (0, 3), (3, 6)], "two-hop": [(0, 3), (3, 6), (0, 3), (3, 6)]}


class KillAt(BaseStreamer):
    """Records the time of each new token and calls `kill` once `at` new tokens exist."""

    def __init__(self, at: int, kill) -> None:
        self.at = at
        self.kill = kill
        self.times: list[float] = []
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        self.times.append(time.perf_counter())
        if len(self.times) == self.at:
            self.kill()

    def end(self) -> None:
        pass

    def stall(self) -> float:
        """Seconds the step right after the kill took beyond this run's median step."""
        steps = [b - a for a, b in itertools.pairwise(self.times)]
        after_kill = steps[self.at - 1]
        return after_kill - statistics.median(steps[:self.at - 1] + steps[self.at:])


def one_run(model, servers: dict[str, tuple[MeadowProcess, tuple[int, int]]], rng: random.Random,
            expected: torch.Tensor) -> tuple[bool, float, tuple[int, int]]:
    """One generation with one kill; returns (exact, stall seconds, the killed server's span)."""
    killed: list[tuple[int, int]] = []
    with model.inference_session(max_length=PROMPT.shape[1] + NEW_TOKENS) as session:
        def kill() -> None:
            peer_id = rng.choice(session.route).peer_id
            process, span = servers.pop(peer_id)
            os.kill(process.pid, signal.SIGKILL)
            process.process.wait(10)
            killed.append(span)

        streamer = KillAt(rng.randint(4, NEW_TOKENS - 4), kill)
        tokens = model.generate(PROMPT, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False,
                                streamer=streamer)
    return torch.equal(tokens, expected), streamer.stall(), killed[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--phase", choices=sorted(PHASES), action="append", help="default: every phase")
    arguments = parser.parse_args()
    folder = save_tiny_llama(Path(tempfile.mkdtemp(prefix="meadow-bench-model-")) / "tiny-llama")
    local = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    expected = local.generate(PROMPT, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False)
    bootstrap = MeadowProcess.start(["dht", "--new-swarm"])
    summaries = []
    try:
        for phase in arguments.phase or list(PHASES):
            results = run_phase(phase, arguments.runs, folder, bootstrap, expected)
            summaries.append(report(phase, results))
    finally:
        kill_leftovers()
    for line in summaries:
        print(line, flush=True)


def run_phase(phase: str, runs: int, folder: Path, bootstrap: MeadowProcess,
              expected: torch.Tensor) -> list[tuple[bool, float]]:
    namespace = f"bench-failover-{phase}"
    spans = PHASES[phase]
    rng = random.Random(SEED)
    servers: dict[str, tuple[MeadowProcess, tuple[int, int]]] = {}
    model = None
    try:
        processes = start_servers(str(folder), spans, namespace, bootstrap.multiaddrs)
        for process, span in zip(processes, spans, strict=True):
            servers[process.peer_id] = (process, span)
        settings = Settings.load([f"swarm.namespace={namespace}", "client.route_timeout=30",
                                  "client.request_timeout=20"])
        model = AutoDistributedModelForCausalLM.from_pretrained(str(folder), initial_peers=bootstrap.multiaddrs,
                                                                settings=settings)
        model.generate(PROMPT, max_new_tokens=4, do_sample=False)  # warm-up: connections and measurements
        return run_all(phase, runs, model, servers, spans, rng, expected, folder, bootstrap, namespace)
    finally:
        if model is not None:
            model.shutdown()
        for process, _ in servers.values():
            process.stop()


def run_all(phase: str, runs: int, model, servers: dict, spans: list[tuple[int, int]], rng: random.Random,
            expected: torch.Tensor, folder: Path, bootstrap: MeadowProcess, namespace: str) -> list[tuple[bool, float]]:
    results = []
    for run in range(runs):
        try:
            exact, stall, span = one_run(model, servers, rng, expected)
        except Exception as error:  # noqa: BLE001 - a failed run is a result, not the end of the bench
            print(f"{phase} run {run + 1}: FAILED ({type(error).__name__}: {error})", flush=True)
            results.append((False, float("nan")))
            span = next((s for s in spans if sum(1 for _, t in servers.values() if t == s) < spans.count(s)), None)
        else:
            print(f"{phase} run {run + 1}: exact={exact} stall={stall:.3f}s killed {span[0]}:{span[1]}", flush=True)
            results.append((exact, stall))
        if span is not None:
            (server,) = start_servers(str(folder), [span], namespace, bootstrap.multiaddrs)  # replicas for the next run
            servers[server.peer_id] = (server, span)
    return results


def report(phase: str, results: list[tuple[bool, float]]) -> str:
    stalls = [stall for _, stall in results if stall == stall]
    exact = sum(1 for ok, _ in results if ok)
    median = statistics.median(stalls) if stalls else float("nan")
    worst = max(stalls) if stalls else float("nan")
    line = (f"failover {phase}: {exact}/{len(results)} exact; stall after kill median {median:.3f} s, worst "
            f"{worst:.3f} s (targets: {len(results)}/{len(results)}, worst < 5 s)")
    print(line, flush=True)
    return line


if __name__ == "__main__":
    main()
