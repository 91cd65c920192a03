"""`meadow serve`: choose and load a span of blocks, serve it over hivemind P2P, announce it, rebalance.

Order matters: the DHT (which forks) starts before torch work; the chosen span is announced as
`joining` before loading, so servers that join together see each other; `ready` is printed only once a
fresh client can read the records. SIGTERM/SIGINT drain: new sessions are refused ("draining:"), the server
is announced offline, open sessions get up to `server.drain_timeout` to finish, then it exits; a second
SIGTERM/SIGINT ends the drain at once.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from hivemind import DHT

from core import events
from core.config import Settings
from core.server.loading import ModelPlan, load_span, plan_model
from core.swarm.dht import SwarmSelection, start_dht, visible_maddrs
from core.swarm.identity import Identity

if TYPE_CHECKING:  # imported where used: each step of serving loads its modules only when it gets there
    from core.server.admission import Admission
    from core.server.announcer import Announcer
    from core.server.blocks import BlockSpan
    from core.server.handler import BlockServicer, ServerLimits
    from core.server.moving import MovableSpan
    from core.swarm.records import ServerRecord

logger = logging.getLogger(__name__)


@dataclass
class ServeOptions:
    model: str
    blocks: tuple[int, int] | None
    num_blocks: int | None
    swarm: SwarmSelection
    host: str = "127.0.0.1"
    port: int = 0
    announce_maddrs: tuple[str, ...] = ()
    device: str = "cpu"  # or cuda, or auto (see loading.choose_device_and_dtype)
    dtype: str = "float32"  # or bfloat16, float16, auto
    quantization: str = "none"  # or int8, nf4 (core/server/quantize.py)
    identity: Path | None = None


def serve(options: ServeOptions, settings: Settings) -> None:
    events.Starting(command="serve", pid=os.getpid()).emit()
    identity = Identity.from_file(options.identity) if options.identity else Identity.ephemeral()
    dht = start_dht(options.swarm, settings, identity, options.identity, host=options.host, port=options.port,
                    announce_maddrs=options.announce_maddrs)
    try:
        if settings["server.torch_threads"]:
            torch.set_num_threads(settings["server.torch_threads"])
        plan = plan_model(options.model, options.device, options.dtype, options.quantization)
        start, end = options.blocks or _choose_blocks(dht, plan, options, settings)
        announcer = _announcer(dht, plan, start, end, options, settings, identity)
        announcer.announce_blocking("joining")
        span = load_span(plan, start, end)
        announcer.record = _with_throughput(announcer.record, span, plan, settings)
        asyncio.run(_serve_async(dht, plan, span, announcer, options, settings))
    finally:
        dht.shutdown()


def _choose_blocks(dht: DHT, plan: ModelPlan, options: ServeOptions, settings: Settings) -> tuple[int, int]:
    from core.server.placement import choose_span, read_swarm
    from core.server.sizing import fitting_blocks

    length = options.num_blocks or fitting_blocks(plan, settings)
    spans = read_swarm(dht, options.swarm.namespace, plan.name, plan.num_blocks)
    start, end = choose_span(spans, plan.num_blocks, length)
    logger.info("Chose blocks %d:%d of %s (%d servers seen)", start, end, plan.name, len(spans))
    return start, end


def _announcer(dht: DHT, plan: ModelPlan, start: int, end: int, options: ServeOptions, settings: Settings,
               identity: Identity) -> Announcer:
    from hivemind.dht.crypto import RSASignatureValidator

    from core.server.announcer import Announcer
    from core.swarm.records import ServerRecord

    record = ServerRecord(
        peer_id=identity.peer_id.to_base58(), state="joining", model=plan.name, start=start, end=end,
        throughput=settings["server.throughput"], dtype=plan.dtype_name, quantization=plan.quantization,
        public_name=settings["server.public_name"], cache_tokens_free=settings["server.max_length"],
    )
    owner_key = RSASignatureValidator(identity.private_key).local_public_key
    return Announcer(dht, options.swarm.namespace, record, owner_key, settings["server.announce_period"],
                     settings["server.record_ttl"], num_blocks=plan.num_blocks,
                     dht_authorizer=options.swarm.dht_authorizer, architecture=plan.architecture)


def _with_throughput(record: ServerRecord, span: BlockSpan, plan: ModelPlan, settings: Settings) -> ServerRecord:
    """A fixed `server.throughput`, or the measured compute speed capped by the estimated network speed."""
    import dataclasses

    from core.server.block_cost import DTYPE_BYTES
    from core.server.throughput import Throughput, compute_throughput, network_throughput

    if settings["server.throughput"] > 0:
        return dataclasses.replace(record, throughput=settings["server.throughput"])
    measured = Throughput(compute_throughput(span, plan.name),
                          network_throughput(span.hidden_size, DTYPE_BYTES[plan.dtype_name],
                                             settings["server.network_mbps"]))
    logger.info("Throughput: compute %.1f, network %.1f tokens/s per block", measured.compute, measured.network)
    return dataclasses.replace(record, throughput=measured.effective, compute_throughput=measured.compute,
                               network_throughput=measured.network)


async def _serve_async(dht: DHT, plan: ModelPlan, span: BlockSpan, announcer: Announcer, options: ServeOptions,
                       settings: Settings) -> None:
    from core.server.handler import BlockServicer
    from core.server.moving import MovableSpan

    movable = MovableSpan(span)
    servicer = BlockServicer(movable, plan.name, _limits(settings), options.swarm.authorizer,
                             _admission(plan, span, options, settings))
    announcer.load = lambda: {"queue_depth": servicer.scheduler.queue_depth,
                              "cache_tokens_free": servicer.cache_tokens_free}
    p2p = await dht.replicate_p2p()
    await servicer.add_p2p_handlers(p2p)
    stop = asyncio.Event()
    reason = {"value": "stopped"}  # the signal that stopped the server, once one did
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, _on_signal, stop, reason, signum, servicer.admission)
    maddrs = visible_maddrs(dht)
    initial_peers = options.swarm.initial_peers or maddrs
    await announcer.announce("online")
    await announcer.wait_visible(initial_peers, settings["server.ready_check_timeout"])
    events.ServerReady(peer_id=announcer.record.peer_id, multiaddrs=maddrs, model=plan.name,
                       blocks=[span.start, span.end]).emit()
    logger.info("Serving blocks %d:%d of %s", span.start, span.end, plan.name)
    rebalancing = None
    if options.blocks is None and settings["server.rebalance_period"] > 0:
        rebalancing = asyncio.create_task(_rebalance(dht, plan, movable, announcer, servicer, options, settings,
                                                     initial_peers, stop))
    await announcer.run(stop)
    if rebalancing is not None:
        rebalancing.cancel()
    events.Stopping(reason=reason["value"]).emit()
    servicer.admission.draining.set()  # refuse new sessions before anything else
    try:
        # Same TTL as before: the DHT keeps whichever value of a subkey expires last.
        await asyncio.wait_for(announcer.announce("offline"), 5.0)
    except Exception:  # noqa: BLE001 - exiting anyway; the records expire on their own
        logger.warning("Could not announce this server offline; its records will expire")
    await servicer.admission.drain(settings["server.drain_timeout"], lambda: servicer.stats.open_sessions)
    servicer.shutdown()
    events.Stopped().emit()


def _limits(settings: Settings) -> ServerLimits:
    from core.server.handler import ServerLimits

    return ServerLimits(settings["server.max_length"], settings["server.max_batch_size"],
                        settings["server.max_request_tokens"], settings["server.step_timeout"],
                        settings["server.session_timeout"], settings["server.idle_session_timeout"],
                        settings["server.prefill_chunk_tokens"], settings["server.step_delay"])


def _admission(plan: ModelPlan, span: BlockSpan, options: ServeOptions, settings: Settings) -> Admission:
    """The cache budget: `server.cache_tokens` per block, or a share of the memory free after loading."""
    from core.server.admission import Admission
    from core.server.memory import CacheBudget, default_cache_tokens

    num_blocks = span.end - span.start
    tokens = settings["server.cache_tokens"]
    if tokens <= 0:
        device = plan.device
        tokens = default_cache_tokens(span.config, plan.dtype_name, num_blocks, device.type, device.index or 0,
                                      settings["server.vram_reserve_gb"], settings["server.ram_reserve_gb"])
    return Admission(CacheBudget(tokens * num_blocks), settings["server.max_alloc_timeout"])


async def _rebalance(dht: DHT, plan: ModelPlan, movable: MovableSpan, announcer: Announcer, servicer: BlockServicer,
                     options: ServeOptions,
                     settings: Settings, initial_peers: list[str], stop: asyncio.Event) -> None:
    from core.server.moving import Mover
    from core.server.placement import ServedSpan, read_swarm
    from core.server.rebalance import Rebalancer

    async def read_spans() -> list[ServedSpan]:
        return await asyncio.get_running_loop().run_in_executor(
            None, read_swarm, dht, options.swarm.namespace, plan.name, plan.num_blocks)

    def me() -> ServedSpan:
        record = announcer.record
        return ServedSpan(record.peer_id, record.start, record.end, record.throughput)

    mover = Mover(movable, announcer, lambda start, end: load_span(plan, start, end),
                  lambda: servicer.stats.open_sessions, settings["server.drain_timeout"], initial_peers,
                  settings["server.ready_check_timeout"])
    rebalancer = Rebalancer(read_spans, me, mover.move, plan.num_blocks, settings["server.rebalance_period"],
                            settings["server.rebalance_margin"])
    await rebalancer.run(stop)


def _on_signal(stop: asyncio.Event, reason: dict[str, str], signum: int, admission: Admission) -> None:
    """The first SIGTERM/SIGINT starts a drain; a second one cuts it short (open sessions move on at once)."""
    if stop.is_set():
        logger.info("%s again: ending the drain now", signal.Signals(signum).name)
        admission.cut_short()
        return
    reason["value"] = signal.Signals(signum).name
    stop.set()
