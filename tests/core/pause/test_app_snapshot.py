"""Snapshots the app posts to `POST /api/pause/signals`: valid JSON becomes signals, bad JSON a clear error."""
from __future__ import annotations

import json

import pytest

from core.pause.app_snapshot import AppSnapshot
from core.pause.signals import Signal, SignalKind

VALID = {"source": "windows-app", "ttl_s": 20,
         "signals": [{"detector": "windows_fullscreen", "active": True, "reason": "a fullscreen Direct3D game",
                      "subject": "quns-3"},
                     {"detector": "battery", "active": False, "kind": "battery"}]}


def test_a_valid_snapshot():
    snapshot = AppSnapshot.from_json(VALID)
    assert snapshot.source == "windows-app" and snapshot.ttl_s == 20
    fullscreen, battery = snapshot.signals
    assert fullscreen.active and fullscreen.kind is SignalKind.GAME
    assert fullscreen.identity == ("windows_fullscreen", "quns-3")
    assert not battery.active and battery.kind is SignalKind.BATTERY


def test_defaults():
    snapshot = AppSnapshot.from_json({"source": "app", "signals": []})
    assert snapshot.ttl_s == 30 and snapshot.signals == ()


def test_to_json_reads_back_as_the_same_snapshot():
    snapshot = AppSnapshot("app", (Signal("windows_fullscreen", True, "a game", subject="quns-3"),
                                   Signal.clear("battery", SignalKind.BATTERY)), 12.0)
    assert AppSnapshot.from_json(json.loads(json.dumps(snapshot.to_json()))) == snapshot


@pytest.mark.parametrize("body, message", [
    ([], "must be a JSON object"),
    ({"signals": []}, "'source' must be text"),
    ({"source": " ", "signals": []}, "'source' must not be empty"),
    ({"source": "app", "signals": [], "extra": 1}, "Unknown field\\(s\\) in the pause snapshot: extra"),
    ({"source": "app", "signals": {}}, "'signals' must be a list"),
    ({"source": "app", "signals": [{}] * 33}, "at most 32"),
    ({"source": "app", "signals": [], "ttl_s": 0}, "'ttl_s' must be a number"),
    ({"source": "app", "signals": [], "ttl_s": True}, "'ttl_s' must be a number"),
    ({"source": "app", "signals": [], "ttl_s": 601}, "'ttl_s' must be a number"),
    ({"source": "app", "signals": ["x"]}, "signals\\[0\\] must be an object"),
    ({"source": "app", "signals": [{"detector": "d", "active": "yes"}]}, "signals\\[0\\].active must be true or false"),
    ({"source": "app", "signals": [{"detector": "d", "active": True}]}, "signals\\[0\\].reason' must not be empty"),
    ({"source": "app", "signals": [{"detector": "d", "active": False, "kind": "coffee"}]}, "kind must be one of"),
    ({"source": "app", "signals": [{"active": False}]}, "signals\\[0\\].detector' must be text"),
    ({"source": "app", "signals": [{"detector": "d", "active": False, "pid": 3}]},
     "Unknown field\\(s\\) in signals\\[0\\]: pid"),
    ({"source": "x" * 201, "signals": []}, "at most 200 characters"),
])
def test_bad_snapshots_are_refused_with_a_clear_message(body, message):
    with pytest.raises(ValueError, match=message):
        AppSnapshot.from_json(body)
