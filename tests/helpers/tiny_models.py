"""Tiny random-weight models built from a config in the test itself (no hub downloads)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, LlamaConfig

TINY_LLAMA: dict[str, Any] = {"vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 6,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
                  "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2}


def save_tiny_llama(folder: Path, seed: int = 0, **overrides) -> Path:
    torch.manual_seed(seed)
    config = LlamaConfig(**{**TINY_LLAMA, **overrides})
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    # Small shards, so servers must pick the right files from model.safetensors.index.json.
    model.save_pretrained(folder, max_shard_size="100KB")
    return folder
