"""`meadow node`: the local daemon, composed here (its one composition root).

Order matters: the DHT peer starts first (hivemind forks; no threads or torch work before it), then
the swarm client on that same peer, the server supervisor, and the local HTTP API on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field, replace

import uvicorn
from hivemind import DHT
from starlette.routing import Route

from core import events
from core.client.swarm_client import SwarmClient
from core.config import Settings
from core.errors import UserFacingError
from core.node.api_token import clear_node_info, ensure_api_token, token_path, write_node_info
from core.node.control_api import ControlApi
from core.node.conversations import Conversations
from core.node.event_hub import EventHub
from core.node.generation import RequestRunner
from core.node.http_app import build_app
from core.node.model_pool import ModelPool
from core.node.node import Node, preload_own_model
from core.node.openai_api import OpenAIApi
from core.node.server_stats import ServerStatsReader
from core.node.status_report import StatusReport
from core.node.supervisor import ServerSupervisor
from core.node.swarm_view import SwarmView
from core.node.swarms_api import SwarmsApi
from core.pause import build_monitor
from core.swarm.dht import SwarmSelection, start_dht, visible_maddrs
from core.swarm.identity import Identity
from core.swarm.private import child_swarm_args
from core.swarm.secrets import MemorySecrets

logger = logging.getLogger(__name__)


def run_node(args: argparse.Namespace, swarm: SwarmSelection, settings: Settings,
             stdin_secret: bytes | None) -> None:
    """Run the node until a signal stops it; `stdin_secret` is the private swarm's secret read from stdin."""
    events.Starting(command="node", pid=os.getpid()).emit()
    overrides = list(args.overrides) + ([f"node.model={args.model}"] if args.model else [])
    if args.model:  # what Settings.load(overrides) gives, without reading the settings file again
        settings = Settings({**settings.as_dict(), "node.model": args.model.strip()})
    stop = _stop_on_signals()
    api_socket = _bind_api(settings["node.api_port"] if args.api_port is None else args.api_port)
    identity = Identity.from_file(args.identity) if args.identity else None
    dht = start_dht(swarm, settings, identity, args.identity, host=args.host, port=args.port,
                    announce_maddrs=tuple(args.announce_maddrs))
    multiaddrs = visible_maddrs(dht)
    client_settings = Settings({**settings.as_dict(), "client.route_timeout": settings["node.route_wait"]})
    swarm_client = SwarmClient(replace(swarm, new_swarm=True), client_settings, dht)
    node = _compose(settings, overrides, swarm, dht, multiaddrs, swarm_client, client_settings,
                    _held_secrets(swarm, stdin_secret))
    token = ensure_api_token()
    api = f"http://127.0.0.1:{api_socket.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(build_app(_routes(node), token), log_config=None, access_log=False,
                                           lifespan="off", timeout_graceful_shutdown=3))
    http_thread = threading.Thread(target=server.run, kwargs={"sockets": [api_socket]}, daemon=True,
                                   name="meadow-api")
    try:
        http_thread.start()
        _wait_started(server)
        write_node_info(api, os.getpid())
        events.NodeReady(peer_id=dht.peer_id.to_base58(), multiaddrs=multiaddrs, api=api,
                         token_file=str(token_path())).emit()
        threading.Thread(target=preload_own_model, args=(node,), daemon=True, name="meadow-preload").start()
        node.attach_monitor(build_monitor(settings, node.on_transition, donating=args.serve))
        reason = _wait_for_stop(stop, http_thread)
        events.Stopping(reason=reason).emit()
    finally:
        server.should_exit = True
        http_thread.join(10.0)
        _shut_down(node, swarm_client, dht)
    events.Stopped().emit()


def _held_secrets(swarm: SwarmSelection, stdin_secret: bytes | None) -> MemorySecrets | None:
    """A secret the node was handed on stdin goes to its server child the same way (else: the keyring)."""
    if stdin_secret is None:
        return None
    secrets = MemorySecrets()
    secrets.put(swarm.namespace, stdin_secret)
    return secrets


def _compose(settings: Settings, overrides: list[str], swarm: SwarmSelection, dht: DHT, multiaddrs: list[str],
             swarm_client: SwarmClient, client_settings: Settings, secrets: MemorySecrets | None) -> Node:
    hub = EventHub()
    node_ref: list[Node] = []

    def server_command() -> tuple[list[str], str | None]:
        current = node_ref[0].settings
        command = ["serve", "--model", current["node.model"], "--initial-peers", *multiaddrs]
        if current["node.num_blocks"] > 0:
            command += ["--num-blocks", str(current["node.num_blocks"])]
        swarm_args, stdin_text = child_swarm_args(swarm.name, secrets) if swarm.name else ([], None)
        server_overrides = [f"--set={item}" for item in overrides if not item.startswith("node.")]
        return command + swarm_args + server_overrides, stdin_text

    supervisor = ServerSupervisor(server_command, lambda status: node_ref[0].on_serving_changed(status),
                                  backoff_max=settings["node.restart_backoff_max"],
                                  drain_timeout=settings["server.drain_timeout"])
    view = SwarmView(dht, swarm.name, swarm.namespace, multiaddrs)
    pool = ModelPool(swarm_client, client_settings, settings["node.model"], view.model_names)
    conversations = Conversations(settings["node.max_sessions"], settings["node.session_idle_timeout"],
                                  settings["node.session_tokens"])
    report = StatusReport(supervisor, view, pool, conversations, ServerStatsReader(swarm_client))
    node = Node(settings, overrides, hub, supervisor, pool, conversations, view, report)
    node_ref.append(node)
    return node


def _routes(node: Node) -> list[Route]:
    openai = OpenAIApi(node.pool, RequestRunner(node.conversations), lambda: node.settings["node.default_max_tokens"])
    return [
        *ControlApi(node).routes(),
        *openai.routes(),
        *SwarmsApi(node.swarm_view.private_name, node.swarm_view.multiaddrs).routes(),
    ]


def _bind_api(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as error:
        sock.close()
        raise UserFacingError(f"Cannot listen on 127.0.0.1:{port} ({error.strerror}): another node may be running "
                              f"(see `meadow node` in its data dir), or pass --api-port 0") from None
    sock.listen(128)
    return sock


@dataclass
class _StopRequest:
    """Set by SIGTERM or SIGINT, with the signal's name as the reason."""

    event: threading.Event = field(default_factory=threading.Event)
    reason: str = "stopped"


def _stop_on_signals() -> _StopRequest:
    stop = _StopRequest()

    def on_signal(signum: int, _frame: object) -> None:
        stop.reason = signal.Signals(signum).name
        stop.event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def _wait_started(server: uvicorn.Server, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline:
            raise UserFacingError("The node's local API did not start; see the node's log")
        time.sleep(0.02)


def _wait_for_stop(stop: _StopRequest, http_thread: threading.Thread) -> str:
    while not stop.event.wait(0.5):
        if not http_thread.is_alive():
            return "the local API stopped"
    return stop.reason


def _shut_down(node: Node, swarm_client: SwarmClient, dht: DHT) -> None:
    node.conversations.close_all()  # first: kept sessions would hold up the server child's drain
    node.shutdown()
    swarm_client.shutdown()
    dht.shutdown()
    clear_node_info(os.getpid())
