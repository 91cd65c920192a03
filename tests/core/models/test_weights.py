"""The loader reads exactly the tensors transformers' own loader produces, and only the ones asked for."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from core.models.source import resolve_model
from core.models.weights import load_config, load_layout, load_tensors

SMOLLM = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def smollm_reference():
    source = resolve_model(SMOLLM)
    model = AutoModelForCausalLM.from_pretrained(source.folder, gguf_file=source.gguf_file, dtype=torch.float32)
    return model.state_dict()


def test_gguf_block_and_client_tensors_equal_transformers(smollm_reference):
    source = resolve_model(SMOLLM)
    layout = load_layout(source)
    names = layout.block_names(range(layout.num_blocks)) | layout.client_names()
    assert layout.client_names() == {"model.embed_tokens.weight", "model.norm.weight"}  # the head is tied
    tensors = load_tensors(source, layout, names, torch.float32)
    assert set(tensors) == names
    assert len(names) == 9 * 30 + 2
    for name, tensor in tensors.items():
        assert tensor.dtype == smollm_reference[name].dtype, name
        assert torch.equal(tensor, smollm_reference[name]), name


def test_only_requested_blocks_are_read():
    source = resolve_model(SMOLLM)
    layout = load_layout(source)
    tensors = load_tensors(source, layout, layout.block_names(range(15, 17)), torch.float32)
    assert sorted({name.split(".")[2] for name in tensors}) == ["15", "16"]
    assert not any("embed" in name or "lm_head" in name for name in tensors)


def test_gguf_config_comes_from_metadata_and_is_cached(meadow_home):
    source = resolve_model(SMOLLM)
    first = load_config(source)
    cached = list((meadow_home / "cache" / "gguf-configs").glob("*.json"))
    second = load_config(source)
    assert cached, "the parsed GGUF config is cached in MEADOW_HOME"
    assert (first.model_type, first.num_hidden_layers, first.hidden_size, first.num_key_value_heads) == \
        ("llama", 30, 576, 3)
    assert first.to_dict() == second.to_dict()


def test_safetensors_shards_equal_saved_model(tiny_llama):
    source = resolve_model(str(tiny_llama))
    layout = load_layout(source)
    reference = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32).state_dict()
    names = layout.block_names([2, 3])
    tensors = load_tensors(source, layout, names, torch.float32)
    assert names and set(tensors) == names
    for name, tensor in tensors.items():
        assert torch.equal(tensor, reference[name]), name
