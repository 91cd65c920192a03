"""Open swarm inference sessions kept between API requests, so a conversation's next turn is cheap.

A request whose prompt extends the token history of an open session continues that session: only the
new tokens travel to the servers, whose KV caches already hold the rest. Sessions are bounded in number
(least recently used closed first) and closed after an idle timeout.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from core.client.inference import InferenceSession

logger = logging.getLogger(__name__)


@dataclass
class _Entry:
    model: str
    session: InferenceSession
    last_used: float
    busy: bool = True


class Conversations:
    def __init__(self, max_open: int, idle_timeout: float, session_tokens: int,
                 clock: Callable[[], float] = time.monotonic):
        self.max_open = max_open
        self.idle_timeout = idle_timeout
        self.session_tokens = session_tokens
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []

    def configure(self, max_open: int, idle_timeout: float, session_tokens: int) -> None:
        """New limits (settings node.max_sessions, node.session_idle_timeout, node.session_tokens): they hold from
        the next request on, when sessions over the limit or idle too long are closed."""
        with self._lock:
            self.max_open, self.idle_timeout, self.session_tokens = max_open, idle_timeout, session_tokens

    @property
    def open_count(self) -> int:
        with self._lock:
            return len(self._entries)

    def checkout(self, model: str, prompt_ids: torch.Tensor, max_new_tokens: int, context_length: int,
                 open_session: Callable[[int], InferenceSession]) -> InferenceSession:
        """A session for this request: an open one whose history is a prefix of the prompt, else a new one."""
        needed = prompt_ids.shape[1] + max_new_tokens
        with self._lock:
            stale = self._take_expired()
            entry = self._best_match(model, prompt_ids, needed)
            if entry is not None:
                entry.busy, entry.last_used = True, self._clock()
        self._close_all(stale)
        if entry is not None:
            logger.debug("Continuing a session at position %d", entry.session.position)
            return entry.session
        session = open_session(min(context_length, max(self.session_tokens, needed)))
        with self._lock:
            self._entries.append(_Entry(model, session, self._clock()))
            evicted = self._take_over_limit()
        self._close_all(evicted)
        return session

    def checkin(self, session: InferenceSession, reusable: bool) -> None:
        """The request is done with `session`; keep it for the next turn unless it failed."""
        with self._lock:
            entry = next((item for item in self._entries if item.session is session), None)
            kept = entry is not None and reusable and self.max_open > 0
            if entry is not None and kept:
                entry.busy, entry.last_used = False, self._clock()
            elif entry is not None:
                self._entries.remove(entry)
        if not kept:
            self._close_all([session])

    def close_idle_on(self, peer_id: str) -> None:
        """Close the idle sessions routed through `peer_id` (a server about to stop: let it drain at once)."""
        with self._lock:
            leaving = [entry for entry in self._entries
                       if not entry.busy and any(span.peer_id == peer_id for span in entry.session.route)]
            for entry in leaving:
                self._entries.remove(entry)
        self._close_all([entry.session for entry in leaving])

    def close_all(self) -> None:
        with self._lock:
            sessions = [entry.session for entry in self._entries]
            self._entries.clear()
        self._close_all(sessions)

    def _best_match(self, model: str, prompt_ids: torch.Tensor, needed: int) -> _Entry | None:
        matches = [entry for entry in self._entries
                   if not entry.busy and entry.model == model and needed <= entry.session.max_length
                   and 0 < entry.session.position < prompt_ids.shape[1]
                   and entry.session.history_is_prefix_of(prompt_ids)]
        return max(matches, key=lambda entry: entry.session.position, default=None)

    def _take_expired(self) -> list[InferenceSession]:
        now = self._clock()
        expired = [entry for entry in self._entries if not entry.busy and now - entry.last_used > self.idle_timeout]
        for entry in expired:
            self._entries.remove(entry)
        return [entry.session for entry in expired]

    def _take_over_limit(self) -> list[InferenceSession]:
        idle = sorted((entry for entry in self._entries if not entry.busy), key=lambda entry: entry.last_used)
        evicted = idle[:max(0, len(self._entries) - self.max_open)]
        for entry in evicted:
            self._entries.remove(entry)
        return [entry.session for entry in evicted]

    @staticmethod
    def _close_all(sessions: list[InferenceSession]) -> None:
        for session in sessions:
            try:
                session.close()
            except Exception:  # a server that vanished already dropped the session
                logger.debug("Closing a session failed", exc_info=True)
