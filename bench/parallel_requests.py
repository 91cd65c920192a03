"""Concurrency benchmark: several clients asking one node at once, against the same requests one by one.

A real node serves all 30 blocks of SmolLM2 and is asked CLIENTS greedy completions of TOKENS tokens each,
first one after another, then all at once (each on its own swarm session, the server interleaving their
steps). Reported: total tokens per second either way, the ratio at once / one by one, and whether each
answer was the same both ways.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MEADOW_HOME", tempfile.mkdtemp(prefix="meadow-bench-home-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.helpers.node import NodeHandle
from tests.helpers.processes import kill_leftovers

MODEL = "smollm2-135m-instruct"
TOKENS = 48
REPEATS = 3
PROMPTS = ["The history of Rome begins", "A recipe for bread:", "The planets of the solar system are",
           "Ten tips for learning to program:"]
CLIENTS = len(PROMPTS)


def complete(node: NodeHandle, prompt: str) -> tuple[str, int]:
    body = {"model": MODEL, "prompt": prompt, "temperature": 0, "max_tokens": TOKENS}
    response = node.http.post("/v1/completions", json=body, timeout=300)
    response.raise_for_status()
    answer = response.json()
    return answer["choices"][0]["text"], answer["usage"]["completion_tokens"]


Mapper = Callable[[Callable[[str], tuple[str, int]], Iterable[str]], Iterable[tuple[str, int]]]


def timed(node: NodeHandle, each: Mapper) -> tuple[list[str], float]:
    """Every prompt's answer, asked through `each` (map: one by one; a pool's map: at once), and the total
    tokens per second."""
    started = time.perf_counter()
    answers = list(each(lambda prompt: complete(node, prompt), PROMPTS))
    return [text for text, _ in answers], sum(tokens for _, tokens in answers) / (time.perf_counter() - started)


def main() -> None:
    node = NodeHandle.start(["--new-swarm", "--serve", "--set", "server.throughput=100",
                             "--set", f"node.max_sessions={CLIENTS}"], ready_timeout=180)
    try:
        node.wait_for_state("serving", 300)
        timed(node, map)  # warm up the client model and the server
        sequential, parallel, same = [], [], True
        for repeat in range(REPEATS):
            texts_alone, rate_alone = timed(node, map)
            with ThreadPoolExecutor(CLIENTS) as pool:
                texts_together, rate_together = timed(node, pool.map)
            sequential.append(rate_alone)
            parallel.append(rate_together)
            same = same and texts_alone == texts_together
            print(f"run {repeat + 1}: one by one {rate_alone:.1f} tokens/s, {CLIENTS} at once "
                  f"{rate_together:.1f} tokens/s", flush=True)
        alone, together = statistics.median(sequential), statistics.median(parallel)
        print(f"median total tokens/s: one by one {alone:.1f}, {CLIENTS} at once {together:.1f}; "
              f"ratio at once/one by one = {together / alone:.2f}; same answers both ways: {same}")
    finally:
        node.stop()
        kill_leftovers()


if __name__ == "__main__":
    main()
