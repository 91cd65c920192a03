"""The KV cache budget: reserve, release, wait for room, time out, and the default size from free memory."""
from __future__ import annotations

import asyncio

import pytest
from transformers import LlamaConfig

from core.server import memory
from core.server.block_cost import kv_bytes_per_token
from core.server.memory import CacheBudget, CacheFull, default_cache_tokens


def test_reserve_and_release():
    async def scenario() -> None:
        budget = CacheBudget(100)
        await budget.reserve(60)
        await budget.reserve(40)
        assert budget.free == 0
        budget.release(40)
        assert budget.free == 40 and budget.used == 60

    asyncio.run(scenario())


def test_full_budget_fails_at_once_without_a_timeout():
    async def scenario() -> float:
        budget = CacheBudget(100)
        await budget.reserve(80)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(CacheFull, match="30 cache tokens needed, 20 of 100 free"):
            await budget.reserve(30)
        assert budget.used == 80
        return loop.time() - started

    assert asyncio.run(scenario()) < 0.1


def test_more_than_the_whole_budget_never_waits():
    async def scenario() -> None:
        with pytest.raises(CacheFull, match="exceed this server's whole budget of 100"):
            await CacheBudget(100).reserve(101, timeout=10)

    asyncio.run(asyncio.wait_for(scenario(), 1))


def test_a_waiting_reservation_gets_room_when_another_is_released():
    async def scenario() -> None:
        budget = CacheBudget(100)
        await budget.reserve(70)
        waiting = asyncio.create_task(budget.reserve(50, timeout=5))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        budget.release(70)
        await asyncio.wait_for(waiting, 1)
        assert budget.used == 50

    asyncio.run(scenario())


def test_a_waiting_reservation_times_out_and_takes_nothing():
    async def scenario() -> float:
        budget = CacheBudget(100)
        await budget.reserve(70)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(CacheFull):
            await budget.reserve(50, timeout=0.2)
        assert budget.used == 70
        return loop.time() - started

    assert 0.15 < asyncio.run(scenario()) < 1.0


def test_release_outside_a_loop_and_never_below_zero():
    budget = CacheBudget(10)
    assert budget.try_reserve(10) and not budget.try_reserve(1)
    budget.release(25)
    assert budget.used == 0 and budget.free == 10


def test_default_cache_tokens_is_a_share_of_usable_memory(monkeypatch):
    config = LlamaConfig(hidden_size=64, num_attention_heads=4, num_key_value_heads=2)
    monkeypatch.setattr(memory, "usable_bytes", lambda *args: 1_000_000)
    per_token = kv_bytes_per_token(config, "float32")
    tokens = default_cache_tokens(config, "float32", 3, "cpu", 0, 1.0, 2.0)
    assert tokens == int(1_000_000 * memory.DEFAULT_CACHE_FRACTION) // (per_token * 3)


def test_resizing_wakes_waiters_and_keeps_reservations():
    async def scenario() -> None:
        budget = CacheBudget(100)
        await budget.reserve(100)
        waiting = asyncio.create_task(budget.reserve(50, timeout=5))
        await asyncio.sleep(0.05)
        budget.resize(150)  # the server moved to a longer span
        await asyncio.wait_for(waiting, 1)
        assert budget.used == 150 and budget.free == 0
        budget.resize(100)  # and to a shorter one, under sessions still open
        assert budget.free == 0 and not budget.try_reserve(1)
        budget.release(100)
        assert budget.free == 50

    asyncio.run(scenario())
