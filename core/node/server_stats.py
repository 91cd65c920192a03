"""Requests and tokens our own server child has served, and where and how it computes, read over P2P from its
rpc_info."""
from __future__ import annotations

import logging
import time
from typing import Any

from core.client.swarm_client import SwarmClient
from core.client.worker import run_sync

logger = logging.getLogger(__name__)

CACHE_SECONDS = 1.0
RATE_SECONDS = 5.0
_FIELDS = ("requests_served", "tokens_served", "open_sessions", "cache_tokens_free", "queue_depth", "device", "dtype",
           "quantization")


class ServerStatsReader:
    def __init__(self, swarm_client: SwarmClient, timeout: float = 2.0):
        self.swarm_client = swarm_client
        self.timeout = timeout
        self._last: tuple[float, str | None, dict[str, Any]] = (0.0, None, {})
        self._rate_base: tuple[float | None, int, float | None] = (None, 0, None)
        self._rate_peer: str | None = None

    def read(self, peer_id: str | None) -> dict[str, Any]:
        """The server's counters (None values while it does not serve or does not answer)."""
        empty = dict.fromkeys((*_FIELDS, "tokens_per_second"))
        if peer_id is None:
            return empty
        fetched, last_peer, values = self._last
        if last_peer == peer_id and time.monotonic() - fetched < CACHE_SECONDS:
            return values
        try:
            info = run_sync(self.swarm_client.server_info(peer_id, self.timeout), timeout=self.timeout + 1.0)
        except Exception as error:  # noqa: BLE001 - a busy or restarting server: report nothing this time
            logger.debug("rpc_info of our server failed: %s", error)
            return empty
        values = {name: info.get(name) for name in _FIELDS}
        values["tokens_per_second"] = self._rate(peer_id, values["tokens_served"])
        self._last = (time.monotonic(), peer_id, values)
        return values

    def _rate(self, peer_id: str, tokens: object) -> float | None:
        """Tokens served per second since the previous read (over at least RATE_SECONDS)."""
        if not isinstance(tokens, int):
            return None
        now = time.monotonic()
        since, counted, rate = self._rate_base
        if since is None or self._rate_peer != peer_id or tokens < counted:
            self._rate_base, self._rate_peer = (now, tokens, None), peer_id
            return None
        if now - since >= RATE_SECONDS:
            rate = round((tokens - counted) / (now - since), 2)
            self._rate_base = (now, tokens, rate)
        return rate

