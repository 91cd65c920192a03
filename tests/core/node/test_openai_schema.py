from __future__ import annotations

import pytest

from core.node.api_errors import ApiError, parse_body
from core.node.openai_schema import ChatRequest, CompletionRequest

GOOD = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("change,param", [
    ({"max_tokens": "5"}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"temperature": True}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"n": 2}, "n"),
    ({"seed": 2 ** 70}, "seed"),
    ({"stream": "yes"}, "stream"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content.str"),
    ({"model": ""}, "model"),
])
def test_wrong_values_name_their_field(change, param):
    with pytest.raises(ApiError) as raised:
        parse_body(ChatRequest, {**GOOD, **change})
    assert raised.value.status == 400 and raised.value.param.startswith(param.split(".")[0])
    assert raised.value.body()["error"]["type"] == "invalid_request_error"


def test_content_parts_and_unknown_openai_fields_are_accepted():
    request = parse_body(ChatRequest, {**GOOD, "presence_penalty": 0.5, "user": "someone", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]})
    assert request.messages[0].text() == "ab"


def test_stop_sequences_are_bounded():
    assert parse_body(ChatRequest, {**GOOD, "stop": "x"}).stop_sequences() == ("x",)
    with pytest.raises(ApiError):
        parse_body(ChatRequest, {**GOOD, "stop": ["a", ""]}).stop_sequences()


def test_completion_prompt_is_one_text():
    assert parse_body(CompletionRequest, {"model": "m", "prompt": ["only"]}).prompt_text() == "only"
    with pytest.raises(ApiError):
        parse_body(CompletionRequest, {"model": "m", "prompt": ["a", "b"]}).prompt_text()
    with pytest.raises(ApiError):
        parse_body(CompletionRequest, ["not", "an", "object"])
