"""Inference sessions: a KV-cached stream through every server of a route, sending only new tokens.

Each step sends hidden states [batch, new tokens, hidden] through the chain; each server keeps the
keys and values of everything sent so far. The client keeps the token ids it sent (for multi-call
generation) and each span's input history (so a later issue can replay it into a replacement server).
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import torch
from hivemind.p2p import P2PHandlerError
from hivemind.proto import runtime_pb2

from core.client.routing import RouteSpan
from core.client.worker import run_sync
from core.errors import RemoteCallError
from core.wire import FLOAT_DTYPES, WireError, decode_metadata, decode_tensor, request

logger = logging.getLogger(__name__)


class _SpanSession:
    """The stream to one server of the route."""

    def __init__(self, client, span: RouteSpan, model: str, max_length: int, timeout: float):
        self.client = client
        self.span = span
        self.model = model
        self.max_length = max_length
        self.timeout = timeout
        self.dtype = FLOAT_DTYPES.get(span.record.dtype, torch.float32)
        self._queue: asyncio.Queue[runtime_pb2.ExpertRequest | None] = asyncio.Queue()
        self._responses: AsyncIterator[runtime_pb2.ExpertResponse] | None = None
        self.position = 0

    async def _requests(self) -> AsyncIterator[runtime_pb2.ExpertRequest]:
        while (item := await self._queue.get()) is not None:
            yield item

    async def step(self, hidden: torch.Tensor) -> torch.Tensor:
        metadata: dict = {"position": self.position}
        if self._responses is None:
            metadata.update(model=self.model, start=self.span.start, end=self.span.end, max_length=self.max_length,
                            session_id=uuid.uuid4().hex)
            proof = await self.client.auth_proof(self.span.peer_id)
            if proof is not None:
                metadata["auth"] = proof
        # Queue the message before opening: p2pd completes a stream's opening only once data flows.
        await self._queue.put(request([hidden.to(self.dtype)], metadata))
        if self._responses is None:
            stub = await self.client.stub(self.span.peer_id)
            self._responses = await asyncio.wait_for(stub.rpc_inference(self._requests()), self.timeout)
        try:
            message = await asyncio.wait_for(anext(self._responses), self.timeout)
        except P2PHandlerError as error:
            raise RemoteCallError(f"server {self.span.peer_id} (blocks {self.span.start}:{self.span.end}): {error}") from None
        except (StopAsyncIteration, asyncio.TimeoutError, ConnectionError, OSError) as error:
            raise RemoteCallError(f"server {self.span.peer_id} did not answer a step ({type(error).__name__})") from None
        try:
            output = decode_tensor(message.tensors[0], max_elements=hidden.numel())
            reported = decode_metadata(message.metadata).get("position")
        except (WireError, IndexError) as error:
            raise RemoteCallError(f"server {self.span.peer_id} sent a malformed answer: {error}") from None
        self.position += hidden.shape[1]
        if reported != self.position or output.shape != hidden.shape:
            raise RemoteCallError(f"server {self.span.peer_id} is out of step with this session")
        return output

    async def close(self) -> None:
        await self._queue.put(None)
        if self._responses is not None:
            try:
                await asyncio.wait_for(self._drain(), 2.0)
            except (asyncio.TimeoutError, P2PHandlerError, ConnectionError, OSError):
                pass

    async def _drain(self) -> None:
        async for _ in self._responses:
            pass


class InferenceSession:
    """A session over a route; use as a context manager so the servers free their caches."""

    def __init__(self, client, route: list[RouteSpan], model: str, max_length: int, timeout: float):
        self.model = model
        self.max_length = max_length
        self.timeout = timeout
        self._spans = [_SpanSession(client, span, model, max_length, timeout) for span in route]
        self.position = 0
        self.token_ids: torch.Tensor | None = None  # [batch, position] when steps were fed token ids
        self.closed = False

    @property
    def route(self) -> list[RouteSpan]:
        return [span.span for span in self._spans]

    def step(self, hidden: torch.Tensor, token_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Send the hidden states of the next tokens through every server; returns the last block's output."""
        if self.closed:
            raise RuntimeError("this inference session is closed")
        if self.position + hidden.shape[1] > self.max_length:
            raise ValueError(f"the session holds at most {self.max_length} tokens; "
                             f"{self.position} + {hidden.shape[1]} would exceed it (open it with a larger max_length)")
        output = run_sync(self._step(hidden), timeout=self.timeout * (len(self._spans) + 1))
        self.position += hidden.shape[1]
        if token_ids is not None:
            self.token_ids = token_ids if self.token_ids is None else torch.cat([self.token_ids, token_ids], dim=1)
        return output.to(hidden.dtype)

    async def _step(self, hidden: torch.Tensor) -> torch.Tensor:
        for span in self._spans:
            hidden = await span.step(hidden)
        return hidden

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                run_sync(self._close_spans(), timeout=5.0)
            except Exception:  # noqa: BLE001 - servers time out idle sessions anyway
                logger.debug("Closing an inference session failed", exc_info=True)

    async def _close_spans(self) -> None:
        await asyncio.gather(*(span.close() for span in self._spans))

    def __enter__(self) -> InferenceSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
