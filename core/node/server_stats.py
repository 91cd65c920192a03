"""Requests and tokens our own server child has served, and where and how it computes, read over P2P from its
rpc_info at most once per SERVER_STATS_SECONDS."""
from __future__ import annotations

import logging
import time
from typing import Any

from core.client.swarm_client import SwarmClient
from core.client.worker import run_sync
from core.node.expiring import Expiring

logger = logging.getLogger(__name__)

SERVER_STATS_SECONDS = 2.0  # an RPC to our own child; the status is pushed at most this often anyway
RATE_SECONDS = 5.0
FIELDS = ("requests_served", "tokens_served", "open_sessions", "cache_tokens_free", "queue_depth", "device", "dtype",
          "quantization")
_EMPTY: dict[str, Any] = dict.fromkeys((*FIELDS, "tokens_per_second"))


class ServerStatsReader:
    def __init__(self, swarm_client: SwarmClient, timeout: float = 2.0):
        self.swarm_client = swarm_client
        self.timeout = timeout
        self._cache: Expiring[dict[str, Any]] = Expiring(SERVER_STATS_SECONDS)
        self._rate_base: tuple[float | None, int, float | None] = (None, 0, None)
        self._rate_peer: str | None = None

    def read(self, peer_id: str | None) -> dict[str, Any]:
        """The server's counters (None values while it does not serve or does not answer)."""
        if peer_id is None:
            return dict(_EMPTY)
        return self._cache.get(peer_id, lambda: self._fetch(peer_id))

    def _fetch(self, peer_id: str) -> dict[str, Any]:
        try:
            info = run_sync(self.swarm_client.server_info(peer_id, self.timeout), timeout=self.timeout + 1.0)
        except Exception as error:  # noqa: BLE001 - a busy or restarting server: report nothing this time
            logger.debug("rpc_info of our server failed: %s", error)
            return dict(_EMPTY)
        values = {name: info.get(name) for name in FIELDS}
        values["tokens_per_second"] = self._rate(peer_id, values["tokens_served"])
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
