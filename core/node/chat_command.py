"""`meadow chat`: an interactive terminal chat through a local node (the headless `make run`).

It talks to the node's OpenAI-compatible API, sending the whole conversation each turn; the node keeps
the conversation's swarm session open, so only the new tokens travel to the servers. With no node
running it starts one (`meadow node`, with `--serve` on a new swarm) and stops it on exit.
"""
from __future__ import annotations

import argparse
import sys

from core.config import Settings
from core.launcher import stop_group
from core.node.local_node import NodeClient, start_node, wait_until_served
from core.swarm.dht import SwarmSelection


def run_chat(args: argparse.Namespace, swarm: SwarmSelection, settings: Settings) -> None:
    node, api = start_node(_node_arguments(args, swarm))
    try:
        wait_until_served(api, settings["node.route_wait"] + 600)
        _chat_loop(api, args)
    finally:
        stop_group(node, 30.0)


def _node_arguments(args: argparse.Namespace, swarm: SwarmSelection) -> list[str]:
    command = ["--api-port", "0", "--model", args.model]
    if swarm.name:
        command += ["--swarm", swarm.name]
    if swarm.new_swarm and not swarm.initial_peers:
        command += ["--new-swarm", "--serve"]
    elif swarm.initial_peers:
        command += ["--initial-peers", *swarm.initial_peers]
    return command + [f"--set={item}" for item in args.overrides]


def _chat_loop(api: NodeClient, args: argparse.Namespace) -> None:
    model = args.model
    messages: list[dict[str, str]] = []
    print("Chat through the swarm. Empty line or Ctrl-D quits; /reset starts over.", file=sys.stderr)
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            break
        if not text:
            break
        if text == "/reset":
            messages.clear()
            continue
        messages.append({"role": "user", "content": text})
        print("meadow> ", end="", flush=True)
        reply = ""
        for piece in api.stream_chat(model, messages, args.max_new_tokens):
            print(piece, end="", flush=True)
            reply += piece
        print()
        messages.append({"role": "assistant", "content": reply})


