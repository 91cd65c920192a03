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
from typing import TYPE_CHECKING

import torch

from core.client.bans import BanList
from core.client.failures import ServerBusyError, ServerLeavingError
from core.client.route_cost import CostModel
from core.client.routing import RouteSpan, make_route, online_servers
from core.client.span_session import SpanSession
from core.client.worker import run_sync
from core.errors import MissingBlocksError, RemoteCallError

if TYPE_CHECKING:  # the client imports this module
    from core.client.swarm_client import SwarmClient
    from core.config import Settings

logger = logging.getLogger(__name__)


class InferenceSession:
    """A session over a route; use as a context manager so the servers free their caches."""

    def __init__(self, client: SwarmClient, route: list[RouteSpan], model: str, num_blocks: int, max_length: int,
                 settings: Settings, bans: BanList | None = None):
        self.client = client
        self.model = model
        self.num_blocks = num_blocks
        self.max_length = max_length
        self.timeout = settings["client.request_timeout"]
        self.max_retries = settings["client.max_retries"]
        self.hang_factor = settings["client.hang_factor"]
        self.alloc_timeout = settings["client.alloc_timeout"]
        self.busy_ban_seconds = settings["client.busy_ban_seconds"]
        self.bans = bans or BanList(settings["client.ban_seconds"])
        self._spans = [self._open(span) for span in route]
        self.position = 0
        self.token_ids: torch.Tensor | None = None  # [batch, position] when steps were fed token ids
        self.closed = False
        self.replacements = 0
        self._closing: set[asyncio.Future[None]] = set()  # the event loop holds tasks only weakly
        client.session_opened()

    def _open(self, span: RouteSpan) -> SpanSession:
        return SpanSession(self.client, span, self.model, self.max_length, self.timeout, self.hang_factor,
                           self.alloc_timeout)

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
        """Send the hidden states of the next tokens through every server; returns the last block's output, in
        the dtype of `hidden` (each server computes in its own; hidden states travel in their sender's dtype)."""
        if self.closed:
            raise RuntimeError("this inference session is closed")
        if self.position + hidden.shape[1] > self.max_length:
            raise ValueError(f"the session holds at most {self.max_length} tokens; "
                             f"{self.position} + {hidden.shape[1]} would exceed it (open it with a larger max_length)")
        output = run_sync(self._step(hidden)).to(hidden.dtype)
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
        closing = asyncio.ensure_future(failed.close())
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
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

    async def _replay_into_new_route(self, failed: SpanSession) -> list[SpanSession]:
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, lambda: self.client.servers(self.model, self.num_blocks, fresh=True))
        costs = CostModel.for_records(self.client.stats, list(online_servers(found).values()), self.max_length,
                                      self.client.settings["client.prefer_full_precision"])
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
            except Exception:  # servers time out idle sessions anyway
                logger.debug("Closing an inference session failed", exc_info=True)

    async def _close_spans(self) -> None:
        await asyncio.gather(*(span.close() for span in self._spans))

    def __enter__(self) -> InferenceSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
