"""Expensive reads are reused for their stated interval, per key, and read anew after it."""
from __future__ import annotations

from core.node.expiring import Expiring


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_reused_until_it_expires_or_its_key_changes():
    clock, reads = Clock(), []

    def read() -> int:
        reads.append(clock.now)
        return len(reads)

    cache: Expiring[int] = Expiring(5.0, clock)
    assert cache.get("a", read) == 1
    clock.now += 4.9
    assert cache.get("a", read) == 1
    clock.now += 0.2
    assert cache.get("a", read) == 2
    assert cache.get("b", read) == 3  # another key: read at once
    cache.forget()
    assert cache.get("b", read) == 4
    assert len(reads) == 4
