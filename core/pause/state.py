"""The pause state machine: pure logic over detector signals and user commands, with an injected clock.

Rules (what a donor expects from BOINC, Salad and F@H):
- Pause fast: any active signal pauses at once.
- Resume slowly: serving comes back only after every signal has stayed clear for `resume_after_s`, so a
  flapping signal (alt-tab out of a game and back) never flaps the server, whose restart is expensive.
- The user wins: "pause" (for N minutes or until resumed) beats every signal; donation off beats all.
- "Resume" while a game runs means "serve now anyway": the signals active at that moment are overridden,
  each until it has stayed clear for `resume_after_s`; a signal about something new (another game, a
  second fullscreen app) pauses again. Switching donation on also clears a user pause.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from core.pause.decision import DONATION_OFF, SERVING, Decision, Transition, automatic_pause, user_pause
from core.pause.signals import Signal, SignalKind

logger = logging.getLogger(__name__)

# When several signals are active, the one named to the user: the most specific first.
_PRIORITY = {SignalKind.GAME: 0, SignalKind.MEMORY: 1, SignalKind.BATTERY: 2, SignalKind.USER_ACTIVE: 3}


class PauseStateMachine:
    """Turns signals and user commands into a serving decision; each method returns the transition it caused."""

    def __init__(self, resume_after_s: float = 120.0, auto_pause: bool = True, donating: bool = True,
                 clock: Callable[[], float] = time.monotonic):
        self.resume_after_s = resume_after_s
        self.auto_pause = auto_pause
        self._clock = clock
        self._donating = donating
        self._user_paused = False
        self._user_pause_until: float | None = None
        self._active: list[Signal] = []  # active, not overridden signals of the last observation
        self._held: Signal | None = None  # the signal holding an automatic pause (named to the user)
        self._last_active_at = 0.0
        self._overrides: dict[tuple[str, str], float] = {}  # identity -> last time seen active
        self._decision = self._decide(clock())

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @property
    def decision(self) -> Decision:
        """The current decision, with its countdown brought up to date."""
        return self._decide(self._clock())

    def configure(self, resume_after_s: float, auto_pause: bool) -> Transition | None:
        """Apply changed settings; switching auto-pause off releases an automatic pause at once."""
        self.resume_after_s = resume_after_s
        self.auto_pause = auto_pause
        if not auto_pause:
            self._active, self._held = [], None
        return self._update()

    def observe(self, signals: Iterable[Signal]) -> Transition | None:
        """Feed one combined view of every detector's latest signal."""
        now = self._clock()
        active = [signal for signal in signals if signal.active] if self.auto_pause else []
        for signal in active:
            if signal.identity in self._overrides:
                self._overrides[signal.identity] = now
        # An override ends once its signal has stayed clear for the grace period (seen refreshes above).
        self._overrides = {key: seen for key, seen in self._overrides.items() if now - seen <= self.resume_after_s}
        self._active = [signal for signal in active if signal.identity not in self._overrides]
        if self._active:
            self._held = self._pick_held(self._active)
            self._last_active_at = now
        return self._update()

    def pause(self, minutes: float | None = None) -> Transition | None:
        """The user pauses serving for `minutes`, or until they resume when None."""
        if minutes is not None and not minutes > 0:
            raise ValueError(f"A pause lasts a positive number of minutes, got {minutes!r}")
        self._user_paused = True
        self._user_pause_until = None if minutes is None else self._clock() + minutes * 60.0
        return self._update()

    def resume(self) -> Transition | None:
        """The user wants serving now: ends a user pause and overrides the signals active right now."""
        now = self._clock()
        self._user_paused, self._user_pause_until = False, None
        for signal in self._active:
            self._overrides[signal.identity] = now
        self._active, self._held = [], None
        return self._update()

    def set_donating(self, donating: bool) -> Transition | None:
        """Donation on/off; switching it on also ends a user pause (the user asked to give the GPU)."""
        self._donating = donating
        if donating:
            self._user_paused, self._user_pause_until = False, None
        return self._update()

    def tick(self) -> Transition | None:
        """Re-evaluate timers (a timed pause's end, the resume grace) without new signals."""
        return self._update()

    def _update(self) -> Transition | None:
        now = self._clock()
        previous, current = self._decision, self._decide(now)
        self._decision = current
        if current == previous:
            return None
        logger.info("Serving decision: %s (%s) -> %s (%s)", previous.state.value, previous.reason or "-",
                    current.state.value, current.reason or "-")
        return Transition(previous, current)

    def _decide(self, now: float) -> Decision:
        if not self._donating:
            return DONATION_OFF
        if self._user_paused and self._user_pause_until is not None and now >= self._user_pause_until:
            self._user_paused, self._user_pause_until = False, None
        if self._user_paused:
            return user_pause(None if self._user_pause_until is None else self._user_pause_until - now)
        if self._held is not None:
            if self._active:
                return automatic_pause(self._held, None)
            clear_for = now - self._last_active_at
            if clear_for < self.resume_after_s:
                return automatic_pause(self._held, self.resume_after_s - clear_for)
            self._held = None
        return SERVING

    def _pick_held(self, active: list[Signal]) -> Signal:
        # Keep naming the same thing while it stays active, so the reason does not flicker between two.
        if self._held is not None:
            for signal in active:
                if signal.identity == self._held.identity:
                    return signal
        return min(active, key=lambda signal: _PRIORITY[signal.kind])
