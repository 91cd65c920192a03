"""PauseMonitor: polls the detectors in a background thread and feeds the state machine.

Every `poll_seconds` each detector is asked once; a detector that raises is logged and counts as inactive.
Snapshots posted by the desktop app join the detectors' signals until their ttl passes. User commands go
through the monitor too, so that one lock orders everything.

The transition callback runs on the thread that caused the transition (the poll thread, or the API thread
of a user command), under the monitor's lock and in order; it must return quickly (hand stopping or starting
the server child to another thread) and may read `decision` and `signals`.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence

from core.pause.app_snapshot import AppSnapshot
from core.pause.decision import Decision, Transition
from core.pause.signals import Detector, Signal
from core.pause.state import PauseStateMachine

logger = logging.getLogger(__name__)

TransitionCallback = Callable[[Transition], None]


class PauseMonitor:
    """Background polling of `detectors` into `state_machine`; `on_transition` hears every change."""

    def __init__(self, detectors: Sequence[Detector], state_machine: PauseStateMachine,
                 on_transition: TransitionCallback | None = None, poll_seconds: float = 2.0):
        self.state_machine = state_machine
        self.on_transition = on_transition
        self.poll_seconds = poll_seconds
        self._detectors = list(detectors)
        self._retired: list[Detector] = []  # replaced, to be closed by the next poll
        self._lock = threading.RLock()
        self._latest: dict[str, Signal] = {}
        self._app_snapshots: dict[str, tuple[AppSnapshot, float]] = {}  # source -> (snapshot, expires at)
        self._failed: set[str] = set()  # detectors whose failure was already logged with a traceback
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def decision(self) -> Decision:
        """The current decision; a timer that ran out since the last poll is delivered as a transition first,
        so a reader never sees a decision the callback has not heard."""
        with self._lock:
            self._deliver(self.state_machine.tick())
            return self.state_machine.decision

    @property
    def running(self) -> bool:
        """True while the polling thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def signals(self) -> list[Signal]:
        """Every detector's latest signal plus the app's live ones (for the status API and the dashboard)."""
        with self._lock:
            return self._all_signals()

    def set_detectors(self, detectors: Sequence[Detector]) -> None:
        """Replace the detectors (after a settings change); takes effect at the next poll, which also closes
        the replaced ones that hold a connection (those with `close`)."""
        with self._lock:
            self._retired += [detector for detector in self._detectors if detector not in detectors]
            self._detectors = list(detectors)
            self._latest = {}

    def start(self) -> None:
        """Start polling in a daemon thread (checks once at once)."""
        if self._thread is not None:
            raise RuntimeError("PauseMonitor already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="pause-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling and wait up to `timeout` seconds for the thread (a detector may be mid-check)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("Pause monitor thread did not stop within %.1f s", timeout)

    def poll_once(self) -> Transition | None:
        """Ask every detector once (or none while auto-pause is off) and feed the state machine."""
        with self._lock:
            detectors = list(self._detectors) if self.state_machine.auto_pause else []
            retired, self._retired = self._retired, []
        _close(retired)  # here, on the polling thread, so that no check of theirs is still running
        fresh = {detector.name: self._check(detector) for detector in detectors}
        with self._lock:
            self._latest = fresh
            return self._deliver(self.state_machine.observe(self._all_signals()))

    def post_app_snapshot(self, snapshot: AppSnapshot) -> Transition | None:
        """Take the app's signals (replacing that source's previous ones) and re-decide at once: pause fast."""
        with self._lock:
            self._app_snapshots[snapshot.source] = (snapshot, self.state_machine.clock() + snapshot.ttl_s)
            return self._deliver(self.state_machine.observe(self._all_signals()))

    def pause(self, minutes: float | None = None) -> Transition | None:
        """User command: pause for `minutes`, or until resumed (raises ValueError for minutes <= 0)."""
        with self._lock:
            return self._deliver(self.state_machine.pause(minutes))

    def resume(self) -> Transition | None:
        """User command: serve now, overriding the signals active at this moment."""
        with self._lock:
            return self._deliver(self.state_machine.resume())

    def set_donating(self, donating: bool) -> Transition | None:
        """User command: donation on or off."""
        with self._lock:
            return self._deliver(self.state_machine.set_donating(donating))

    def configure(self, resume_after_s: float, auto_pause: bool, poll_seconds: float) -> Transition | None:
        """Apply changed pause settings."""
        with self._lock:
            self.poll_seconds = poll_seconds
            return self._deliver(self.state_machine.configure(resume_after_s, auto_pause))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # a bug, not a missing facility: keep monitoring, but say so
                logger.exception("Pause monitor poll failed")
            self._stop.wait(self.poll_seconds)

    def _check(self, detector: Detector) -> Signal:
        try:
            signal = detector.detect()
        except Exception as error:
            if detector.name not in self._failed:
                self._failed.add(detector.name)
                logger.exception("Pause detector %s failed; counting it as inactive", detector.name)
            else:
                logger.debug("Pause detector %s failed again: %s", detector.name, error)
            return Signal.unavailable(detector.name, f"failed: {error}")
        self._failed.discard(detector.name)
        return signal

    def _all_signals(self) -> list[Signal]:
        return list(self._latest.values()) + self._live_app_signals()

    def _live_app_signals(self) -> list[Signal]:
        now = self.state_machine.clock()
        self._app_snapshots = {source: entry for source, entry in self._app_snapshots.items() if entry[1] > now}
        # Prefix with the source so that an app's detector never shares an identity with a local one.
        return [dataclasses.replace(signal, detector=f"{snapshot.source}:{signal.detector}")
                for snapshot, _ in self._app_snapshots.values() for signal in snapshot.signals]

    def _deliver(self, transition: Transition | None) -> Transition | None:
        if transition is not None and self.on_transition is not None:
            try:
                self.on_transition(transition)
            except Exception:
                logger.exception("Pause transition callback failed for %s", transition.current.state.value)
        return transition


def _close(detectors: Sequence[Detector]) -> None:
    for detector in detectors:
        close = getattr(detector, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # a replaced detector failing to close must not stop the monitoring
                logger.exception("Closing pause detector %s failed", detector.name)
