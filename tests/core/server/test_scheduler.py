"""The compute scheduler: one task at a time, decode steps before prefills before forwards, FIFO within each."""
from __future__ import annotations

import asyncio
import threading

import pytest

from core.server.scheduler import ComputeScheduler, Priority, SchedulerClosed


def _blocked(scheduler: ComputeScheduler) -> threading.Event:
    """Occupy the compute thread until the returned event is set."""
    gate, running = threading.Event(), threading.Event()

    def hold() -> None:
        running.set()
        gate.wait(5)

    scheduler.submit(Priority.FORWARD, hold)
    assert running.wait(5)
    return gate


def test_waiting_tasks_run_by_priority_then_arrival():
    scheduler = ComputeScheduler()
    order: list[str] = []
    gate = _blocked(scheduler)
    futures = [scheduler.submit(priority, order.append, name) for priority, name in [
        (Priority.FORWARD, "forward-1"), (Priority.PREFILL, "prefill-1"), (Priority.DECODE, "decode-1"),
        (Priority.PREFILL, "prefill-2"), (Priority.DECODE, "decode-2"), (Priority.FORWARD, "forward-2")]]
    assert scheduler.queue_depth == 6
    gate.set()
    for future in futures:
        future.result(5)
    assert order == ["decode-1", "decode-2", "prefill-1", "prefill-2", "forward-1", "forward-2"]
    assert scheduler.queue_depth == 0
    scheduler.shutdown()


def test_results_and_errors_reach_the_awaiting_caller():
    scheduler = ComputeScheduler()

    async def scenario() -> None:
        assert await scheduler.run(Priority.DECODE, pow, 2, 10) == 1024
        with pytest.raises(ZeroDivisionError):
            await scheduler.run(Priority.PREFILL, lambda: 1 / 0)

    asyncio.run(scenario())
    scheduler.shutdown()


def test_a_decode_step_overtakes_queued_prefill_chunks():
    """A long prefill split into chunks delays another session's decode step by at most one chunk."""
    scheduler = ComputeScheduler()
    order: list[str] = []
    gate = _blocked(scheduler)
    chunks = [scheduler.submit(Priority.PREFILL, order.append, f"chunk-{i}") for i in range(4)]
    decode = scheduler.submit(Priority.DECODE, order.append, "decode")
    gate.set()
    decode.result(5)
    [chunk.result(5) for chunk in chunks]
    assert order[0] == "decode"
    scheduler.shutdown()


def test_shutdown_fails_waiting_tasks_and_refuses_new_ones():
    scheduler = ComputeScheduler()
    gate = _blocked(scheduler)
    waiting = scheduler.submit(Priority.DECODE, lambda: "never")
    threading.Timer(0.1, gate.set).start()
    scheduler.shutdown()
    with pytest.raises(SchedulerClosed):
        waiting.result(1)
    with pytest.raises(SchedulerClosed):
        scheduler.submit(Priority.DECODE, lambda: None).result(1)
