"""Every architecture loads from a safetensors folder, from the hub's own naming (per-expert MoE tensors, nested
multimodal Gemma 3) and from a hub id, to exactly the tensors transformers' own loader produces; a config
whose block count disagrees with its weights is refused."""
from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from transformers import AutoModelForCausalLM

from core.errors import UserFacingError
from core.models.source import resolve_model
from core.models.weights import check_block_count, load_layout, load_tensors
from tests.helpers.hub_layout import (
    gemma3_multimodal_hub_names,
    mixtral_hub_names,
    publish_to_hub_cache,
    qwen_moe_hub_names,
    write_hub_checkpoint,
)
from tests.helpers.tiny_models import ARCHITECTURES, save_tiny, tiny_model


def loaded_equals_transformers(model_id: str, reference_folder: Path) -> set[str]:
    """Load every block and client tensor by `model_id`; they equal from_pretrained's. Returns the names."""
    source = resolve_model(model_id)
    layout = load_layout(source)
    check_block_count(source, layout)
    names = layout.block_names(range(layout.num_blocks)) | layout.client_names()
    tensors = load_tensors(source, layout, names, torch.float32)
    reference = AutoModelForCausalLM.from_pretrained(reference_folder, dtype=torch.float32).state_dict()
    assert set(tensors) == names
    for name, tensor in tensors.items():
        assert torch.equal(tensor, reference[name]), name
    return names


@pytest.fixture
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An offline Hugging Face hub cache in tmp_path: hub ids resolve from what tests lay out there."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return cache


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_safetensors_folder_and_hub_id_load_what_transformers_loads(name, tmp_path, hub_cache):
    folder = save_tiny(name, tmp_path / name)
    loaded_equals_transformers(str(folder), folder)
    publish_to_hub_cache(folder, f"meadow-tests/tiny-{name}", hub_cache)
    loaded_equals_transformers(f"meadow-tests/tiny-{name}", folder)


@pytest.mark.parametrize(("name", "renamer", "expert_key"), [
    ("mixtral", mixtral_hub_names, "model.layers.2.block_sparse_moe.experts.3.w1.weight"),
    ("qwen3_moe", qwen_moe_hub_names, "model.layers.2.mlp.experts.3.gate_proj.weight"),
])
def test_per_expert_hub_tensors_are_fused_as_transformers_fuses_them(name, renamer, expert_key, tmp_path):
    model = tiny_model(name)
    folder = write_hub_checkpoint(model, tmp_path / name, renamer)
    assert expert_key in (folder / "model.safetensors.index.json").read_text()  # really the hub's naming
    names = loaded_equals_transformers(str(folder), folder)
    fused = "model.layers.2.mlp.experts.gate_up_proj"
    assert fused in names
    tensors = load_tensors(resolve_model(str(folder)), load_layout(resolve_model(str(folder))), {fused}, torch.float32)
    assert torch.equal(tensors[fused], model.state_dict()[fused])  # and the fusion undoes the hub's split exactly


def test_multimodal_gemma3_serves_its_text_decoder(tmp_path):
    model = tiny_model("gemma3")
    folder = write_hub_checkpoint(model, tmp_path / "gemma3", gemma3_multimodal_hub_names)
    layout = load_layout(resolve_model(str(folder)))
    assert (layout.config.model_type, layout.decoder_config.model_type) == ("gemma3", "gemma3_text")
    assert layout.block_prefix == "model.language_model.layers.{index}."
    assert layout.client_names() == {"model.language_model.embed_tokens.weight", "model.language_model.norm.weight"}
    names = loaded_equals_transformers(str(folder), folder)
    assert not any("vision" in name or "projector" in name for name in names)


def edit_config(folder: Path, old: str, new: str) -> None:
    config = folder / "config.json"
    assert old in config.read_text()
    config.write_text(config.read_text().replace(old, new))


@pytest.mark.parametrize("layers", [3, 5])
def test_block_count_disagreeing_with_the_weights_is_refused(layers, tmp_path):
    folder = save_tiny("falcon", tmp_path / "falcon")
    edit_config(folder, '"num_hidden_layers": 4', f'"num_hidden_layers": {layers}')
    source = resolve_model(str(folder))
    with pytest.raises(UserFacingError, match=f"says the model has {layers} blocks.*hold blocks 0-3 \\(4 blocks\\)"):
        check_block_count(source, load_layout(source))


def test_an_invalid_config_is_a_clear_error(tmp_path):
    folder = save_tiny("qwen2", tmp_path / "qwen2")
    edit_config(folder, '"num_hidden_layers": 4', '"num_hidden_layers": 3')  # disagrees with its own layer_types
    with pytest.raises(UserFacingError, match=r"(?s)config of .* is invalid: .*layer_types"):
        load_layout(resolve_model(str(folder)))


@pytest.mark.parametrize("model_type", ["gpt2", "no-such-architecture"])
def test_an_unsupported_architecture_is_refused_naming_the_supported_ones(model_type, tmp_path):
    folder = save_tiny("qwen2", tmp_path / "model")
    edit_config(folder, '"model_type": "qwen2"', f'"model_type": "{model_type}"')
    with pytest.raises(UserFacingError, match=f"Architecture '{model_type}' is not supported yet \\(supported: llama, "
                                              "mistral, mixtral, qwen2, qwen3, qwen3_moe, phi3, gemma2, gemma3_text, "
                                              "gemma3, bloom, falcon\\)"):
        load_layout(resolve_model(str(folder)))
