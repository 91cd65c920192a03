"""`meadow --self-test`: start a node serving the embedded model on a new local swarm, generate a sentence.

It exercises the whole stack a user's machine needs (DHT and p2pd, a server child loading weights, the
client, the local API) and exits 0 only if a sentence came back. It works from the bundle too.
"""
from __future__ import annotations

import sys
import time

from core.errors import UserFacingError
from core.launcher import stop_group
from core.node.local_node import start_node, wait_until_served

MODEL = "smollm2-135m-instruct"
PROMPT = "Write one short sentence about a meadow."


def run_self_test(timeout: float = 600.0) -> int:
    started = time.monotonic()
    try:
        node, api = start_node(["--api-port", "0", "--new-swarm", "--serve", "--model", MODEL])
    except UserFacingError as error:
        print(f"self-test failed: {error}", file=sys.stderr)
        return 1
    try:
        wait_until_served(api, timeout)
        answer = api.json("POST", "/v1/chat/completions", {
            "model": MODEL, "temperature": 0, "max_tokens": 40, "messages": [{"role": "user", "content": PROMPT}]})
        text = answer["choices"][0]["message"]["content"].strip()
        if not text:
            raise UserFacingError("the model answered with no text")
        print(text)
        print(f"self-test passed in {time.monotonic() - started:.1f} s", file=sys.stderr)
        return 0
    except UserFacingError as error:
        print(f"self-test failed: {error}", file=sys.stderr)
        return 1
    finally:
        stop_group(node, 30.0)
