"""Who may sample at once (SamplingGate): a seeded request alone, unseeded sampling together, greedy freely.

Real generations running side by side through a swarm are in tests/integration/test_node.py."""
from __future__ import annotations

import threading

from core.node.generation import Sampling, SamplingGate

SETTLE = 0.3  # seconds a blocked thread gets to (wrongly) enter before we look
WAIT = 5.0


class Holder:
    """A thread that takes `hold` and keeps it until released."""

    def __init__(self, hold):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(hold,), daemon=True)
        self.thread.start()

    def _run(self, hold) -> None:
        with hold:
            self.entered.set()
            self.release.wait(WAIT)

    def finish(self) -> None:
        self.release.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


def running(state: SamplingGate, sampling: Sampling) -> Holder:
    """A holder that got in at once."""
    holder = Holder(state.for_sampling(sampling))
    assert holder.entered.wait(WAIT)
    return holder


SEEDED = Sampling(max_tokens=4, temperature=0.8, seed=3)
UNSEEDED = Sampling(max_tokens=4, temperature=0.8)
GREEDY = Sampling(max_tokens=4, temperature=0.0, seed=3)


def test_unseeded_sampling_runs_side_by_side():
    state = SamplingGate()
    first, second = running(state, UNSEEDED), running(state, UNSEEDED)
    first.finish()
    second.finish()


def test_a_seeded_request_has_the_generator_alone_and_is_not_starved():
    state = SamplingGate()
    unseeded = running(state, UNSEEDED)
    seeded = Holder(state.for_sampling(SEEDED))
    assert not seeded.entered.wait(SETTLE)  # it waits for the sampling under way
    newcomer = Holder(state.for_sampling(UNSEEDED))
    assert not newcomer.entered.wait(SETTLE)  # which would overlap the seeded request forever otherwise
    unseeded.finish()
    assert seeded.entered.wait(WAIT) and not newcomer.entered.wait(SETTLE)
    other_seeded = Holder(state.for_sampling(SEEDED))
    assert not other_seeded.entered.wait(SETTLE)
    seeded.finish()
    assert other_seeded.entered.wait(WAIT) and not newcomer.entered.wait(SETTLE)
    other_seeded.finish()
    assert newcomer.entered.wait(WAIT)
    newcomer.finish()


def test_greedy_decoding_needs_no_hold():
    state = SamplingGate()
    seeded = running(state, SEEDED)
    greedy = running(state, GREEDY)
    greedy.finish()
    seeded.finish()
