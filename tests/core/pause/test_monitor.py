"""PauseMonitor: scripted detectors on a fake clock, app snapshots with expiry, and one real end-to-end run:
a real exclusive-app process pauses a monitor polling in its thread, and its exit resumes it."""
from __future__ import annotations

import logging
import os
import queue
import time

import pytest

from core.pause.app_snapshot import AppSnapshot
from core.pause.decision import PauseKind, ServingState, Transition
from core.pause.monitor import PauseMonitor
from core.pause.processes import ExclusiveAppsDetector
from core.pause.signals import Signal
from core.pause.state import PauseStateMachine
from tests.core.pause.test_state import FakeClock


class ScriptedDetector:
    """Returns the signals it is told to; counts its calls."""

    def __init__(self, name: str, active: bool = False, reason: str = "a game"):
        self.name = name
        self.active = active
        self.reason = reason
        self.calls = 0

    def detect(self) -> Signal:
        self.calls += 1
        return Signal(self.name, self.active, self.reason if self.active else "")


class BrokenDetector:
    name = "broken"

    def detect(self) -> Signal:
        raise RuntimeError("driver exploded")


def monitor_with(*detectors, resume_after_s: float = 120.0) -> tuple[PauseMonitor, FakeClock, list[Transition]]:
    clock = FakeClock()
    seen: list[Transition] = []
    monitor = PauseMonitor(list(detectors), PauseStateMachine(resume_after_s, clock=clock), seen.append, 2.0)
    return monitor, clock, seen


def test_polls_feed_the_state_machine_and_the_callback_hears_transitions():
    game = ScriptedDetector("steam")
    monitor, clock, seen = monitor_with(game, ScriptedDetector("gamemode"))
    assert monitor.poll_once() is None
    game.active = True
    monitor.poll_once()
    assert [t.current.reason for t in seen] == ["paused for a game: a game"] and seen[0].serving_changed
    game.active = False
    clock.now += 60
    monitor.poll_once()
    clock.now += 61
    monitor.poll_once()
    assert seen[-1].current.serving and len(seen) == 2
    assert {signal.detector for signal in monitor.signals()} == {"steam", "gamemode"}


def test_a_failing_detector_is_logged_once_and_counts_as_inactive(caplog):
    game = ScriptedDetector("steam")
    monitor, _, _seen = monitor_with(BrokenDetector(), game)
    with caplog.at_level(logging.ERROR, logger="core.pause.monitor"):
        monitor.poll_once()
        monitor.poll_once()
    assert [record.message for record in caplog.records] == ["Pause detector broken failed; counting it as inactive"]
    broken = next(signal for signal in monitor.signals() if signal.detector == "broken")
    assert not broken.active and "driver exploded" in broken.reason
    game.active = True
    monitor.poll_once()
    assert not monitor.decision.serving  # the others still work


def test_app_snapshots_pause_at_once_and_expire():
    monitor, clock, _seen = monitor_with(resume_after_s=10)
    body = {"source": "windows-app", "ttl_s": 5,
            "signals": [{"detector": "windows_fullscreen", "active": True, "reason": "a fullscreen Direct3D game"}]}
    transition = monitor.post_app_snapshot(AppSnapshot.from_json(body))
    assert transition.current.reason == "paused for a game: a fullscreen Direct3D game"
    assert monitor.signals()[0].detector == "windows-app:windows_fullscreen"
    clock.now += 4
    monitor.poll_once()
    assert not monitor.decision.serving
    clock.now += 2  # the app stopped posting: its snapshot expired, the grace period runs from the last sight
    monitor.poll_once()
    assert monitor.signals() == [] and not monitor.decision.serving
    clock.now += 9
    monitor.poll_once()
    assert monitor.decision.serving


def test_a_newer_snapshot_replaces_the_older_one():
    monitor, clock, _ = monitor_with(resume_after_s=0)
    active = {"source": "app", "signals": [{"detector": "fullscreen", "active": True, "reason": "video"}]}
    monitor.post_app_snapshot(AppSnapshot.from_json(active))
    clock.now += 1
    transition = monitor.post_app_snapshot(AppSnapshot.from_json({"source": "app", "signals": []}))
    assert transition.current.serving


def test_user_commands_go_through_the_callback():
    monitor, _, seen = monitor_with()
    monitor.pause(minutes=60)
    monitor.resume()
    monitor.set_donating(False)
    assert [(t.current.state, t.current.kind) for t in seen] == [
        (ServingState.PAUSED, PauseKind.USER), (ServingState.SERVING, PauseKind.NONE),
        (ServingState.STOPPED, PauseKind.DONATION_OFF)]
    with pytest.raises(ValueError):
        monitor.pause(minutes=-1)


def test_reading_the_decision_delivers_an_expired_timer_first():
    monitor, clock, seen = monitor_with()
    monitor.pause(minutes=1)
    clock.now += 61
    assert monitor.decision.serving and seen[-1].current.serving


def test_auto_pause_off_runs_no_detector():
    game = ScriptedDetector("steam", active=True)
    monitor, _, _ = monitor_with(game)
    monitor.configure(resume_after_s=120, auto_pause=False, poll_seconds=1)
    monitor.poll_once()
    assert game.calls == 0 and monitor.decision.serving


class ClosableDetector(ScriptedDetector):
    closed = False

    def close(self) -> None:
        self.closed = True


def test_replaced_detectors_are_closed_by_the_next_poll():
    old, kept = ClosableDetector("gamemode"), ClosableDetector("steam")
    monitor, _, _ = monitor_with(old, kept)
    monitor.set_detectors([kept, ScriptedDetector("vram")])
    assert not old.closed
    monitor.poll_once()
    assert old.closed and not kept.closed and old.calls == 0


def test_a_failing_callback_is_logged_and_the_monitor_goes_on(caplog):
    def explode(transition: Transition) -> None:
        raise RuntimeError("node bug")

    monitor = PauseMonitor([ScriptedDetector("steam", active=True)], PauseStateMachine(), explode)
    with caplog.at_level(logging.ERROR, logger="core.pause.monitor"):
        assert monitor.poll_once() is not None
    assert "callback failed" in caplog.text and not monitor.decision.serving


def test_a_real_exclusive_app_pauses_the_polling_thread_and_its_exit_resumes(tmp_path, start_program):
    transitions: queue.Queue[Transition] = queue.Queue()
    detector = ExclusiveAppsDetector(["fake-game-launcher-xyz"], own_pids=lambda: {os.getpid()})
    monitor = PauseMonitor([detector], PauseStateMachine(resume_after_s=1.0), transitions.put, poll_seconds=0.1)
    monitor.start()
    assert monitor.running
    try:
        started = time.monotonic()
        game = start_program(tmp_path / "fake-game-launcher-xyz")
        paused = transitions.get(timeout=5)
        assert not paused.current.serving and time.monotonic() - started < 5
        assert paused.current.reason == "paused for a game: exclusive app: fake-game-launcher-xyz"
        game.kill()
        game.wait(timeout=10)
        exited = time.monotonic()
        resumed = transitions.get(timeout=10)
        assert resumed.current.serving and time.monotonic() - exited >= 0.8  # the grace, less one poll
    finally:
        monitor.stop(timeout=5)
    assert not monitor.running
