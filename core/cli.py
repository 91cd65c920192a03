"""`meadow ...`: the command-line entry point. Subcommands import their heavy modules lazily."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core import __version__
from core.config import lookup
from core.errors import UserFacingError

if TYPE_CHECKING:  # the commands import these lazily: start-up stays fast and hivemind loads only when needed
    from core.config import Settings
    from core.swarm.dht import SwarmSelection

    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]

logger = logging.getLogger(__name__)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting for this run (repeatable; lists comma-separated)")
    parser.add_argument("-v", "--verbose", action="store_true", help="also log to stderr")


def _add_swarm(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--swarm", default=None, metavar="NAME",
                        help="a joined private swarm (see `meadow swarm list`); default: the public swarm")
    parser.add_argument("--secret-stdin", action="store_true",
                        help="with --swarm: read the swarm secret from stdin (a supervisor's pipe) instead of the "
                             "keyring")
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
    parser = argparse.ArgumentParser(prog="meadow", description="Run large language models together.",
                                     epilog="`meadow --self-test` starts a node serving the embedded model, "
                                            "generates a sentence and exits 0 if it worked.")
    parser.add_argument("--version", action="version", version=f"meadow {__version__}")
    parser.add_argument("--cpu", action="store_true",
                        help="use the bundled CPU torch even if a CUDA build is active (children too); "
                             "give it before the command")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve a span of a model's blocks to the swarm")
    serve.add_argument("--model", required=True, help="model id, local HF folder or HF hub id")
    serve.add_argument("--blocks", default=None, metavar="A:B", help="serve blocks A to B-1")
    serve.add_argument("--num-blocks", type=int, default=None, metavar="N", help="serve N blocks the swarm needs")
    # Each defaults to its setting (server.device, server.dtype, server.quantization), whose values it takes.
    serve.add_argument("--device", default=None, choices=lookup("server.device").choices,
                       help="where the blocks run (auto: the GPU if torch sees one)")
    serve.add_argument("--dtype", default=None, choices=lookup("server.dtype").choices,
                       help="the blocks' number format (auto: bfloat16 on a GPU, float32 on CPU)")
    serve.add_argument("--quantization", default=None, choices=lookup("server.quantization").choices,
                       help="store linear weights in 8 or 4 bits with bitsandbytes")
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
    _add_private_swarm_parsers(swarm_commands, commands)

    chat = commands.add_parser("chat", help="chat in the terminal through the swarm")
    chat.add_argument("--model", default="smollm2-135m-instruct")
    chat.add_argument("--max-new-tokens", type=int, default=256)
    _add_swarm(chat)
    _add_common(chat)

    app = commands.add_parser("app", help="the desktop app: tray, dashboard, chat (the default command)")
    app.add_argument("--hidden", action="store_true", help="start in the tray without opening a window")
    _add_common(app)

    node = commands.add_parser("node", help="run the local daemon: DHT peer, client, local API, server child")
    node.add_argument("--serve", action="store_true", help="also serve blocks (a `meadow serve` child)")
    node.add_argument("--model", default=None, help="model the server child serves (default: setting node.model)")
    node.add_argument("--api-port", type=int, default=None,
                      help="port of the local API on 127.0.0.1 (default: setting node.api_port; 0 picks a free one)")
    _add_swarm(node)
    _add_host(node)
    _add_common(node)
    _add_runtime_parsers(commands)
    return parser


def _add_runtime_parsers(commands: Subcommands) -> None:
    runtime = commands.add_parser("runtime", help="the torch build this computer runs: CPU, or a fetched CUDA build")
    runtime_commands = runtime.add_subparsers(dest="runtime_command", required=True)
    status = runtime_commands.add_parser("status", help="GPU, driver CUDA version, the build needed, installed, active")
    status.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    install = runtime_commands.add_parser(
        "install-cuda", help="fetch the CUDA build of torch this GPU needs into the data dir and make it active")
    install.add_argument("--variant", default=None, metavar="cuXXX",
                         help="fetch this build instead of the detected one")
    install.add_argument("--index-url", default=None, metavar="URL",
                         help="PEP 503 package index ({variant} is replaced; default: setting runtime.torch_index_url)")
    use = runtime_commands.add_parser("use", help="choose the torch build of processes started from now on")
    use.add_argument("variant", metavar="cpu|cuXXX")
    use.add_argument("--force", action="store_true", help="use a CUDA build even if it sees no GPU")
    runtime_commands.add_parser("check", help="import torch and report its build and GPUs (one JSON event)")
    for parser in runtime_commands.choices.values():
        _add_common(parser)


def _add_private_swarm_parsers(swarm_commands: Subcommands, commands: Subcommands) -> None:
    create = swarm_commands.add_parser("create", help="make a new private swarm (secret in the OS keyring)")
    create.add_argument("name")
    join = swarm_commands.add_parser("join", help="join a private swarm with an invite token")
    join.add_argument("token", nargs="?", default="-",
                      help="the invite token; omit it (or pass -) to paste it at a prompt, out of shell history")
    swarm_commands.add_parser("list", help="the private swarms joined here")
    leave = swarm_commands.add_parser("leave", help="forget a private swarm and delete its secret")
    leave.add_argument("name")
    invite = commands.add_parser("invite", help="invite tokens to private swarms")
    invite_create = invite.add_subparsers(dest="invite_command", required=True).add_parser(
        "create", help="print an invite token (on the last line)")
    invite_create.add_argument("--swarm", required=True, metavar="NAME")
    invite_create.add_argument("--initial-peers", nargs="+", default=[], metavar="MADDR",
                               help="multiaddrs of the swarm's peers that invitees can reach "
                                    "(default: the stored ones)")
    invite_create.add_argument("--expires", default="7d", help="how long the token works: 12h, 7d, 2w ... (default 7d)")
    for parser in (create, join, swarm_commands.choices["list"], leave, invite_create):
        _add_common(parser)


def _swarm(args: argparse.Namespace, settings: Settings) -> SwarmSelection:
    return _swarm_and_secret(args, settings)[0]


def _swarm_and_secret(args: argparse.Namespace, settings: Settings) -> tuple[SwarmSelection, bytes | None]:
    """The swarm to join, and the secret read from stdin (--secret-stdin), which a supervisor (the node)
    hands on to its children the same way."""
    from core.swarm.dht import SwarmSelection

    if args.swarm:  # a private swarm: namespace, bootstrap peers and secret from what `swarm join` stored
        from core.swarm.private import swarm_selection
        from core.swarm.secrets import read_secret_stdin

        secret = read_secret_stdin() if args.secret_stdin else None
        return swarm_selection(args.swarm, args.initial_peers, args.new_swarm, secret=secret), secret
    if args.secret_stdin:
        raise UserFacingError("--secret-stdin needs --swarm NAME")
    return SwarmSelection(namespace=settings["swarm.namespace"], initial_peers=list(args.initial_peers),
                          new_swarm=args.new_swarm), None


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
    # `runtime` chooses and checks torch builds, so it must not import torch through hivemind's logging.
    configure_logging(args.command, settings["log.level"], args.verbose, hivemind=args.command != "runtime")
    if args.command == "serve":
        from core.server.serve import ServeOptions, serve

        if args.blocks and args.num_blocks:
            raise UserFacingError("Pass either --blocks or --num-blocks, not both")
        serve(ServeOptions(model=args.model, blocks=_parse_blocks(args.blocks), num_blocks=args.num_blocks,
                           swarm=_swarm(args, settings), host=args.host, port=args.port,
                           announce_maddrs=tuple(args.announce_maddrs),
                           device=args.device or settings["server.device"],
                           dtype=args.dtype or settings["server.dtype"],
                           quantization=args.quantization or settings["server.quantization"],
                           identity=args.identity), settings)
    elif args.command == "dht":
        from core.server.dht_command import run_dht

        run_dht(_swarm(args, settings), settings, args.host, args.port, args.identity, tuple(args.announce_maddrs))
    elif args.command == "generate":
        from core.client.generate_command import run_generate

        run_generate(args, _swarm(args, settings), settings)
    elif args.command == "swarm" and args.swarm_command == "status":
        from core.swarm.status import run_status

        run_status(_swarm(args, settings), settings, args.json)
    elif args.command in ("swarm", "invite"):
        from core.swarm.swarm_commands import run_swarm_command

        run_swarm_command(args, settings)
    elif args.command == "chat":
        from core.node.chat_command import run_chat

        run_chat(args, _swarm(args, settings), settings)
    elif args.command == "node":
        from core.node.node_command import run_node

        swarm, secret = _swarm_and_secret(args, settings)
        run_node(args, swarm, settings, secret)
    elif args.command == "runtime":
        from core.runtime.command import run_runtime_command

        run_runtime_command(args, settings)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # First of all, before anything can import torch: put a fetched CUDA build of torch in front of the
    # bundled CPU one (see core/runtime/activate.py); children run main() too and so get the same torch.
    from core.runtime.activate import activate_for_command

    argv = activate_for_command(argv)
    # Idle OpenMP threads must sleep, not spin: a swarm pipelines several processes on the same cores, and
    # a stage that just finished would otherwise burn the CPU the next stage needs (set before torch loads).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if argv == ["--self-test"]:
        from core.node.self_test import run_self_test

        sys.exit(run_self_test())
    args = build_parser().parse_args(argv or ["app"])  # `meadow` alone starts the desktop app
    if args.command == "app":
        # The GUI is loaded by module name, so core never imports Qt; the app sets up its own logging.
        sys.exit(importlib.import_module("app.main").run(args))
    try:
        _run(args)
    except UserFacingError as error:
        from core import events

        events.Failed(message=str(error)).emit()
        print(f"meadow: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
