"""What the node's status says about its swarm: identity, peers, and the coverage of each model.

Both reads go through the DHT process, so each is cached for a stated interval (core.node.expiring).
"""
from __future__ import annotations

import logging
from typing import Any

from hivemind import DHT

from core.client.contacts import contact_peer_ids
from core.node.contract import BlockCoverage, ModelCoverage, ServerCoverage, SwarmInfo
from core.node.expiring import Expiring
from core.swarm.status import collect_status

logger = logging.getLogger(__name__)

COVERAGE_SECONDS = 5.0  # a scan of every announced model's block records
PEER_COUNT_SECONDS = 10.0  # the peers in hivemind's routing table


class SwarmView:
    def __init__(self, dht: DHT, private_name: str | None, namespace: str, multiaddrs: list[str]):
        self.dht = dht
        self.private_name = private_name  # None: the public swarm
        self.namespace = namespace
        self.multiaddrs = multiaddrs
        self._coverage: Expiring[list[ModelCoverage]] = Expiring(COVERAGE_SECONDS)
        self._last_coverage: list[ModelCoverage] = []
        self._peers: Expiring[int | None] = Expiring(PEER_COUNT_SECONDS)

    def describe(self) -> SwarmInfo:
        return SwarmInfo(name=self.private_name or "public", private=self.private_name is not None,
                         namespace=self.namespace, peer_id=self.dht.peer_id.to_base58(), multiaddrs=self.multiaddrs,
                         peers=self._peers.get("peers", self._read_peer_count))

    def coverage(self) -> list[ModelCoverage]:
        """Per model: blocks, servers and throughput per block, and the blocks no server holds."""
        return self._coverage.get("coverage", self._read_coverage)

    def model_names(self) -> list[str]:
        """The models servers announce in this swarm (from the same cached read as `coverage`)."""
        return [model.model for model in self.coverage()]

    def _read_coverage(self) -> list[ModelCoverage]:
        try:
            models = collect_status(self.dht, self.namespace)["models"]
            self._last_coverage = [_model_coverage(model) for model in models]
        except Exception:  # a DHT hiccup: keep the last answer
            logger.debug("Reading swarm coverage failed", exc_info=True)
        return self._last_coverage

    def _read_peer_count(self) -> int | None:
        try:
            return len(contact_peer_ids(self.dht))
        except Exception:  # noqa: BLE001 - only informative
            return None


def _model_coverage(model: dict[str, Any]) -> ModelCoverage:
    blocks = [BlockCoverage(index=block["index"], servers=block["servers"], throughput=float(block["throughput"]))
              for block in model["blocks"]]
    servers = [ServerCoverage(peer_id=server["peer_id"], name=server["name"], blocks=list(server["blocks"]),
                              dtype=server["dtype"], quantization=server["quantization"],
                              throughput=float(server["throughput"])) for server in model["servers"]]
    return ModelCoverage(model=model["model"], architecture=model["architecture"], num_blocks=model["num_blocks"],
                         blocks=blocks, missing=[block.index for block in blocks if block.servers == 0],
                         servers=servers)
