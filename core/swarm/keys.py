"""DHT keys: swarm namespace + model + block index."""
from __future__ import annotations


def block_key(namespace: str, model: str, index: int) -> str:
    return f"{namespace}/{model}/block/{index}"


def models_key(namespace: str) -> str:
    """Key of the model index records: which models the swarm's servers serve."""
    return f"{namespace}/models"
