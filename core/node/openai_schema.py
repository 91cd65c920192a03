"""Requests of the OpenAI-compatible API, validated strictly (a string is not a number), and their prompts.

Fields OpenAI defines that Meadow does not use (presence_penalty, user, ...) are accepted and ignored, as
OpenAI's own clients send them; fields that would change the answer and are unsupported (n > 1) fail.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from core.models.prompts import encode_prompt
from core.node.api_errors import ApiError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase



class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class StreamOptions(_Strict):
    include_usage: bool = False


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ChatMessage(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class _GenerationRequest(_Strict):
    model: str = Field(min_length=1, max_length=512)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-(2 ** 63), le=2 ** 64 - 1)  # what torch.manual_seed accepts
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1)

    def stop_sequences(self) -> tuple[str, ...]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > 4 or any(not item or len(item) > 256 for item in stops):
            raise ApiError(400, "stop: up to 4 non-empty sequences of at most 256 characters", param="stop",
                           code="invalid_value")
        return tuple(stops)

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class ChatRequest(_GenerationRequest):
    messages: list[ChatMessage] = Field(min_length=1, max_length=10_000)
    max_completion_tokens: int | None = Field(None, ge=1)

    @property
    def requested_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_GenerationRequest):
    prompt: str | list[str]
    echo: bool = False

    @property
    def requested_tokens(self) -> int | None:
        return self.max_tokens

    def prompt_text(self) -> str:
        if isinstance(self.prompt, list):
            if len(self.prompt) != 1:
                raise ApiError(400, "prompt: send one prompt per request", param="prompt", code="invalid_value")
            return self.prompt[0]
        return self.prompt


def chat_prompt_ids(tokenizer: PreTrainedTokenizerBase, messages: list[ChatMessage]) -> torch.Tensor:
    """The model's own chat template applied to the messages, ready for the assistant's reply."""
    if not getattr(tokenizer, "chat_template", None):
        raise ApiError(400, "This model has no chat template; use /v1/completions", code="no_chat_template")
    conversation = [{"role": "system" if message.role == "developer" else message.role, "content": message.text()}
                    for message in messages]
    return encode_prompt(tokenizer, conversation)


def text_prompt_ids(tokenizer: PreTrainedTokenizerBase, prompt: str) -> torch.Tensor:
    if not prompt:
        raise ApiError(400, "prompt: must not be empty", param="prompt", code="invalid_value")
    return encode_prompt(tokenizer, prompt)
