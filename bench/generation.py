"""Generation benchmark: a model (SmolLM2-135M unless --model says otherwise) on CPU, batch 1, 64 greedy new tokens.

Measures time-to-first-token (TTFT) and decode tokens/s for local transformers (KV cache, same
process) and for the swarm with one server (every block) and two servers (each half), each a
separate `meadow serve` process. Every configuration gets a warm-up run, then measured runs are
interleaved (local, 1-server, 2-server, local, ...) and medians are reported, with swarm/local
ratios and each server's time from launch to its ready line.

    python bench/generation.py [--model ID] [--runs N]

--model takes anything `meadow serve --model` takes (an embedded id, a folder, a .gguf, a hub id) of every
supported architecture; a model without a tokenizer (the tests' tiny random ones) gets a fixed prompt of ids.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MEADOW_HOME", tempfile.mkdtemp(prefix="meadow-bench-home-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from transformers import AutoModelForCausalLM
from transformers.generation.streamers import BaseStreamer

from core.client import AutoDistributedModelForCausalLM
from core.config import Settings
from core.models.prompts import encode_prompt
from core.models.source import ModelSource, resolve_model
from core.models.weights import load_layout, load_tokenizer
from tests.helpers.processes import MeadowProcess, kill_leftovers

MODEL = "smollm2-135m-instruct"
NEW_TOKENS = 64
RUNS = 5
PROMPT = "Explain in a few sentences why the sky is blue."
PROMPT_IDS = 24  # tokens of the fixed prompt of a model without a tokenizer


def swarms(num_blocks: int) -> dict[str, list[tuple[int, int]]]:
    half = num_blocks // 2
    return {"1-server": [(0, num_blocks)], "2-server": [(0, half), (half, num_blocks)]}


class TimingStreamer(BaseStreamer):
    """Records time.perf_counter() at each new token; generate() first puts the prompt, which is skipped."""

    def __init__(self) -> None:
        self.prompt_seen = False
        self.times: list[float] = []

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def timed_generation(model: Any, input_ids: torch.Tensor) -> tuple[float, float]:
    """One greedy generation of NEW_TOKENS tokens; returns (TTFT in seconds, decode tokens/s)."""
    streamer = TimingStreamer()
    start = time.perf_counter()
    model.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=NEW_TOKENS,
                   min_new_tokens=NEW_TOKENS, do_sample=False, streamer=streamer)
    times = streamer.times
    if len(times) != NEW_TOKENS:
        raise RuntimeError(f"expected {NEW_TOKENS} streamed tokens, got {len(times)}")
    return times[0] - start, (len(times) - 1) / (times[-1] - times[0])


def start_swarm(model: str, spans: list[tuple[int, int]], namespace: str, peers: list[str],
                started: list[MeadowProcess]) -> list[float]:
    """Start one server per span, one after another; returns each one's seconds from launch to ready."""
    launch_times = []
    for start, end in spans:
        began = time.perf_counter()
        server = MeadowProcess.start(["serve", "--model", model, "--blocks", f"{start}:{end}", "--initial-peers",
                                      *peers, "--set", f"swarm.namespace={namespace}"], ready_timeout=300)
        launch_times.append(time.perf_counter() - began)
        started.append(server)
    return launch_times


def measure(runners: dict[str, Any], input_ids: torch.Tensor, runs: int) -> dict[str, list[tuple[float, float]]]:
    """A warm-up per configuration, then `runs` rounds that alternate between configurations."""
    for name, model in runners.items():
        print(f"warm-up {name}: TTFT {timed_generation(model, input_ids)[0] * 1000:.0f} ms", flush=True)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    for round_index in range(runs):
        for name, model in runners.items():
            ttft, rate = timed_generation(model, input_ids)
            results[name].append((ttft, rate))
            print(f"run {round_index + 1} {name:9s} TTFT {ttft * 1000:7.1f} ms  decode {rate:6.2f} tok/s", flush=True)
    return results


def report(model: str, results: dict[str, list[tuple[float, float]]], launch: dict[str, list[float]],
           spans: dict[str, list[tuple[int, int]]]) -> None:
    medians = {name: (statistics.median(t for t, _ in runs), statistics.median(r for _, r in runs))
               for name, runs in results.items()}
    local_ttft, local_rate = medians["local"]
    runs = len(next(iter(results.values())))
    print(f"\n{model}, CPU, batch 1, {NEW_TOKENS} new tokens, medians of {runs} runs")
    print(f"{'config':10s} {'TTFT ms':>9s} {'decode tok/s':>13s} {'TTFT/local':>11s} {'decode/local':>13s}")
    for name, (ttft, rate) in medians.items():
        print(f"{name:10s} {ttft * 1000:9.1f} {rate:13.2f} {ttft / local_ttft:11.2f} {rate / local_rate:13.2f}")
    print("\nserver launch -> ready line:")
    for name, times in launch.items():
        timings = (f"{span[0]}:{span[1]} {t:.1f} s" for span, t in zip(spans[name], times, strict=True))
        print(f"  {name}: " + ", ".join(timings))
    print(f"\nRATIO decode 2-server/local = {medians['2-server'][1] / local_rate:.2f} (target >= 0.8)")


def prompt_ids(source: ModelSource, vocab_size: int) -> torch.Tensor:
    """The chat prompt in the model's template, its plain text without one, or fixed ids without a tokenizer."""
    try:
        tokenizer = load_tokenizer(source)
    except (OSError, ValueError):
        return torch.randint(3, vocab_size, (1, PROMPT_IDS), generator=torch.Generator().manual_seed(0))
    if tokenizer.chat_template is None:
        return encode_prompt(tokenizer, PROMPT)
    return encode_prompt(tokenizer, [{"role": "user", "content": PROMPT}])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODEL, help=f"the model to run (default {MODEL})")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"measured runs per configuration (default {RUNS})")
    args = parser.parse_args()
    source = resolve_model(args.model)
    layout = load_layout(source)
    spans = swarms(layout.num_blocks)
    input_ids = prompt_ids(source, int(layout.decoder_config.vocab_size))
    print(f"{args.model} ({layout.config.model_type}, {layout.num_blocks} blocks); prompt: {input_ids.shape[1]} "
          f"tokens; torch threads in this process: {torch.get_num_threads()}")
    started: list[MeadowProcess] = []
    clients: list[Any] = []
    try:
        started.append(MeadowProcess.start(["dht", "--new-swarm"]))
        peers = started[0].multiaddrs
        reference = source.model_id if source.hub else source.folder
        local = AutoModelForCausalLM.from_pretrained(reference, gguf_file=source.gguf_file, dtype=torch.float32)
        runners: dict[str, Any] = {"local": local.eval()}
        launch: dict[str, list[float]] = {}
        for name, name_spans in spans.items():
            namespace = f"bench-{name}-{os.getpid()}"
            launch[name] = start_swarm(args.model, name_spans, namespace, peers, started)
            settings = Settings.load([f"swarm.namespace={namespace}"])
            clients.append(AutoDistributedModelForCausalLM.from_pretrained(args.model, initial_peers=peers,
                                                                           settings=settings))
            runners[name] = clients[-1]
        report(args.model, measure(runners, input_ids, args.runs), launch, spans)
    finally:
        for client in clients:
            client.shutdown()
        for process in reversed(started):
            process.stop()
        kill_leftovers()


if __name__ == "__main__":
    main()
