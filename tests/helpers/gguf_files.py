"""Tiny GGUF files written with the `gguf` package's own writer, named and laid out as llama.cpp's converter
writes them: block weights as `blk.N.*`, experts as one 3-D tensor per projection, 2-D weights in Q8_0 (so
reading them dequantizes), everything else in F32."""
from __future__ import annotations

import re
from pathlib import Path

import gguf
import numpy as np
import torch
from transformers import PretrainedConfig, PreTrainedModel

_EXPERTS = re.compile(r"^model\.layers\.(\d+)\.mlp\.experts\.(gate_up_proj|down_proj)$")


def write_gguf(model: PreTrainedModel, path: Path, architecture: str, name: str = "") -> Path:
    """`model` as a GGUF file of llama.cpp's `architecture`, its tensors written under llama.cpp's names but
    without the value transforms its converter applies for some architectures (Llama's Q/K permutation, BLOOM's
    QKV layout): so the file equals the model only for architectures without them (Qwen), and any file tests
    that two loaders read it alike."""
    config = model.config
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_name(name or f"tiny-{architecture}")
    _add_metadata(writer, config)
    names = gguf.get_tensor_name_map(_arch(architecture), config.num_hidden_layers)
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        for gguf_name, array in _gguf_tensors(names, name, tensor):
            _add(writer, gguf_name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _add_metadata(writer: gguf.GGUFWriter, config: PretrainedConfig) -> None:
    """The hyperparameters llama.cpp writes, from whichever of them the config has."""
    fields = {
        "add_block_count": "num_hidden_layers", "add_context_length": "max_position_embeddings",
        "add_embedding_length": "hidden_size", "add_feed_forward_length": "intermediate_size",
        "add_head_count": "num_attention_heads", "add_head_count_kv": "num_key_value_heads",
        "add_layer_norm_rms_eps": "rms_norm_eps", "add_layer_norm_eps": "layer_norm_epsilon",
        "add_vocab_size": "vocab_size", "add_key_length": "head_dim", "add_sliding_window": "sliding_window",
        "add_expert_count": "num_experts", "add_expert_used_count": "num_experts_per_tok",
        "add_expert_feed_forward_length": "moe_intermediate_size", "add_bos_token_id": "bos_token_id",
        "add_eos_token_id": "eos_token_id", "add_pad_token_id": "pad_token_id",
    }
    for method, field in fields.items():
        value = getattr(config, field, None)
        if value is not None:
            getattr(writer, method)(value)
    rope = getattr(config, "rope_parameters", None) or {}
    if "rope_theta" in rope:
        writer.add_rope_freq_base(rope["rope_theta"])


def _arch(architecture: str) -> gguf.MODEL_ARCH:
    return next(key for key, value in gguf.MODEL_ARCH_NAMES.items() if value == architecture)


def _gguf_tensors(names: gguf.TensorNameMap, name: str, tensor: torch.Tensor) -> list[tuple[str, np.ndarray]]:
    array = tensor.detach().float().numpy()
    experts = _EXPERTS.match(name)
    if experts:  # llama.cpp keeps the experts' gate and up projections apart
        block, kind = experts.groups()
        if kind == "down_proj":
            return [(f"blk.{block}.ffn_down_exps.weight", array)]
        half = array.shape[1] // 2
        return [(f"blk.{block}.ffn_gate_exps.weight", array[:, :half]), (f"blk.{block}.ffn_up_exps.weight",
                                                                          array[:, half:])]
    base, _, suffix = name.rpartition(".")
    mapped = names.get_name(base) or names.get_name(base.partition(".")[2])  # BLOOM's are known without "transformer."
    assert mapped is not None, name
    return [(f"{mapped}.{suffix}", array)]


def _add(writer: gguf.GGUFWriter, name: str, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    if array.ndim == 2 and array.shape[-1] % 32 == 0:
        quantized = gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor(name, quantized, raw_shape=quantized.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    else:
        writer.add_tensor(name, array.astype(np.float32))
