"""The stream of an inference session to one server of its route, and the inputs sent through it.

Only new tokens travel: the server keeps the keys and values of everything sent so far. The inputs are
kept step by step, so that a replacement server can be rebuilt by replaying them with the original step
boundaries (see inference.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import torch
from hivemind.proto import runtime_pb2

from core import MIXED_PRECISION_MINOR
from core.client.failures import classify
from core.client.routing import RouteSpan
from core.dtypes import FLOAT_DTYPES
from core.errors import RemoteCallError
from core.wire import WireError, check_hidden_values, decode_metadata, decode_tensor, request

if TYPE_CHECKING:  # the client imports this module
    from core.client.swarm_client import SwarmClient


class SpanSession:
    """The stream to one server of the route, with the inputs it was sent (for replay)."""

    def __init__(self, client: SwarmClient, span: RouteSpan, model: str, max_length: int, timeout: float,
                 hang_factor: float, alloc_timeout: float = 0.0):
        self.client = client
        self.span = span
        self.model = model
        self.max_length = max_length
        self.timeout = timeout
        self.hang_factor = hang_factor
        self.alloc_timeout = alloc_timeout  # seconds the server may keep the opening waiting for cache room
        # Servers of protocol 1.2 on take hidden states in any float dtype (the wire carries the sender's, the
        # server converts); older ones only in their own, so those still get them cast here.
        self.cast_to = None if span.record.protocol[1] >= MIXED_PRECISION_MINOR else \
            FLOAT_DTYPES.get(span.record.dtype, torch.float32)
        self._queue: asyncio.Queue[runtime_pb2.ExpertRequest | None] = asyncio.Queue()
        self._responses: AsyncIterator[runtime_pb2.ExpertResponse] | None = None
        self.position = 0
        self.history: list[torch.Tensor] = []
        self._decode_seconds: float | None = None  # recent time of a one-token step

    def step_timeout(self, tokens: int) -> float:
        """A one-token step that takes much longer than recent ones means the server hangs; the opening step
        may also wait for cache room."""
        if self._responses is None:
            return self.timeout + self.alloc_timeout
        if tokens != 1 or self._decode_seconds is None:
            return self.timeout
        return min(self.timeout, max(1.0, self.hang_factor * self._decode_seconds))

    async def _requests(self) -> AsyncIterator[runtime_pb2.ExpertRequest]:
        while (item := await self._queue.get()) is not None:
            yield item

    async def step(self, hidden: torch.Tensor) -> torch.Tensor:
        started = time.monotonic()
        try:
            output = await self._exchange(hidden)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - dial failures, resets, timeouts: all mean "this server failed"
            raise classify(self.span.peer_id, error) from None
        if hidden.shape[1] == 1:
            elapsed = time.monotonic() - started
            self.client.stats.observe_step(self.span.peer_id, self.span.end - self.span.start, elapsed)
            previous = self._decode_seconds
            self._decode_seconds = elapsed if previous is None else 0.7 * previous + 0.3 * elapsed
        self.history.append(hidden)
        return output

    async def _exchange(self, hidden: torch.Tensor) -> torch.Tensor:
        timeout = self.step_timeout(hidden.shape[1])
        metadata: dict[str, Any] = {"position": self.position}
        if self._responses is None:
            metadata.update(model=self.model, start=self.span.start, end=self.span.end, max_length=self.max_length,
                            session_id=uuid.uuid4().hex)
            if self.alloc_timeout > 0:
                metadata["alloc_timeout"] = self.alloc_timeout
            proof = await self.client.auth_proof(self.span.peer_id)
            if proof is not None:
                metadata["auth"] = proof
        # Queue the message before opening: p2pd completes a stream's opening only once data flows.
        await self._queue.put(request([hidden if self.cast_to is None else hidden.to(self.cast_to)], metadata))
        if self._responses is None:
            stub = await self.client.stub(self.span.peer_id)
            opened: AsyncIterator[Any] = await asyncio.wait_for(stub.rpc_inference(self._requests()), timeout)
            self._responses = opened
        message = await asyncio.wait_for(anext(self._responses), timeout)
        try:
            output = decode_tensor(message.tensors[0], max_elements=hidden.numel())
            reported = decode_metadata(message.metadata).get("position")
            check_hidden_values(output, "its hidden states")
        except (WireError, IndexError) as error:
            raise RemoteCallError(f"server {self.span.peer_id} sent a malformed answer: {error}") from None
        self.position += hidden.shape[1]
        if reported != self.position or output.shape != hidden.shape:
            raise RemoteCallError(f"server {self.span.peer_id} is out of step with this session")
        return output  # in the server's dtype: the next server takes it as it is

    async def close(self) -> None:
        await self._queue.put(None)
        if self._responses is not None:
            with contextlib.suppress(Exception):  # the server may be gone; it frees the session on its own
                await asyncio.wait_for(self._drain(self._responses), 2.0)

    @staticmethod
    async def _drain(responses: AsyncIterator[Any]) -> None:
        async for _ in responses:
            pass
