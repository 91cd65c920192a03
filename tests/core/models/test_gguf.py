"""Tiny GGUF files written by the `gguf` package's writer load, through Meadow's by-name reader, to exactly the
tensors transformers' own GGUF loader produces, for every architecture both support (Mistral GGUFs are llama.cpp's
"llama" architecture; transformers loads them as Llama, and so does Meadow)."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, MistralConfig

from core.models.source import resolve_model
from core.models.weights import check_block_count, load_layout, load_tensors
from tests.helpers.gguf_files import write_gguf
from tests.helpers.tiny_models import tiny_model

# What transformers' GGUF config parser does not read must be at its default here: Qwen 3's head_dim and
# Qwen 3 MoE's expert width come from the config class, not from the file.
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "qwen2": ("qwen2", {}),
    "qwen3": ("qwen3", {"head_dim": 128}),
    "qwen3_moe": ("qwen3moe", {"head_dim": 128, "moe_intermediate_size": 768, "mlp_only_layers": []}),
    "falcon-7b": ("falcon", {}),
    "bloom": ("bloom", {}),
    "phi3": ("phi3", {}),
    "gemma2": ("gemma2", {}),
    "gemma3_text": ("gemma3", {}),
}


def tiny_mistral():
    torch.manual_seed(0)
    config = MistralConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=16)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


@pytest.mark.parametrize("name", [*sorted(CASES), "mistral"])
def test_gguf_loads_to_the_tensors_transformers_loads(name, tmp_path):
    if name == "mistral":
        path = write_gguf(tiny_mistral(), tmp_path / "tiny.gguf", "llama", name="tiny-mistral")
    else:
        architecture, overrides = CASES[name]
        path = write_gguf(tiny_model(name, **overrides), tmp_path / "tiny.gguf", architecture)
    reference = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=path.name, dtype=torch.float32).state_dict()
    source = resolve_model(str(path))
    layout = load_layout(source)
    check_block_count(source, layout)
    names = layout.block_names(range(layout.num_blocks)) | layout.client_names()
    tensors = load_tensors(source, layout, names, torch.float32)
    assert set(tensors) == names and len(names) > 4 * 4
    for tensor_name, tensor in tensors.items():
        assert torch.equal(tensor, reference[tensor_name]), tensor_name


@pytest.mark.parametrize("name", ["qwen2", "qwen3_moe"])
def test_gguf_written_from_a_qwen_model_holds_that_model(name, tmp_path):
    """The writer itself is faithful where llama.cpp applies no value transforms: the file holds the model's
    tensors (Q8_0 rounding aside), its fused experts included."""
    architecture, overrides = CASES[name]
    model = tiny_model(name, **overrides)
    path = write_gguf(model, tmp_path / "tiny.gguf", architecture)
    source = resolve_model(str(path))
    layout = load_layout(source)
    tensors = load_tensors(source, layout, layout.block_names([1]), torch.float32)
    assert "model.layers.1.mlp.experts.gate_up_proj" in tensors or name == "qwen2"
    for tensor_name, tensor in tensors.items():
        original = model.state_dict()[tensor_name]
        bound = 0 if tensor.ndim == 1 else original.abs().max().item() / 127  # Q8_0: 8-bit steps per 32 values
        assert (tensor - original).abs().max().item() <= bound, tensor_name
