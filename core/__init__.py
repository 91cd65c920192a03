"""Meadow core: the headless engine (swarm, block server, client, CLI)."""
from __future__ import annotations

__version__ = "0.1.0"
# Bumped on wire- or record-incompatible changes; peers with another major are ignored.
PROTOCOL_VERSION = (1, 1)
