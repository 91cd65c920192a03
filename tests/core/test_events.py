"""Lifecycle events are typed: one JSON line each, a wrong field fails, and each parses back to its own class."""
from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from core import events

MADDR = "/ip4/127.0.0.1/tcp/1/p2p/Qm1"


def test_ready_event_is_one_json_line_that_names_its_process(capsys):
    events.ServerReady(peer_id="Qm1", multiaddrs=[MADDR], model="m", blocks=[0, 3]).emit()
    line = capsys.readouterr().out
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {"event": "ready", "process": "serve", "peer_id": "Qm1", "multiaddrs": [MADDR],
                                "model": "m", "blocks": [0, 3]}


def test_wrong_or_missing_fields_fail():
    with pytest.raises(ValidationError):
        events.ServerReady(peer_id="Qm1", multiaddrs=[], model="m")  # type: ignore[call-arg]  # blocks missing
    with pytest.raises(ValidationError):
        events.Stopping(reason="x", extra=1)  # type: ignore[call-arg]  # no such field
    with pytest.raises(ValidationError):
        events.Loading(model="m", done="3", total=5)  # type: ignore[arg-type]  # a string is no count


def test_the_three_ready_events_parse_to_their_own_classes():
    sent = [events.DhtReady(peer_id="Qm1", multiaddrs=[MADDR]),
            events.ServerReady(peer_id="Qm1", multiaddrs=[MADDR], model="m", blocks=[0, 3]),
            events.NodeReady(peer_id="Qm1", multiaddrs=[MADDR], api="http://127.0.0.1:1", token_file="/t")]
    parsed = [events.parse_event(event.to_json()) for event in sent]
    assert parsed == sent and [type(event) for event in parsed] == [type(event) for event in sent]


def test_parse_event_ignores_other_lines_and_refuses_malformed_events():
    assert events.parse_event('{"event": "stopped"}') == events.Stopped()
    assert events.parse_event("2026 INFO something") is None
    assert events.parse_event('{"no": "event"}') is None
    assert events.parse_event('{"event": "from-a-newer-version"}') is None
    with pytest.raises(ValueError):
        events.parse_event('{"event": "loading", "model": "m", "done": 1}')
    with pytest.raises(ValueError):
        events.parse_event('{"event": "ready", "process": "serve", "peer_id": "Qm1", "multiaddrs": []}')
