"""Which inference sessions may open: room in the cache budget, and not while the server drains.

Refusals are WireErrors whose messages start with a fixed word, so that clients can tell them apart from
failures and route around this server: "busy:" (no cache room in time), "draining:" (shutting down).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from core.server.memory import CacheBudget, CacheFull
from core.wire import BUSY, DRAINING, WireError

logger = logging.getLogger(__name__)

# After the drain time is up, how long open sessions get to finish the step in flight and close.
CLOSE_GRACE_SECONDS = 5.0


class Admission:
    """Reserves cache for opening sessions and drains the server on shutdown."""

    def __init__(self, budget: CacheBudget, max_alloc_timeout: float):
        self.budget = budget
        self.max_alloc_timeout = max_alloc_timeout
        self.draining = asyncio.Event()  # set: no new session opens
        self.closing = asyncio.Event()  # set: open sessions get a "draining:" error at their next wait
        self.hurry = asyncio.Event()  # set: stop waiting for open sessions (a second SIGTERM)

    async def admit(self, amount: int, alloc_timeout: float) -> None:
        """Reserve `amount` block-tokens, waiting at most min(alloc_timeout, max_alloc_timeout) seconds."""
        if self.draining.is_set():
            raise WireError(_draining_message())
        timeout = min(max(0.0, alloc_timeout), self.max_alloc_timeout)
        reserving = asyncio.ensure_future(self.budget.reserve(amount, timeout))
        drained = asyncio.ensure_future(self.draining.wait())
        try:
            await asyncio.wait({reserving, drained}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the caller went away while waiting for room
            self._abandon(reserving, amount)
            raise
        finally:
            drained.cancel()
        if not reserving.done() or self.draining.is_set():
            self._abandon(reserving, amount)
            raise WireError(_draining_message())
        try:
            reserving.result()
        except CacheFull as error:
            raise WireError(f"{BUSY} this server's attention cache is full ({error}); try another server or "
                            "retry later") from None

    def _abandon(self, reserving: asyncio.Future[None], amount: int) -> None:
        """Stop a reservation; give the tokens back if it had already got them."""
        reserving.cancel()

        def give_back(task: asyncio.Future[None]) -> None:
            if not task.cancelled() and task.exception() is None:
                self.budget.release(amount)

        reserving.add_done_callback(give_back)

    def try_grow(self, amount: int) -> None:
        """Reserve `amount` more block-tokens for an open session now, or refuse its step as busy."""
        if not self.budget.try_reserve(amount):
            raise WireError(f"{BUSY} this server's attention cache has no room for the session's batch "
                            f"({amount} cache tokens needed, {self.budget.free} free); try another server")

    def cut_short(self) -> None:
        """End a drain now: refuse new sessions, tell open ones at their next wait, stop waiting for them."""
        self.draining.set()
        self.closing.set()
        self.hurry.set()

    async def drain(self, timeout: float, open_sessions: Callable[[], int]) -> None:
        """Refuse new sessions, let open ones finish for up to `timeout` s, then end them after their step.

        cut_short() (a second SIGTERM) ends either wait at once."""
        self.draining.set()
        await wait_until_closed(open_sessions, timeout, self.hurry)
        if open_sessions() > 0:
            logger.info("Drain time is up; ending %d open session(s) after their current step", open_sessions())
        self.closing.set()
        await wait_until_closed(open_sessions, CLOSE_GRACE_SECONDS, self.hurry)
        logger.info("Drained; %d session(s) still open", open_sessions())


async def wait_until_closed(open_sessions: Callable[[], int], timeout: float,
                            stop: asyncio.Event | None = None) -> None:
    """Return once no session is open, after `timeout` seconds, or once `stop` is set, whichever comes first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while open_sessions() > 0 and loop.time() < deadline and not (stop is not None and stop.is_set()):
        await asyncio.sleep(0.05)


def _draining_message() -> str:
    return f"{DRAINING} this server is shutting down; open the session on another server"
