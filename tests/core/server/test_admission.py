"""Admission of sessions: busy when the cache is full, draining when the server stops, bounded drain."""
from __future__ import annotations

import asyncio

import pytest

from core.server.admission import Admission
from core.server.memory import CacheBudget
from core.wire import WireError


def test_full_cache_answers_busy_at_once_and_waits_when_asked():
    async def scenario() -> None:
        admission = Admission(CacheBudget(100), max_alloc_timeout=5.0)
        await admission.admit(80, 0)
        with pytest.raises(WireError, match=r"^busy: "):
            await admission.admit(30, 0)
        waiting = asyncio.create_task(admission.admit(30, 2.0))
        await asyncio.sleep(0.05)
        admission.budget.release(80)
        await asyncio.wait_for(waiting, 1)
        assert admission.budget.used == 30

    asyncio.run(scenario())


def test_alloc_timeout_is_capped_by_the_server():
    async def scenario() -> float:
        admission = Admission(CacheBudget(10), max_alloc_timeout=0.2)
        await admission.admit(10, 0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(WireError, match=r"^busy: "):
            await admission.admit(5, 60)
        return loop.time() - started

    assert asyncio.run(scenario()) < 1.0


def test_draining_refuses_new_and_waiting_sessions():
    async def scenario() -> None:
        admission = Admission(CacheBudget(10), max_alloc_timeout=10)
        await admission.admit(10, 0)
        waiting = asyncio.create_task(admission.admit(5, 10))
        await asyncio.sleep(0.05)
        admission.draining.set()
        with pytest.raises(WireError, match=r"^draining: "):
            await asyncio.wait_for(waiting, 1)
        with pytest.raises(WireError, match=r"^draining: "):
            await admission.admit(1, 0)
        admission.budget.release(10)
        await asyncio.sleep(0.05)
        assert admission.budget.used == 0

    asyncio.run(scenario())


def test_a_cancelled_waiter_takes_nothing():
    async def scenario() -> None:
        admission = Admission(CacheBudget(10), max_alloc_timeout=10)
        await admission.admit(10, 0)
        waiting = asyncio.create_task(admission.admit(5, 10))
        await asyncio.sleep(0.05)
        waiting.cancel()
        admission.budget.release(10)
        await asyncio.sleep(0.05)
        assert admission.budget.used == 0

    asyncio.run(scenario())


def test_drain_waits_for_open_sessions_within_its_bound():
    async def scenario() -> None:
        admission = Admission(CacheBudget(10), max_alloc_timeout=0)
        open_sessions = {"count": 1}
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, open_sessions.update, {"count": 0})
        started = loop.time()
        await admission.drain(5.0, lambda: open_sessions["count"])
        assert 0.15 < loop.time() - started < 1.0
        assert not admission.closing.is_set() or open_sessions["count"] == 0

    asyncio.run(scenario())


def test_drain_ends_sessions_that_outlive_it():
    async def scenario() -> None:
        admission = Admission(CacheBudget(10), max_alloc_timeout=0)
        open_sessions = {"count": 1}
        closing = asyncio.create_task(admission.closing.wait())
        closing.add_done_callback(lambda _: open_sessions.update({"count": 0}))
        await admission.drain(0.1, lambda: open_sessions["count"])
        assert admission.closing.is_set() and open_sessions["count"] == 0

    asyncio.run(scenario())


def test_cut_short_ends_a_drain_at_once():
    """A second SIGTERM: the drain stops waiting for sessions that would hold it for its whole timeout."""
    async def scenario() -> float:
        admission = Admission(CacheBudget(10), max_alloc_timeout=10)
        loop = asyncio.get_running_loop()
        started = loop.time()
        draining = asyncio.create_task(admission.drain(30.0, lambda: 1))  # a session that never ends
        await asyncio.sleep(0.2)
        assert not draining.done() and not admission.closing.is_set()
        admission.cut_short()
        await asyncio.wait_for(draining, 1)
        assert admission.closing.is_set() and admission.draining.is_set()
        return loop.time() - started

    assert asyncio.run(scenario()) < 1.0
