"""Text generation for the node's API: client models loaded on demand, sessions reused across turns.

A request is prepared first (its swarm session found or opened, which waits a bounded time for servers
of every block), then run; so "the model is not covered" is known before a streamed answer starts.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from transformers import StoppingCriteriaList

from core.client.inference import InferenceSession
from core.node.conversations import Conversations
from core.node.model_pool import LoadedModel
from core.node.text_stream import StopWhen, TextDeltas

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sampling:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    @property
    def samples(self) -> bool:
        """Whether tokens are drawn at random (otherwise greedy)."""
        return self.temperature > 0

    @property
    def seeded(self) -> bool:
        """Whether the draws must follow `seed`: the same text whatever else runs."""
        return self.samples and self.seed is not None

    def generate_arguments(self) -> dict[str, Any]:
        if not self.samples:
            return {"do_sample": False}
        return {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p}


@dataclass(frozen=True)
class Result:
    text: str
    finish_reason: str  # "stop" (end of text or a stop sequence) or "length"
    prompt_tokens: int
    completion_tokens: int
    seconds: float = 0.0  # from the request's start to its last token
    route: tuple[dict[str, Any], ...] = ()  # the servers that computed the answer: {"peer_id", "start", "end"}

    @property
    def tokens_per_second(self) -> float:
        return round(self.completion_tokens / self.seconds, 2) if self.seconds > 0 else 0.0


class PreparedRequest:
    """One request ready to run: its model, prompt, sampling and checked-out swarm session."""

    def __init__(self, runner: RequestRunner, loaded: LoadedModel, prompt_ids: torch.Tensor, sampling: Sampling,
                 session: InferenceSession):
        self.runner = runner
        self.loaded = loaded
        self.prompt_ids = prompt_ids
        self.sampling = sampling
        self.session = session
        self.deltas: TextDeltas | None = None

    def cancel(self) -> None:
        """Stop after the current token (the caller went away)."""
        if self.deltas is not None:
            self.deltas.cancelled = True

    def run(self, on_delta: Callable[[str], None] = lambda text: None) -> Result:
        """Generate (blocking), calling `on_delta` with each piece of text as it becomes final."""
        self.deltas = TextDeltas(self.loaded.tokenizer, list(self.sampling.stop), on_delta)
        started = time.monotonic()
        reusable = False
        try:
            output = self.runner.generate(self)
            reusable = True
            route = tuple({"peer_id": span.peer_id, "start": span.start, "end": span.end}
                          for span in self.session.route)
        finally:
            self.runner.conversations.checkin(self.session, reusable)
        generated = output[0, self.prompt_ids.shape[1]:].tolist()
        return Result(self.deltas.text, self._finish_reason(generated), self.prompt_ids.shape[1], len(generated),
                      time.monotonic() - started, route)

    def _finish_reason(self, generated: list[int]) -> str:
        if self.deltas is not None and self.deltas.stopped:
            return "stop"
        if generated and generated[-1] in self.loaded.eos_token_ids:
            return "stop"
        return "length" if len(generated) >= self.sampling.max_tokens else "stop"


class SamplingGate:
    """Who may draw from torch's global generator, which transformers' sampling uses.

    A seeded request must have it alone from its seeding to its last token, so that its text is the same
    whatever else runs; unseeded sampling may share it, and greedy decoding never draws. A seeded request
    that waits keeps new unseeded ones from starting, so it is not starved."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._sharing = 0
        self._seeded_waiting = 0
        self._seeded_running = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._seeded_running and self._seeded_waiting == 0)
            self._sharing += 1
        try:
            yield
        finally:
            with self._changed:
                self._sharing -= 1
                self._changed.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._changed:
            self._seeded_waiting += 1
            try:
                self._changed.wait_for(lambda: not self._seeded_running and self._sharing == 0)
            finally:
                self._seeded_waiting -= 1
            self._seeded_running = True
        try:
            yield
        finally:
            with self._changed:
                self._seeded_running = False
                self._changed.notify_all()

    def for_sampling(self, sampling: Sampling) -> AbstractContextManager[None]:
        """The hold a request with these settings needs while it generates."""
        if not sampling.samples:
            return nullcontext()
        return self.alone() if sampling.seeded else self.shared()


class RequestRunner:
    """Prepares and runs requests; several at once, each on its own swarm session."""

    def __init__(self, conversations: Conversations):
        self.conversations = conversations
        self.sampling_gate = SamplingGate()

    def prepare(self, loaded: LoadedModel, prompt_ids: torch.Tensor, sampling: Sampling) -> PreparedRequest:
        """Find or open the request's session (raises MissingBlocksError when the swarm cannot serve)."""
        session = self.conversations.checkout(
            loaded.name, prompt_ids, sampling.max_tokens, loaded.context_length,
            lambda max_length: loaded.model.inference_session(max_length=max_length))
        return PreparedRequest(self, loaded, prompt_ids, sampling, session)

    def generate(self, request: PreparedRequest) -> torch.Tensor:
        assert request.deltas is not None
        sampling = request.sampling
        with self.sampling_gate.for_sampling(sampling):
            if sampling.seeded:
                torch.manual_seed(sampling.seed)
            output: torch.Tensor = request.loaded.model.generate(
                request.prompt_ids, session=request.session, max_new_tokens=sampling.max_tokens,
                streamer=request.deltas, stopping_criteria=StoppingCriteriaList([StopWhen(request.deltas)]),
                pad_token_id=request.loaded.eos_token_ids[0] if request.loaded.eos_token_ids else None,
                **sampling.generate_arguments())
        return output
