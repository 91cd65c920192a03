"""Tiny random-weight models built from a config in the test itself (no hub downloads)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, PretrainedConfig, PreTrainedModel

TINY_LLAMA: dict[str, Any] = {"vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 6,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
                  "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2}

WINDOW = 4  # every sliding window of the tiny configs: prompts of ARCHITECTURE_PROMPT's length exceed it
_BASE: dict[str, Any] = {"vocab_size": 512, "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
                         "max_position_embeddings": 512, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0}
_DENSE = {**_BASE, "num_key_value_heads": 2, "intermediate_size": 128}
SLIDING, FULL = "sliding_attention", "full_attention"

# One tiny config per architecture (and per variant where an architecture has several block shapes). Each
# exercises what sets its family apart: sliding windows, soft-capping, experts, ALiBi, multi-query attention.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "qwen2": dict(_DENSE, model_type="qwen2", use_sliding_window=True, sliding_window=WINDOW, max_window_layers=2,
                  tie_word_embeddings=False),
    "qwen3": dict(_DENSE, model_type="qwen3", head_dim=16, use_sliding_window=True, sliding_window=WINDOW,
                  max_window_layers=1, tie_word_embeddings=False),
    "qwen3_moe": dict(_DENSE, model_type="qwen3_moe", head_dim=16, num_experts=4, num_experts_per_tok=2,
                      moe_intermediate_size=32, mlp_only_layers=[0], tie_word_embeddings=False),
    "mixtral": dict(_DENSE, model_type="mixtral", num_local_experts=4, num_experts_per_tok=2, sliding_window=WINDOW,
                    tie_word_embeddings=False),
    "phi3": dict(_DENSE, model_type="phi3", sliding_window=WINDOW, tie_word_embeddings=False),
    "gemma2": dict(_DENSE, model_type="gemma2", head_dim=16, sliding_window=WINDOW, query_pre_attn_scalar=16,
                   attn_logit_softcapping=50.0, final_logit_softcapping=30.0),
    "gemma3_text": dict(_DENSE, model_type="gemma3_text", head_dim=16, sliding_window=WINDOW,
                        layer_types=[SLIDING, SLIDING, FULL, SLIDING], final_logit_softcapping=30.0),
    "bloom": {"model_type": "bloom", "vocab_size": 512, "hidden_size": 64, "n_layer": 4, "n_head": 4,
              "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0},
    # Falcon 40B/180B ("new decoder architecture": grouped-query attention, two layer norms, parallel MLP)
    "falcon": dict(_BASE, model_type="falcon", new_decoder_architecture=True, num_kv_heads=2),
    # Falcon 7B: multi-query attention, one layer norm, parallel attention and MLP
    "falcon-7b": dict(_BASE, model_type="falcon", new_decoder_architecture=False, multi_query=True,
                      parallel_attn=True),
    # Falcon RW: ALiBi, full multi-head attention, sequential attention then MLP, biases
    "falcon-rw": dict(_BASE, model_type="falcon", new_decoder_architecture=False, multi_query=False,
                      parallel_attn=False, alibi=True, bias=True),
}


def tiny_gemma3_multimodal_config() -> PretrainedConfig:
    """A multimodal Gemma 3 (model_type gemma3) whose text decoder is the tiny gemma3_text, with a tiny SigLIP
    vision tower; its image tokens are the vocabulary's last ids."""
    text = {key: value for key, value in ARCHITECTURES["gemma3_text"].items() if key != "model_type"}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
              "image_size": 28, "patch_size": 14}
    return AutoConfig.for_model("gemma3", text_config=text, vision_config=vision, mm_tokens_per_image=4,
                                image_token_index=509, boi_token_index=510, eoi_token_index=511)


def tiny_config(name: str, **overrides: Any) -> PretrainedConfig:
    if name == "gemma3":
        return tiny_gemma3_multimodal_config()
    fields = {**ARCHITECTURES[name], **overrides}
    return AutoConfig.for_model(fields.pop("model_type"), **fields)


def tiny_model(name: str, seed: int = 0, **overrides: Any) -> PreTrainedModel:
    """transformers' own model of the tiny config, random weights from `seed`, in float32 (not yet loaded from
    files: tests that compare with from_pretrained save it first)."""
    torch.manual_seed(seed)
    model: PreTrainedModel = AutoModelForCausalLM.from_config(tiny_config(name, **overrides), dtype=torch.float32)
    return model.eval()


def save_tiny(name: str, folder: Path, seed: int = 0, **overrides: Any) -> Path:
    tiny_model(name, seed, **overrides).save_pretrained(folder)
    return folder


def save_tiny_llama(folder: Path, seed: int = 0, **overrides: Any) -> Path:
    torch.manual_seed(seed)
    config = LlamaConfig(**{**TINY_LLAMA, **overrides})
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    # Small shards, so servers must pick the right files from model.safetensors.index.json.
    model.save_pretrained(folder, max_shard_size="100KB")
    return folder
