"""Text deltas from generated tokens: stop sequences cut out, partial characters and stop prefixes held back."""
from __future__ import annotations

import pytest
import torch

from core.models.source import resolve_model
from core.models.weights import load_tokenizer
from core.node.text_stream import StopWhen, TextDeltas


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_model("smollm2-135m-instruct"))


def _feed(tokenizer, text: str, stop: list[str]) -> tuple[TextDeltas, list[str]]:
    pieces: list[str] = []
    deltas = TextDeltas(tokenizer, stop, pieces.append)
    deltas.put(torch.tensor([[1, 2, 3]]))  # the prompt, as generate() sends it first: never shown
    for token in tokenizer.encode(text, add_special_tokens=False):
        deltas.put(torch.tensor([token]))
        if deltas.stopped:
            break
    deltas.end()
    return deltas, pieces


def test_deltas_concatenate_to_the_decoded_text(tokenizer):
    text = "Hello there, général Kenobi! 😀 Ünïcödé and code: `x = 1`."
    deltas, pieces = _feed(tokenizer, text, [])
    assert "".join(pieces) == deltas.text == text
    assert len(pieces) > 5
    assert all("\ufffd" not in piece for piece in pieces)  # half characters are never released


def test_stop_sequence_spanning_tokens_is_cut_and_never_shown(tokenizer):
    deltas, pieces = _feed(tokenizer, "Paris is lovely. END OF ANSWER and more text", ["END OF"])
    assert deltas.stopped
    assert "".join(pieces) == deltas.text == "Paris is lovely. "
    assert all("END" not in piece for piece in pieces)


def test_a_stop_prefix_that_does_not_complete_is_released(tokenizer):
    deltas, pieces = _feed(tokenizer, "one ST two STOP three", ["STOP"])
    assert "".join(pieces) == deltas.text == "one ST two "


def test_the_earliest_of_several_stops_wins(tokenizer):
    deltas, _ = _feed(tokenizer, "alpha; beta. gamma", [".", ";"])
    assert deltas.text == "alpha"


def test_stop_criteria_follow_the_streamer(tokenizer):
    deltas = TextDeltas(tokenizer, [], lambda text: None)
    criteria = StopWhen(deltas)
    ids = torch.zeros((1, 4), dtype=torch.long)
    assert not bool(criteria(ids, torch.zeros(1, 10))[0])
    deltas.cancelled = True
    assert bool(criteria(ids, torch.zeros(1, 10))[0])
