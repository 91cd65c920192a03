"""Inference sessions: a KV-cached stream through every server of a route, sending only new tokens.

Each step sends hidden states [batch, new tokens, hidden] through the chain; each server keeps the
keys and values of everything sent so far. Each span keeps the inputs it was sent, step by step, so
that when a server dies, errs or hangs, replacements for exactly its blocks can be rebuilt by replaying
that history with the original step boundaries: their caches are then bit-identical and generation
continues as if nothing happened.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import torch
from hivemind.proto import runtime_pb2

from core.client.bans import BanList
from core.client.failures import ServerBusyError, ServerLeavingError, classify
from core.client.route_cost import CostModel
from core.client.routing import RouteSpan, make_route, online_servers
from core.client.worker import run_sync
from core.errors import MissingBlocksError, RemoteCallError
from core.wire import FLOAT_DTYPES, WireError, decode_metadata, decode_tensor, request

logger = logging.getLogger(__name__)


class _SpanSession:
    """The stream to one server of the route, with the inputs it was sent (for replay)."""

    def __init__(self, client, span: RouteSpan, model: str, max_length: int, timeout: float, hang_factor: float):
        self.client = client
        self.span = span
        self.model = model
        self.max_length = max_length
        self.timeout = timeout
        self.hang_factor = hang_factor
        self.dtype = FLOAT_DTYPES.get(span.record.dtype, torch.float32)
        self._queue: asyncio.Queue[runtime_pb2.ExpertRequest | None] = asyncio.Queue()
        self._responses: AsyncIterator[runtime_pb2.ExpertResponse] | None = None
        self.position = 0
        self.history: list[torch.Tensor] = []
        self._decode_seconds: float | None = None  # recent time of a one-token step

    def step_timeout(self, tokens: int) -> float:
        """A one-token step that takes much longer than recent ones means the server hangs."""
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
            self._decode_seconds = elapsed if self._decode_seconds is None else 0.7 * self._decode_seconds + 0.3 * elapsed
        self.history.append(hidden)
        return output

    async def _exchange(self, hidden: torch.Tensor) -> torch.Tensor:
        timeout = self.step_timeout(hidden.shape[1])
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
            self._responses = await asyncio.wait_for(stub.rpc_inference(self._requests()), timeout)
        message = await asyncio.wait_for(anext(self._responses), timeout)
        try:
            output = decode_tensor(message.tensors[0], max_elements=hidden.numel())
            reported = decode_metadata(message.metadata).get("position")
        except (WireError, IndexError) as error:
            raise RemoteCallError(f"server {self.span.peer_id} sent a malformed answer: {error}") from None
        self.position += hidden.shape[1]
        if reported != self.position or output.shape != hidden.shape:
            raise RemoteCallError(f"server {self.span.peer_id} is out of step with this session")
        return output.to(hidden.dtype)

    async def close(self) -> None:
        await self._queue.put(None)
        if self._responses is not None:
            try:
                await asyncio.wait_for(self._drain(), 2.0)
            except Exception:  # noqa: BLE001 - the server may be gone; it frees the session on its own
                pass

    async def _drain(self) -> None:
        async for _ in self._responses:
            pass


class InferenceSession:
    """A session over a route; use as a context manager so the servers free their caches."""

    def __init__(self, client, route: list[RouteSpan], model: str, num_blocks: int, max_length: int, settings,
                 bans: BanList | None = None):
        self.client = client
        self.model = model
        self.num_blocks = num_blocks
        self.max_length = max_length
        self.timeout = settings["client.request_timeout"]
        self.max_retries = settings["client.max_retries"]
        self.hang_factor = settings["client.hang_factor"]
        self.busy_ban_seconds = settings["client.busy_ban_seconds"]
        self.bans = bans or BanList(settings["client.ban_seconds"])
        self._spans = [self._open(span) for span in route]
        self.position = 0
        self.token_ids: torch.Tensor | None = None  # [batch, position] when steps were fed token ids
        self.closed = False
        self.replacements = 0
        client.session_opened()

    def _open(self, span: RouteSpan) -> _SpanSession:
        return _SpanSession(self.client, span, self.model, self.max_length, self.timeout, self.hang_factor)

    def history_is_prefix_of(self, input_ids: torch.Tensor) -> bool:
        """Whether `input_ids` starts with every token id this session has been fed (true when none were)."""
        history = self.token_ids
        if history is None:
            return True
        return input_ids.shape[1] >= history.shape[1] and torch.equal(input_ids[:, : history.shape[1]], history)

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
        output = run_sync(self._step(hidden))
        self.position += hidden.shape[1]
        if token_ids is not None:
            self.token_ids = token_ids if self.token_ids is None else torch.cat([self.token_ids, token_ids], dim=1)
        return output

    async def _step(self, hidden: torch.Tensor) -> torch.Tensor:
        index = 0
        while index < len(self._spans):
            span = self._spans[index]
            try:
                hidden = await span.step(hidden)
                index += 1
            except RemoteCallError as error:
                level = logging.INFO if isinstance(error, (ServerBusyError, ServerLeavingError)) else logging.WARNING
                logger.log(level, "Replacing %s for blocks %d:%d: %s", span.span.peer_id, span.span.start,
                           span.span.end, error)
                self._avoid(span.span.peer_id, error)
                await self._replace(index)
        return hidden

    async def _replace(self, index: int) -> None:
        """Swap the span at `index` for servers of exactly its blocks, rebuilt by replaying its history."""
        failed = self._spans[index]
        asyncio.ensure_future(failed.close())
        last_error: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
            try:
                replacements = await self._replay_into_new_route(failed)
            except MissingBlocksError as error:
                last_error = error
                continue
            except RemoteCallError as error:
                last_error = error
                continue
            self._spans[index:index + 1] = replacements
            self.replacements += 1
            logger.info("Blocks %d:%d now on %s", failed.span.start, failed.span.end,
                        ", ".join(f"{s.span.peer_id}[{s.span.start}:{s.span.end}]" for s in replacements))
            return
        raise RemoteCallError(f"gave up on blocks {failed.span.start}:{failed.span.end} of {self.model} after "
                              f"{self.max_retries + 1} attempts: {last_error}") from None

    async def _replay_into_new_route(self, failed: _SpanSession) -> list[_SpanSession]:
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, lambda: self.client.servers(self.model, self.num_blocks, fresh=True))
        costs = CostModel.for_records(self.client.stats, list(online_servers(found).values()), self.max_length)
        route = make_route(found, self.model, self.num_blocks, failed.span.start, failed.span.end,
                           exclude=self.bans.banned(), costs=costs)
        replacements = [self._open(span) for span in route]
        for inputs in failed.history:  # the original step boundaries, so the rebuilt caches are identical
            for span in replacements:
                try:
                    inputs = await span.step(inputs)
                except RemoteCallError as error:
                    self._avoid(span.span.peer_id, error)
                    await asyncio.gather(*(s.close() for s in replacements))
                    raise
        return replacements

    def _avoid(self, peer_id: str, error: RemoteCallError) -> None:
        """A busy server is skipped briefly; a failed or leaving one is banned."""
        if isinstance(error, ServerBusyError):
            self.bans.ban_briefly(peer_id, self.busy_ban_seconds)
        else:
            self.bans.ban(peer_id)
            self.client.stats.observe_unreachable(peer_id)  # until it answers a ping again

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.client.session_closed()
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
