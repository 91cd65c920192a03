"""The server's RPCs over hivemind P2P. Steps run in this process, on one compute thread.

rpc_inference: a stream; the first message opens a session (model, span, max_length) and may carry the
first step; every message carries hidden states [batch, new tokens, hidden] and the position they start
at. rpc_forward: one stateless pass. rpc_info: what this server serves. Every request passes the RPC
authorizer first. Bad input raises a WireError whose message reaches the caller; the server goes on.

A session reserves its whole attention cache when it opens (see admission.py: a full server answers
"busy:", a stopping one "draining:"), and frees it when its stream ends or it stays idle too long.
Compute goes through a priority scheduler: decode steps first, then prefills, then stateless forwards.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator  # noqa: UP035 - hivemind finds streams by typing.AsyncIterator's _name

import torch
from hivemind.p2p import P2PContext, ServicerBase
from hivemind.proto import runtime_pb2

from core import PROTOCOL_VERSION, __version__
from core.server.admission import Admission
from core.server.blocks import BlockSpan
from core.server.scheduler import ComputeScheduler, Priority
from core.swarm.auth import AccessDenied, RpcAuthorizer
from core.wire import DRAINING, WireError, check_hidden_values, decode_metadata, decode_tensor, require, response

if TYPE_CHECKING:
    from core.server.moving import MovableSpan

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    max_length: int
    max_batch_size: int
    max_request_tokens: int
    step_timeout: float
    session_timeout: float
    idle_timeout: float = 300.0
    prefill_chunk_tokens: int = 2048
    step_delay: float = 0.0


@dataclass
class ServerStats:
    requests: int = 0
    tokens: int = 0
    open_sessions: int = 0


class _Session:
    def __init__(self, session_id: str, start: int, end: int, max_length: int, cache: Any):
        self.session_id = session_id
        self.start = start
        self.end = end
        self.max_length = max_length
        self.cache = cache
        self.position = 0
        self.batch_size: int | None = None
        self.reserved = 0  # block-tokens of the cache budget held by this session


class BlockServicer(ServicerBase):
    def __init__(self, span: BlockSpan | MovableSpan, model: str, limits: ServerLimits, authorizer: RpcAuthorizer,
                 admission: Admission):
        self.span = span
        self.model = model
        self.limits = limits
        self.authorizer = authorizer
        self.admission = admission
        self.stats = ServerStats()
        self.scheduler = ComputeScheduler()
        self._budget_blocks = max(1, span.end - span.start)  # blocks the cache budget was sized for

    @property
    def cache_tokens_free(self) -> int:
        """Free cache tokens per served block (what a session over the whole span may still take)."""
        self._follow_span_size()
        return self.admission.budget.free // max(1, self.span.end - self.span.start)

    def _follow_span_size(self) -> None:
        """server.cache_tokens is per block: after a move to a span of another size, rescale the budget."""
        blocks = max(1, self.span.end - self.span.start)
        if blocks != self._budget_blocks:
            budget = self.admission.budget
            logger.info("Cache budget: %d -> %d block-tokens for %d blocks", budget.total,
                        budget.total // self._budget_blocks * blocks, blocks)
            budget.resize(budget.total // self._budget_blocks * blocks)
            self._budget_blocks = blocks

    async def rpc_info(self, request: runtime_pb2.ExpertRequest, context: P2PContext) -> runtime_pb2.ExpertResponse:
        self._authorized_metadata(request, context)
        return response([], {
            "version": __version__, "protocol": list(PROTOCOL_VERSION), "model": self.model,
            "start": self.span.start, "end": self.span.end, "dtype": str(self.span.dtype).removeprefix("torch."),
            "quantization": self.span.quantization, "device": str(self.span.device),
            "hidden_size": self.span.hidden_size, "max_length": self.limits.max_length,
            "open_sessions": self.stats.open_sessions, "cache_tokens_free": self.cache_tokens_free,
            "queue_depth": self.scheduler.queue_depth, "draining": self.admission.draining.is_set(),
            "requests_served": self.stats.requests, "tokens_served": self.stats.tokens,
        })

    async def rpc_forward(self, request: runtime_pb2.ExpertRequest, context: P2PContext) -> runtime_pb2.ExpertResponse:
        metadata = self._authorized_metadata(request, context)
        start, end = self._check_span(metadata)
        hidden = self._decode_hidden(request, batch_size=None, length_limit=self.limits.max_length, what="a request")
        output = await self.scheduler.run(Priority.FORWARD, self.span.forward, hidden, start, end)
        self._count(hidden)
        return response([self._checked_output(output, start, end)])

    async def rpc_inference(
        self, requests: AsyncIterator[runtime_pb2.ExpertRequest], context: P2PContext
    ) -> AsyncIterator[runtime_pb2.ExpertResponse]:
        first = await self._next(requests, opening=True)
        if first is None:
            return
        metadata = self._authorized_metadata(first, context)
        session = self._open_session(metadata)
        session.reserved = session.max_length * (session.end - session.start)  # batch 1; grown on the first step
        self._follow_span_size()
        await self.admission.admit(session.reserved, _alloc_timeout(metadata))
        self.stats.open_sessions += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.session_timeout
        try:
            # No reference to a request or its hidden states outlives its step: requests waiting for compute, and
            # idle sessions, must not pin hidden states (an opening often carries the whole prompt) outside the
            # cache budget. Hence the explicit `= None`s: locals of a suspended generator stay alive.
            message: runtime_pb2.ExpertRequest | None = first
            first = None
            is_first = True
            while message is not None:
                if loop.time() > deadline:
                    raise WireError(f"session {session.session_id} exceeded {self.limits.session_timeout:.0f} s")
                hidden = self._read_step(session, message, is_first)
                message, is_first = None, False
                answer = await self._run_step(session, hidden)
                hidden = None
                yield answer
                answer = None
                message = await self._next(requests)
        finally:
            self.stats.open_sessions -= 1
            self.admission.budget.release(session.reserved)
            session.cache = None

    def _read_step(self, session: _Session, message: runtime_pb2.ExpertRequest, is_first: bool) -> torch.Tensor | None:
        """The step's hidden states, checked against the session; None for an opening without a step."""
        metadata = decode_metadata(message.metadata)
        if not message.tensors:
            if is_first:
                return None
            raise WireError("a step carries no hidden states")
        claimed_session = metadata.get("session_id")
        if not is_first and claimed_session is not None and claimed_session != session.session_id:
            raise WireError(f"unknown session {str(claimed_session)[:64]!r}: this stream serves {session.session_id}")
        position = require(metadata, "position", int)
        if position != session.position:
            raise WireError(f"step starts at position {position}, but the session holds {session.position} tokens")
        return self._decode_hidden(message, session.batch_size, session.max_length - session.position,
                                   what="the session's remaining length")

    async def _run_step(self, session: _Session, hidden: torch.Tensor | None) -> runtime_pb2.ExpertResponse:
        if hidden is None:
            return response([], {"position": session.position})
        if session.batch_size is None and hidden.shape[0] > 1:
            extra = session.reserved * (hidden.shape[0] - 1)
            self.admission.try_grow(extra)
            session.reserved += extra
        session.batch_size = hidden.shape[0]
        if self.limits.step_delay > 0:
            await asyncio.sleep(self.limits.step_delay)
        output = await self._compute_step(session, hidden, session.position)
        session.position += hidden.shape[1]
        self._count(hidden)
        return response([self._checked_output(output, session.start, session.end)], {"position": session.position})

    def _open_session(self, metadata: dict[str, Any]) -> _Session:
        start, end = self._check_span(metadata)
        max_length = require(metadata, "max_length", int)
        if not 0 < max_length <= self.limits.max_length:
            raise WireError(f"max_length must be between 1 and {self.limits.max_length}, got {max_length}")
        session_id = metadata.get("session_id", uuid.uuid4().hex)
        if not isinstance(session_id, str) or not 0 < len(session_id) <= 64:
            raise WireError("session_id must be a non-empty string of at most 64 characters")
        return _Session(session_id, start, end, max_length, self.span.new_cache(max_length))

    def _authorized_metadata(self, message: runtime_pb2.ExpertRequest, context: P2PContext) -> dict[str, Any]:
        metadata = decode_metadata(message.metadata)
        proof = metadata.get("auth")
        try:
            self.authorizer.check(proof if isinstance(proof, bytes) else None, context.remote_id, context.local_id)
        except AccessDenied as error:
            raise WireError(f"access denied: {error}") from None
        return metadata

    def _check_span(self, metadata: dict[str, Any]) -> tuple[int, int]:
        model = require(metadata, "model", str)
        if model != self.model:
            raise WireError(f"this server serves {self.model}, not {model}")
        start, end = require(metadata, "start", int), require(metadata, "end", int)
        if not self.span.start <= start < end <= self.span.end:
            raise WireError(f"blocks {start}:{end} are not within this server's {self.span.start}:{self.span.end}")
        return start, end

    def _decode_hidden(self, message: runtime_pb2.ExpertRequest, batch_size: int | None, length_limit: int,
                       what: str) -> torch.Tensor:
        if len(message.tensors) != 1:
            raise WireError(f"expected 1 tensor (hidden states), got {len(message.tensors)}")
        limits = self.limits
        hidden = decode_tensor(message.tensors[0], max_elements=limits.max_request_tokens * self.span.hidden_size)
        if hidden.dim() != 3 or hidden.shape[2] != self.span.hidden_size:
            raise WireError(f"hidden states must be [batch, tokens, {self.span.hidden_size}], got {list(hidden.shape)}")
        if hidden.shape[0] < 1 or hidden.shape[1] < 1:
            raise WireError("hidden states are empty")
        if hidden.shape[0] > limits.max_batch_size:
            raise WireError(f"batch of {hidden.shape[0]} exceeds the limit of {limits.max_batch_size}")
        if batch_size is not None and hidden.shape[0] != batch_size:
            raise WireError(f"the session's batch size is {batch_size}, got {hidden.shape[0]}")
        if hidden.shape[1] > length_limit:
            raise WireError(f"{hidden.shape[1]} tokens exceed {what} ({length_limit} tokens)")
        check_hidden_values(hidden, "hidden states")  # any served float dtype: the span converts it to its own
        return hidden

    def _checked_output(self, output: torch.Tensor, start: int, end: int) -> torch.Tensor:
        """The span's output, unless it overflowed (float16 can): then an error the client routes around."""
        try:
            check_hidden_values(output, f"the output of blocks {start}:{end} in {self.span.dtype}")
        except WireError as error:
            raise WireError(f"{error}; another server (or a wider dtype) may compute them") from None
        return output

    async def _compute_step(self, session: _Session, hidden: torch.Tensor, position: int) -> torch.Tensor:
        """One step through the session's blocks; a prefill longer than the chunk size goes in chunks.

        Chunks are separate scheduled tasks, so other sessions' decode steps run between them. A chunked
        prefill attends in pieces and its float rounding differs from a one-shot one, which would break the
        guarantee that the swarm's greedy output equals local transformers' given the same step boundaries;
        so prefills up to the chunk size (2048 by default, more than any normal prompt) are never chunked.
        """
        length, chunk = hidden.shape[1], self.limits.prefill_chunk_tokens
        priority = Priority.DECODE if length == 1 else Priority.PREFILL
        forward, start, end, cache = self.span.forward, session.start, session.end, session.cache
        if length <= chunk:
            whole: torch.Tensor = await self.scheduler.run(priority, forward, hidden, start, end, cache, position)
            return whole
        outputs = []
        for offset in range(0, length, chunk):
            piece = hidden[:, offset:offset + chunk]
            outputs.append(await self.scheduler.run(priority, forward, piece, start, end, cache, position + offset))
        return torch.cat(outputs, dim=1)

    async def _next(self, requests: AsyncIterator[runtime_pb2.ExpertRequest],
                    opening: bool = False) -> runtime_pb2.ExpertRequest | None:
        """The stream's next message, or None at its end.

        Once a stopping server's drain time is up, an open session gets a "draining:" error instead: with
        hivemind's streams a caller notices a silently closed stream only after its next send, while an error
        reaches it at once, so it moves on to another server right away. Openings are always read (and refused).
        """
        timeout = min(self.limits.step_timeout, self.limits.idle_timeout)
        receiving = asyncio.ensure_future(anext(requests))
        closing = None if opening else asyncio.ensure_future(self.admission.closing.wait())
        watched = {receiving} if closing is None else {receiving, closing}
        try:
            done, _ = await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if closing is not None:
                closing.cancel()
            if not receiving.done():
                receiving.cancel()
        if receiving in done:
            try:
                return receiving.result()
            except StopAsyncIteration:
                return None
        if closing in done:
            raise WireError(f"{DRAINING} this server is shutting down; continue the session on another server")
        raise WireError(f"no step within {timeout:.0f} s; closing the session and freeing its cache")

    def _count(self, hidden: torch.Tensor) -> None:
        self.stats.requests += 1
        self.stats.tokens += hidden.shape[0] * hidden.shape[1]

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=True)


def _alloc_timeout(metadata: dict[str, Any]) -> float:
    """Seconds the client lets a new session wait for cache room (metadata `alloc_timeout`, default 0)."""
    value = metadata.get("alloc_timeout", 0.0)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        raise WireError("metadata 'alloc_timeout' must be a number of seconds")
    return float(value)
