"""The swarm client: routing, inference sessions, and the transformers-compatible model."""
from __future__ import annotations

from core.client.model import AutoDistributedModelForCausalLM

__all__ = ["AutoDistributedModelForCausalLM"]
