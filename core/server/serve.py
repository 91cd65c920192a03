"""`meadow serve`: load a span of blocks, serve them over hivemind P2P, announce them in the DHT.

Order matters: the DHT (which forks) starts before torch work; `ready` is printed only once a fresh
client can read the records; SIGTERM/SIGINT announce the server offline before it exits.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import torch

from core import events
from core.config import Settings
from core.errors import UserFacingError
from core.swarm.dht import SwarmSelection, start_dht, visible_maddrs
from core.swarm.identity import Identity

logger = logging.getLogger(__name__)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class ServeOptions:
    model: str
    blocks: tuple[int, int] | None
    num_blocks: int | None
    swarm: SwarmSelection
    host: str = "127.0.0.1"
    port: int = 0
    announce_maddrs: tuple[str, ...] = ()
    device: str = "cpu"
    dtype: str = "float32"
    identity: Path | None = None


def serve(options: ServeOptions, settings: Settings) -> None:
    events.Starting(command="serve", pid=os.getpid()).emit()
    identity = Identity.from_file(options.identity) if options.identity else Identity.ephemeral()
    dht = start_dht(options.swarm, settings, identity, options.identity, host=options.host, port=options.port,
                    announce_maddrs=options.announce_maddrs)
    try:
        span, record, model_name = _load(options, settings, dht, identity)
        asyncio.run(_serve_async(dht, span, record, model_name, options, settings, identity))
    finally:
        dht.shutdown()


def _load(options: ServeOptions, settings: Settings, dht, identity: Identity):
    from core.models import family_for
    from core.models.source import resolve_model
    from core.models.weights import block_tensor_names, load_config, load_tensors
    from core.server.blocks import BlockSpan
    from core.server.placement import choose_span
    from core.swarm.records import ServerRecord

    if settings["server.torch_threads"]:
        torch.set_num_threads(settings["server.torch_threads"])
    device = _device(options.device)
    dtype = DTYPES[options.dtype]
    if device.type == "cpu" and dtype == torch.float16:
        raise UserFacingError("float16 is not supported on CPU; use --dtype float32 or bfloat16")
    source = resolve_model(options.model)
    config = load_config(source)
    family = family_for(config)
    total = int(config.num_hidden_layers)
    start, end = options.blocks or choose_span(dht, options.swarm.namespace, source.dht_name, total,
                                                options.num_blocks or total)
    if not 0 <= start < end <= total:
        raise UserFacingError(f"--blocks {start}:{end} is outside the model's {total} blocks (0:{total})")
    names = block_tensor_names(config, family.block_prefix, range(start, end))
    progress = lambda done, count: events.Loading(model=source.dht_name, done=done, total=count).emit()  # noqa: E731
    tensors = load_tensors(source, config, names, dtype, progress)
    span = BlockSpan(family, config, start, end, tensors, dtype, device)
    del tensors
    record = ServerRecord(
        peer_id=identity.peer_id.to_base58(), state="joining", model=source.dht_name, start=start, end=end,
        throughput=settings["server.throughput"], dtype=options.dtype, public_name=settings["server.public_name"],
        cache_tokens_free=settings["server.max_length"],
    )
    return span, record, source.dht_name


def _device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise UserFacingError("--device cuda needs an NVIDIA GPU with a CUDA build of torch")
    return torch.device(name)


async def _serve_async(dht, span, record, model_name: str, options: ServeOptions, settings: Settings,
                       identity: Identity) -> None:
    from hivemind.dht.crypto import RSASignatureValidator

    from core.server.announcer import Announcer
    from core.server.handler import BlockServicer, ServerLimits

    limits = ServerLimits(settings["server.max_length"], settings["server.max_batch_size"],
                          settings["server.max_request_tokens"], settings["server.step_timeout"],
                          settings["server.session_timeout"])
    servicer = BlockServicer(span, model_name, limits, options.swarm.authorizer)
    p2p = await dht.replicate_p2p()
    await servicer.add_p2p_handlers(p2p)
    owner_key = RSASignatureValidator(identity.private_key).local_public_key
    announcer = Announcer(dht, options.swarm.namespace, record, owner_key, settings["server.announce_period"],
                          settings["server.record_ttl"])
    stop = asyncio.Event()
    reason = {"value": "stopped"}
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, _on_signal, stop, reason, signum)
    maddrs = visible_maddrs(dht)
    await announcer.announce("online")
    await announcer.wait_visible(options.swarm.initial_peers or maddrs, settings["server.ready_check_timeout"])
    events.ServerReady(peer_id=identity.peer_id.to_base58(), multiaddrs=maddrs, model=model_name,
                       blocks=[span.start, span.end]).emit()
    logger.info("Serving blocks %d:%d of %s", span.start, span.end, model_name)
    await announcer.run(stop)
    events.Stopping(reason=reason["value"]).emit()
    try:
        # Same TTL as before: the DHT keeps whichever value of a subkey expires last.
        await asyncio.wait_for(announcer.announce("offline"), 5.0)
    except Exception:  # noqa: BLE001 - exiting anyway; the records expire on their own
        logger.warning("Could not announce this server offline; its records will expire")
    servicer.shutdown()
    events.Stopped().emit()


def _on_signal(stop: asyncio.Event, reason: dict, signum: int) -> None:
    reason["value"] = signal.Signals(signum).name
    stop.set()
