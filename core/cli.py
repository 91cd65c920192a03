"""`meadow ...`: the command-line entry point. Subcommands import their heavy modules lazily."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from core.errors import UserFacingError

logger = logging.getLogger(__name__)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting for this run (repeatable; lists comma-separated)")
    parser.add_argument("-v", "--verbose", action="store_true", help="also log to stderr")


def _add_swarm(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--new-swarm", action="store_true", help="be the first peer of a new swarm")
    parser.add_argument("--initial-peers", nargs="+", default=[], metavar="MADDR",
                        help="multiaddrs of peers already in the swarm (ending in /p2p/<peer id>)")


def _add_host(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=0, help="TCP port to listen on (0 picks a free one)")
    parser.add_argument("--announce-maddrs", nargs="+", default=[], metavar="MADDR",
                        help="addresses other peers should use to reach this one")
    parser.add_argument("--identity", type=Path, default=None,
                        help="file with this peer's private key (created if missing) for a fixed peer id")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meadow", description="Run large language models together.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve a span of a model's blocks to the swarm")
    serve.add_argument("--model", required=True, help="model id, local HF folder or HF hub id")
    serve.add_argument("--blocks", default=None, metavar="A:B", help="serve blocks A to B-1")
    serve.add_argument("--num-blocks", type=int, default=None, metavar="N", help="serve N blocks the swarm needs")
    serve.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    serve.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    _add_swarm(serve)
    _add_host(serve)
    _add_common(serve)

    dht = commands.add_parser("dht", help="run a DHT-only bootstrap peer")
    _add_swarm(dht)
    _add_host(dht)
    _add_common(dht)

    generate = commands.add_parser("generate", help="generate text through the swarm")
    generate.add_argument("--model", required=True)
    generate.add_argument("--prompt", required=True)
    generate.add_argument("--chat", action="store_true", help="wrap the prompt in the model's chat template")
    generate.add_argument("--max-new-tokens", type=int, default=128)
    generate.add_argument("--temperature", type=float, default=0.0, help="0 is greedy")
    generate.add_argument("--top-p", type=float, default=1.0)
    _add_swarm(generate)
    _add_common(generate)

    swarm = commands.add_parser("swarm", help="inspect the swarm")
    swarm_commands = swarm.add_subparsers(dest="swarm_command", required=True)
    status = swarm_commands.add_parser("status", help="servers and throughput of each block of each model")
    status.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    _add_swarm(status)
    _add_common(status)

    chat = commands.add_parser("chat", help="chat in the terminal through the swarm")
    chat.add_argument("--model", default="smollm2-135m-instruct")
    chat.add_argument("--max-new-tokens", type=int, default=256)
    _add_swarm(chat)
    _add_common(chat)
    return parser


def _swarm(args: argparse.Namespace, settings):  # -> SwarmSelection
    from core.swarm.dht import SwarmSelection

    return SwarmSelection(namespace=settings["swarm.namespace"], initial_peers=list(args.initial_peers),
                          new_swarm=args.new_swarm)


def _parse_blocks(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        start, end = (int(part) for part in text.split(":"))
    except ValueError:
        raise UserFacingError(f"--blocks expects A:B (for example 0:15), got {text!r}") from None
    if not 0 <= start < end:
        raise UserFacingError(f"--blocks {text}: need 0 <= A < B")
    return start, end


def _run(args: argparse.Namespace) -> None:
    from core.config import Settings
    from core.logging_setup import configure_logging

    settings = Settings.load(args.overrides)
    configure_logging(args.command, settings["log.level"], args.verbose)
    if args.command == "serve":
        from core.server.serve import ServeOptions, serve

        if args.blocks and args.num_blocks:
            raise UserFacingError("Pass either --blocks or --num-blocks, not both")
        serve(ServeOptions(model=args.model, blocks=_parse_blocks(args.blocks), num_blocks=args.num_blocks,
                           swarm=_swarm(args, settings), host=args.host, port=args.port,
                           announce_maddrs=tuple(args.announce_maddrs), device=args.device, dtype=args.dtype,
                           identity=args.identity), settings)
    elif args.command == "dht":
        from core.server.dht_command import run_dht

        run_dht(_swarm(args, settings), settings, args.host, args.port, args.identity, tuple(args.announce_maddrs))
    elif args.command == "generate":
        from core.client.generate_command import run_generate

        run_generate(args, _swarm(args, settings), settings)
    elif args.command == "swarm":
        from core.swarm.status import run_status

        run_status(_swarm(args, settings), settings, args.json)
    elif args.command == "chat":
        from core.client.chat_command import run_chat

        run_chat(args, _swarm(args, settings), settings)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    # Idle OpenMP threads must sleep, not spin: a swarm pipelines several processes on the same cores, and
    # a stage that just finished would otherwise burn the CPU the next stage needs (set before torch loads).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        _run(args)
    except UserFacingError as error:
        from core import events

        events.Failed(message=str(error)).emit()
        print(f"meadow: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
