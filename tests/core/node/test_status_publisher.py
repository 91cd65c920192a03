"""The node pushes its status when it changes, not on every check, and not for the uptime alone."""
from __future__ import annotations

import asyncio
import json

from core.node.contract import NodeStatus
from core.node.event_hub import EventHub
from core.node.status_publisher import StatusPublisher
from core.pause import PauseKind, ServingState
from tests.helpers.statuses import node_status

PERIOD = 0.05


def test_a_status_is_published_once_per_change():
    current: dict[str, NodeStatus] = {"status": node_status()}

    async def scenario() -> list[str]:
        hub = EventHub()
        queue = hub.subscribe()
        publisher = StatusPublisher(lambda: current["status"], hub, period=PERIOD)
        publisher.start()
        try:
            published = [await asyncio.wait_for(queue.get(), 5)]
            older = current["status"]
            current["status"] = older.model_copy(update={"node": older.node.model_copy(update={"uptime_s": 99.0})})
            await asyncio.sleep(10 * PERIOD)  # many checks, no change but the uptime
            assert queue.empty()
            current["status"] = node_status("paused", PauseKind.USER, ServingState.PAUSED)
            publisher.nudge()
            published.append(await asyncio.wait_for(queue.get(), 5))
            assert publisher.first_for_new_listener() == current["status"]  # unchanged: for the new one only
            await asyncio.sleep(10 * PERIOD)
            assert queue.empty()
            return published
        finally:
            publisher.stop()

    first, second = (json.loads(line)["status"]["serving"]["state"] for line in asyncio.run(scenario()))
    assert (first, second) == ("serving", "paused")
