"""Generated tokens to text deltas, with OpenAI `stop` sequences cut out of the text.

transformers' generate() pushes each new token into a streamer. The whole reply is re-decoded each time
(so multi-token characters and word joins come out right), and text is released only when it can no
longer change: never a trailing partial character, never the start of a stop sequence.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import torch
from transformers.generation.stopping_criteria import StoppingCriteria
from transformers.generation.streamers import BaseStreamer

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

_INCOMPLETE = "\ufffd"  # what a tokenizer decodes half of a multi-byte character to


class TextDeltas(BaseStreamer):
    """Receives the prompt, then each generated token; calls `on_delta(text)` with text safe to show."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: list[str], on_delta: Callable[[str], None]):
        self.tokenizer = tokenizer
        self.stop = [item for item in stop if item]
        self.on_delta = on_delta
        self.token_ids: list[int] = []
        self.text = ""  # the reply so far, cut at a stop sequence once one appears
        self.stopped = False  # a stop sequence appeared
        self.cancelled = False  # the caller went away
        self._released = 0
        self._seen_prompt = False

    def put(self, value: torch.Tensor) -> None:
        if not self._seen_prompt:
            self._seen_prompt = True
            return
        if self.stopped:
            return
        self.token_ids.extend(int(token) for token in value.reshape(-1).tolist())
        self._update(final=False)

    def end(self) -> None:
        if not self.stopped:
            self._update(final=True)

    def _update(self, final: bool) -> None:
        text = self.tokenizer.decode(self.token_ids, skip_special_tokens=True)
        assert isinstance(text, str)  # one sequence of ids decodes to one string
        cut = self._stop_position(text)
        if cut is not None:
            self.stopped = True
            text, safe = text[:cut], cut
        elif final:
            safe = len(text)
        else:
            safe = len(text) - self._held_back(text)
        self.text = text
        if safe > self._released:
            delta, self._released = text[self._released:safe], safe
            self.on_delta(delta)

    def _stop_position(self, text: str) -> int | None:
        found = [index for index in (text.find(item, max(0, self._released - len(item))) for item in self.stop)
                 if index >= 0]
        return min(found) if found else None

    def _held_back(self, text: str) -> int:
        """Characters at the end of `text` that may still change: a partial character or a stop prefix."""
        if text.endswith(_INCOMPLETE):
            return len(text) - self._released
        longest = 0
        for item in self.stop:
            for size in range(min(len(item) - 1, len(text)), longest, -1):
                if text.endswith(item[:size]):
                    longest = size
                    break
        return longest


class StopWhen(StoppingCriteria):
    """Ends generation once the streamer saw a stop sequence or the caller went away."""

    def __init__(self, deltas: TextDeltas):
        self.deltas = deltas

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: object) -> torch.BoolTensor:
        done = self.deltas.stopped or self.deltas.cancelled
        flags = torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)
        return cast(torch.BoolTensor, flags)  # transformers' name for a bool tensor; no such class is made
