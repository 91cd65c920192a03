"""The pause state machine driven by recorded detector timelines: (time, signals or command) -> expected state."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from core.pause.decision import PauseKind, ServingState
from core.pause.signals import Signal, SignalKind
from core.pause.state import PauseStateMachine

GAME = Signal("exclusive_apps", True, "fake-game-launcher-xyz", SignalKind.GAME)
OTHER_GAME = Signal("exclusive_apps", True, "blender", SignalKind.GAME)
FULLSCREEN = Signal("x11_fullscreen", True, "fullscreen window: mpv", SignalKind.GAME)
BATTERY = Signal("battery", True, "on battery (57%)", SignalKind.BATTERY, subject="battery")
CLEAR: list[Signal] = []


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def machine(resume_after_s: float = 120.0) -> tuple[PauseStateMachine, FakeClock]:
    clock = FakeClock()
    return PauseStateMachine(resume_after_s=resume_after_s, clock=clock), clock


def replay(timeline: Sequence[tuple[float, Any]], resume_after_s: float = 120.0) -> list[str]:
    """Feed each step at its time (seconds from the start); return the state after each step."""
    state_machine, clock = machine(resume_after_s)
    start, states = clock.now, []
    for offset, step in timeline:
        clock.now = start + offset
        if callable(step):
            step(state_machine)
        else:
            state_machine.observe(step)
        states.append(state_machine.decision.state.value)
    return states


def test_pauses_at_once_and_resumes_only_after_the_grace_period():
    # the game is last seen at 4
    timeline = [(0, CLEAR), (2, [GAME]), (4, [GAME]), (6, CLEAR), (100, CLEAR), (123, CLEAR), (124, CLEAR)]
    assert replay(timeline) == ["serving", "paused", "paused", "paused", "paused", "paused", "serving"]


def test_flapping_signals_never_flap_the_server():
    # A signal that blinks every poll for ten minutes (alt-tab in and out of a game).
    timeline = [(seconds, [FULLSCREEN] if (seconds // 2) % 2 == 0 else CLEAR) for seconds in range(0, 600, 2)]
    states = replay(timeline)
    assert states[0] == "paused" and set(states) == {"paused"}


def test_one_transition_per_change_of_serving():
    state_machine, clock = machine()
    transitions = []
    for offset, signals in [(0, [GAME]), (1, CLEAR), (60, [GAME]), (61, CLEAR), (200, CLEAR), (300, [BATTERY])]:
        clock.now = 1000 + offset
        transition = state_machine.observe(signals)
        if transition is not None and transition.serving_changed:
            transitions.append((offset, transition.current.state.value))
    assert transitions == [(0, "paused"), (200, "serving"), (300, "paused")]


def test_reasons_name_the_cause():
    state_machine, clock = machine()
    state_machine.observe([BATTERY, GAME])
    decision = state_machine.decision
    assert decision.kind is PauseKind.GAME and decision.reason == "paused for a game: fake-game-launcher-xyz"
    state_machine.observe([BATTERY])
    assert state_machine.decision.reason == "paused: on battery (57%)"
    state_machine.observe([])
    clock.now += 30
    assert state_machine.decision.resume_in_s == pytest.approx(90)
    assert state_machine.decision.reason == "paused: on battery (57%)"  # still named during the grace period


def test_the_named_reason_stays_while_its_signal_lasts():
    state_machine, _ = machine()
    state_machine.observe([FULLSCREEN])
    state_machine.observe([GAME, FULLSCREEN])
    assert "mpv" in state_machine.decision.reason


def test_timed_user_pause_expires():
    state_machine, clock = machine()
    transition = state_machine.pause(minutes=60)
    assert transition is not None and transition.current.kind is PauseKind.USER
    assert state_machine.decision.reason == "paused by you"
    clock.now += 3599
    state_machine.observe([])
    assert state_machine.decision.state is ServingState.PAUSED
    assert state_machine.decision.resume_in_s == pytest.approx(1)
    clock.now += 1
    transition = state_machine.tick()
    assert transition is not None and transition.current.serving


def test_user_pause_beats_signals_and_a_game_after_it_still_gets_its_grace():
    state_machine, clock = machine()
    state_machine.pause(minutes=1)
    state_machine.observe([GAME])
    assert state_machine.decision.kind is PauseKind.USER
    clock.now += 50
    state_machine.observe([])
    clock.now += 10
    assert state_machine.decision.kind is PauseKind.GAME  # the game ended 10 s ago: 110 s of grace left
    clock.now += 110
    assert state_machine.decision.serving


def test_pause_until_resumed_then_resume():
    state_machine, clock = machine()
    state_machine.pause()
    clock.now += 10 * 86400
    assert state_machine.tick() is None and state_machine.decision.resume_in_s is None
    assert state_machine.resume().current.serving


def test_resume_overrides_the_game_running_now_but_not_a_new_one():
    state_machine, clock = machine()
    state_machine.observe([GAME])
    assert state_machine.resume().current.serving
    for _ in range(5):
        clock.now += 2
        assert state_machine.observe([GAME]) is None  # the overridden game keeps running: keep serving
    clock.now += 2
    assert not state_machine.observe([GAME, OTHER_GAME]).current.serving
    assert "blender" in state_machine.decision.reason


def test_an_override_ends_once_its_signal_stayed_clear_for_the_grace_period():
    state_machine, clock = machine()
    state_machine.observe([GAME])
    state_machine.resume()
    clock.now += 10
    state_machine.observe([])
    clock.now += 60
    assert state_machine.observe([GAME]) is None  # back within the grace period: still overridden
    clock.now += 10
    state_machine.observe([])
    clock.now += 121
    state_machine.observe([])
    assert not state_machine.observe([GAME]).current.serving  # a fresh start of the game pauses again


def test_resume_during_the_grace_period_serves_at_once():
    state_machine, clock = machine()
    state_machine.observe([GAME])
    clock.now += 5
    state_machine.observe([])
    assert state_machine.resume().current.serving


def test_donation_off_beats_everything_and_on_clears_a_user_pause():
    state_machine, _ = machine()
    state_machine.pause()
    transition = state_machine.set_donating(False)
    assert transition.current.state is ServingState.STOPPED and transition.current.kind is PauseKind.DONATION_OFF
    assert state_machine.resume() is None  # resume ends pauses, it does not switch donation on
    state_machine.pause()
    assert state_machine.set_donating(True).current.serving


def test_auto_pause_off_ignores_signals_and_releases_a_held_pause():
    state_machine, _ = machine()
    state_machine.observe([GAME])
    assert state_machine.configure(resume_after_s=120, auto_pause=False).current.serving
    assert state_machine.observe([GAME, BATTERY]) is None


def test_zero_grace_resumes_on_the_first_clear_observation():
    assert replay([(0, [GAME]), (2, CLEAR), (4, [GAME])], resume_after_s=0) == ["paused", "serving", "paused"]


def test_a_pause_needs_positive_minutes():
    state_machine, _ = machine()
    with pytest.raises(ValueError, match="positive number of minutes"):
        state_machine.pause(minutes=0)


def test_commands_in_a_timeline():
    timeline = [(0, CLEAR), (1, lambda m: m.pause(minutes=0.5)), (20, [GAME]), (31, CLEAR),
                (40, lambda m: m.resume()), (41, CLEAR)]
    assert replay(timeline) == ["serving", "paused", "paused", "paused", "serving", "serving"]
