"""Lifecycle events are typed: one JSON line each, and a wrong field fails."""
from __future__ import annotations

import json

import pytest

from core import events


def test_ready_event_is_one_json_line(capsys):
    events.ServerReady(peer_id="Qm1", multiaddrs=["/ip4/127.0.0.1/tcp/1/p2p/Qm1"], model="m", blocks=[0, 3]).emit()
    line = capsys.readouterr().out
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {"event": "ready", "peer_id": "Qm1", "multiaddrs": ["/ip4/127.0.0.1/tcp/1/p2p/Qm1"],
                                "model": "m", "blocks": [0, 3]}


def test_wrong_or_missing_fields_fail():
    with pytest.raises(TypeError):
        events.ServerReady(peer_id="Qm1", multiaddrs=[], model="m")  # type: ignore[call-arg]  # the wrong call is the test
    with pytest.raises(TypeError):
        events.Stopping(reason="x", extra=1)  # type: ignore[call-arg]  # the wrong call is the test


def test_parse_event_ignores_other_lines():
    assert events.parse_event('{"event": "stopped"}') == {"event": "stopped"}
    assert events.parse_event("2026 INFO something") is None
    assert events.parse_event('{"no": "event"}') is None
