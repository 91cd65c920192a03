"""The server's RPCs over hivemind P2P. Steps run in this process, on one compute thread.

rpc_inference: a stream; the first message opens a session (model, span, max_length) and may carry the
first step; every message carries hidden states [batch, new tokens, hidden] and the position they start
at. rpc_forward: one stateless pass. rpc_info: what this server serves. Every request passes the RPC
authorizer first. Bad input raises a WireError whose message reaches the caller; the server goes on.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from typing import AsyncIterator  # hivemind recognises streams by typing.AsyncIterator hints
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch
from hivemind.p2p import P2PContext, ServicerBase
from hivemind.proto import runtime_pb2

from core import PROTOCOL_VERSION, __version__
from core.server.blocks import BlockSpan
from core.swarm.auth import AccessDenied, RpcAuthorizer
from core.wire import WireError, decode_metadata, decode_tensor, require, response

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    max_length: int
    max_batch_size: int
    max_request_tokens: int
    step_timeout: float
    session_timeout: float


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


class BlockServicer(ServicerBase):
    def __init__(self, span: BlockSpan, model: str, limits: ServerLimits, authorizer: RpcAuthorizer):
        self.span = span
        self.model = model
        self.limits = limits
        self.authorizer = authorizer
        self.stats = ServerStats()
        self._compute = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meadow-compute")

    async def rpc_info(self, request: runtime_pb2.ExpertRequest, context: P2PContext) -> runtime_pb2.ExpertResponse:
        self._authorized_metadata(request, context)
        return response([], {
            "version": __version__, "protocol": list(PROTOCOL_VERSION), "model": self.model,
            "start": self.span.start, "end": self.span.end, "dtype": str(self.span.dtype).removeprefix("torch."),
            "hidden_size": self.span.hidden_size, "max_length": self.limits.max_length,
            "open_sessions": self.stats.open_sessions,
        })

    async def rpc_forward(self, request: runtime_pb2.ExpertRequest, context: P2PContext) -> runtime_pb2.ExpertResponse:
        metadata = self._authorized_metadata(request, context)
        start, end = self._check_span(metadata)
        hidden = self._decode_hidden(request, batch_size=None, length_limit=self.limits.max_length, what="a request")
        output = await self._run(self.span.forward, hidden, start, end)
        self._count(hidden)
        return response([output])

    async def rpc_inference(
        self, requests: AsyncIterator[runtime_pb2.ExpertRequest], context: P2PContext
    ) -> AsyncIterator[runtime_pb2.ExpertResponse]:
        first = await self._next(requests)
        if first is None:
            return
        session = self._open_session(self._authorized_metadata(first, context))
        self.stats.open_sessions += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.session_timeout
        try:
            message: runtime_pb2.ExpertRequest | None = first
            while message is not None:
                if loop.time() > deadline:
                    raise WireError(f"session {session.session_id} exceeded {self.limits.session_timeout:.0f} s")
                yield await self._step(session, message, is_first=message is first)
                message = await self._next(requests)
        finally:
            self.stats.open_sessions -= 1
            session.cache = None

    async def _step(self, session: _Session, message: runtime_pb2.ExpertRequest, is_first: bool) -> runtime_pb2.ExpertResponse:
        metadata = decode_metadata(message.metadata)
        if not message.tensors:
            if is_first:
                return response([], {"position": session.position})
            raise WireError("a step carries no hidden states")
        claimed_session = metadata.get("session_id")
        if not is_first and claimed_session is not None and claimed_session != session.session_id:
            raise WireError(f"unknown session {str(claimed_session)[:64]!r}: this stream serves {session.session_id}")
        position = require(metadata, "position", int)
        if position != session.position:
            raise WireError(f"step starts at position {position}, but the session holds {session.position} tokens")
        hidden = self._decode_hidden(message, session.batch_size, session.max_length - session.position,
                                     what="the session's remaining length")
        session.batch_size = hidden.shape[0]
        output = await self._run(self.span.forward, hidden, session.start, session.end, session.cache, position)
        session.position += hidden.shape[1]
        self._count(hidden)
        return response([output], {"position": session.position})

    def _open_session(self, metadata: dict[str, Any]) -> _Session:
        start, end = self._check_span(metadata)
        max_length = require(metadata, "max_length", int)
        if not 0 < max_length <= self.limits.max_length:
            raise WireError(f"max_length must be between 1 and {self.limits.max_length}, got {max_length}")
        session_id = metadata.get("session_id", uuid.uuid4().hex)
        if not isinstance(session_id, str) or not 0 < len(session_id) <= 64:
            raise WireError("session_id must be a non-empty string of at most 64 characters")
        return _Session(session_id, start, end, max_length, self.span.new_cache())

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
        if hidden.dtype != self.span.dtype:
            raise WireError(f"hidden states must be {self.span.dtype}, got {hidden.dtype}")
        if hidden.shape[0] < 1 or hidden.shape[1] < 1:
            raise WireError("hidden states are empty")
        if hidden.shape[0] > limits.max_batch_size:
            raise WireError(f"batch of {hidden.shape[0]} exceeds the limit of {limits.max_batch_size}")
        if batch_size is not None and hidden.shape[0] != batch_size:
            raise WireError(f"the session's batch size is {batch_size}, got {hidden.shape[0]}")
        if hidden.shape[1] > length_limit:
            raise WireError(f"{hidden.shape[1]} tokens exceed {what} ({length_limit} tokens)")
        if not torch.isfinite(hidden).all():
            raise WireError("hidden states contain NaN or infinity")
        return hidden

    async def _next(self, requests: AsyncIterator[runtime_pb2.ExpertRequest]) -> runtime_pb2.ExpertRequest | None:
        try:
            return await asyncio.wait_for(anext(requests), self.limits.step_timeout)
        except StopAsyncIteration:
            return None
        except asyncio.TimeoutError:
            raise WireError(f"no step within {self.limits.step_timeout:.0f} s; closing the session") from None

    async def _run(self, function: Any, *args: Any) -> torch.Tensor:
        return await asyncio.get_running_loop().run_in_executor(self._compute, function, *args)

    def _count(self, hidden: torch.Tensor) -> None:
        self.stats.requests += 1
        self.stats.tokens += hidden.shape[0] * hidden.shape[1]

    def shutdown(self) -> None:
        self._compute.shutdown(wait=True, cancel_futures=True)
