"""Meadow core: the headless engine (swarm, block server, client, CLI)."""
from __future__ import annotations

__version__ = "0.1.0"
# Bumped on wire- or record-incompatible changes; peers with another major are ignored. Minors add what older
# peers of the same major can do without: 2 = servers take hidden states in any float dtype (mixed precision
# along a route) and model index records name the architecture.
PROTOCOL_VERSION = (1, 2)
MIXED_PRECISION_MINOR = 2
