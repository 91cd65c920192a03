"""What the node's status says about its swarm: identity, peers, and the coverage of each model."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from hivemind import DHT

from core.client.contacts import contact_peer_ids
from core.swarm.status import collect_status

logger = logging.getLogger(__name__)

COVERAGE_CACHE_SECONDS = 5.0


class SwarmView:
    def __init__(self, dht: DHT, private_name: str | None, namespace: str, multiaddrs: list[str]):
        self.dht = dht
        self.private_name = private_name  # None: the public swarm
        self.namespace = namespace
        self.multiaddrs = multiaddrs
        self._lock = threading.Lock()
        self._coverage: tuple[float, list[dict[str, Any]]] = (0.0, [])

    def describe(self) -> dict[str, Any]:
        return {"name": self.private_name or "public", "private": self.private_name is not None,
                "namespace": self.namespace, "peer_id": self.dht.peer_id.to_base58(),
                "multiaddrs": self.multiaddrs, "peers": self._peer_count()}

    def coverage(self) -> list[dict[str, Any]]:
        """Per model: blocks, servers and throughput per block, and the blocks no server holds."""
        with self._lock:
            fetched, models = self._coverage
            if time.monotonic() - fetched < COVERAGE_CACHE_SECONDS:
                return models
        try:
            models = collect_status(self.dht, self.namespace)["models"]
        except Exception:  # a DHT hiccup: keep the last answer
            logger.debug("Reading swarm coverage failed", exc_info=True)
        for model in models:
            model["missing"] = [block["index"] for block in model["blocks"] if block["servers"] == 0]
        with self._lock:
            self._coverage = (time.monotonic(), models)
        return models

    def model_names(self) -> list[str]:
        """The models servers announce in this swarm (from the same cached read as `coverage`)."""
        return [model["model"] for model in self.coverage()]

    def _peer_count(self) -> int | None:
        try:
            return len(contact_peer_ids(self.dht))
        except Exception:  # noqa: BLE001 - only informative
            return None
