"""Chat benchmark: time to first token of a conversation's fifth turn, with session KV reuse and without.

Two real nodes share one swarm of SmolLM2: node A serves all 30 blocks and keeps conversations' swarm
sessions open between requests (the default); node B serves nothing and has `node.max_sessions=0`, so
every turn re-sends the whole history. The same greedy five-turn conversation runs through each, a few
times, alternating; reported is the median time to the first streamed token of turn five, and the ratio.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MEADOW_HOME", tempfile.mkdtemp(prefix="meadow-bench-home-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.helpers.node import NodeHandle
from tests.helpers.processes import kill_leftovers

MODEL = "smollm2-135m-instruct"
REPEATS = 3
REPLY_TOKENS = 48
QUESTIONS = ["Tell me about the history of Rome.", "What about its architecture?", "Which emperors mattered most?",
             "How did the empire end?", "Summarize everything so far in three sentences."]


def turn(node: NodeHandle, messages: list[dict]) -> tuple[str, float]:
    """Stream one reply; returns it and the seconds to its first non-empty token."""
    started, first, reply = time.perf_counter(), None, ""
    body = {"model": MODEL, "messages": messages, "temperature": 0, "max_tokens": REPLY_TOKENS, "stream": True}
    with node.http.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            for choice in json.loads(line[6:]).get("choices", []):
                piece = choice["delta"].get("content") or ""
                if piece and first is None:
                    first = time.perf_counter() - started
                reply += piece
    return reply, first if first is not None else time.perf_counter() - started


def conversation(node: NodeHandle, salt: int) -> float:
    """Five turns; returns the fifth turn's time to first token."""
    messages = [{"role": "system", "content": f"You are a helpful history tutor (session {salt})."}]
    ttft = 0.0
    for question in QUESTIONS:
        messages.append({"role": "user", "content": question})
        reply, ttft = turn(node, messages)
        messages.append({"role": "assistant", "content": reply})
    return ttft


def main() -> None:
    serving = NodeHandle.start(["--new-swarm", "--serve", "--set", "server.throughput=100"], ready_timeout=180)
    plain = None
    try:
        serving.wait_for_state("serving", 300)
        plain = NodeHandle.start(["--initial-peers", *serving.process.multiaddrs,
                                  "--set", "node.max_sessions=0"], ready_timeout=180)
        conversation(serving, -1)  # warm up both nodes' client models and the server
        conversation(plain, -2)
        with_reuse, without = [], []
        for repeat in range(REPEATS):
            with_reuse.append(conversation(serving, repeat))
            without.append(conversation(plain, repeat))
            print(f"run {repeat + 1}: turn-5 TTFT with reuse {with_reuse[-1] * 1000:.0f} ms, "
                  f"without {without[-1] * 1000:.0f} ms", flush=True)
        reuse_ms, plain_ms = statistics.median(with_reuse) * 1000, statistics.median(without) * 1000
        print(f"median turn-5 time to first token: with session reuse {reuse_ms:.0f} ms, without {plain_ms:.0f} ms; "
              f"ratio without/with = {plain_ms / reuse_ms:.2f}")
    finally:
        if plain is not None:
            plain.stop()
        serving.stop()
        kill_leftovers()


if __name__ == "__main__":
    main()
