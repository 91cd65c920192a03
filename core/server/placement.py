"""Which span a server takes when the user gives only a number of blocks."""
from __future__ import annotations

from hivemind import DHT

from core.swarm.directory import fetch_servers


def choose_span(dht: DHT, namespace: str, model: str, total: int, num_blocks: int) -> tuple[int, int]:
    """The window of `num_blocks` that covers the most blocks nobody serves (then the fewest servers)."""
    num_blocks = min(num_blocks, total)
    found = fetch_servers(dht, namespace, model, list(range(total)))
    counts = [sum(1 for server in found[index] if server.record.state == "online") for index in range(total)]
    return best_window(counts, num_blocks)


def best_window(counts: list[int], num_blocks: int) -> tuple[int, int]:
    def score(start: int) -> tuple[int, int, int]:
        window = counts[start:start + num_blocks]
        return (-sum(1 for count in window if count == 0), sum(window), start)

    start = min(range(len(counts) - num_blocks + 1), key=score)
    return start, start + num_blocks
