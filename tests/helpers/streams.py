"""Raw rpc_inference streams to one server through a real client peer's stub, one step at a time."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import torch
from hivemind.proto import runtime_pb2

from core.client.swarm_client import SwarmClient
from core.wire import decode_metadata, request


def hidden_states(tokens: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randn(1, tokens, size, generator=torch.Generator().manual_seed(seed))


class RawSession:
    """One inference stream: `open` sends the first step, `step` the next ones, `close` ends the stream."""

    def __init__(self, client: SwarmClient, peer: str, model: str, span: tuple[int, int], max_length: int,
                 timeout: float = 30.0):
        self.client = client
        self.peer = peer
        self.opening = {"model": model, "start": span[0], "end": span[1], "max_length": max_length,
                        "session_id": uuid.uuid4().hex}
        self.timeout = timeout
        self.position = 0
        self._queue: asyncio.Queue = asyncio.Queue()
        self._responses: AsyncIterator[Any] | None = None

    async def _requests(self):
        while (item := await self._queue.get()) is not None:
            yield item

    async def open(self, hidden: torch.Tensor, **metadata: object) -> runtime_pb2.ExpertResponse:
        stub = await self.client.stub(self.peer)
        # Queued before opening: p2pd completes the opening only once data flows.
        await self._queue.put(request([hidden], {**self.opening, **metadata, "position": 0}))
        self._responses = await asyncio.wait_for(stub.rpc_inference(self._requests()), self.timeout)
        return await self._answer()

    async def step(self, hidden: torch.Tensor) -> runtime_pb2.ExpertResponse:
        await self._queue.put(request([hidden], {"position": self.position}))
        return await self._answer()

    async def _answer(self) -> runtime_pb2.ExpertResponse:
        answer = await asyncio.wait_for(anext(self._responses), self.timeout)
        self.position = decode_metadata(answer.metadata)["position"]
        return answer

    async def close(self) -> None:
        """End the stream and wait for the server to end it too."""
        await self._queue.put(None)
        if self._responses is not None:
            async for extra in self._responses:
                raise AssertionError(f"unexpected answer after the last step: {extra}")
