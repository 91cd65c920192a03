"""Prompts as token ids: the one encoder for `meadow generate` and the node's OpenAI API."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def encode_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str | list[dict[str, str]]) -> torch.Tensor:
    """Token ids of a plain prompt, or of a conversation (messages with "role" and "content") in the model's
    own chat template, ready for the assistant's reply; callers check first that the model has a template."""
    if isinstance(prompt, str):
        encoded = tokenizer(prompt, return_tensors="pt")
    else:
        encoded = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)
    input_ids: torch.Tensor = encoded["input_ids"]
    return input_ids
