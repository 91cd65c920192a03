"""Checkpoints written the way the Hugging Face hub holds them, and a local hub cache that serves them offline.

transformers 5 keeps a mixture of experts as fused 3-D parameters, but hub checkpoints store each expert apart,
and multimodal Gemma 3 checkpoints nest the text decoder under `language_model.model.`. These writers produce
those names from a model's state dict by hand (not through save_pretrained), so that loaders are tested against
the hub's naming itself.
"""
from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import PreTrainedModel

Renamer = Callable[[str, torch.Tensor], dict[str, torch.Tensor]]
_FUSED = re.compile(r"^(?P<block>model\.layers\.\d+\.mlp)\.experts\.(?P<kind>gate_up_proj|down_proj)$")


def mixtral_hub_names(name: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mixtral as on the hub: `block_sparse_moe.experts.E.w1/w3` (gate, up) and `.w2` (down) per expert."""
    match = _FUSED.match(name)
    if match is None:
        return {name.replace(".mlp.", ".block_sparse_moe."): tensor}
    block = match["block"].replace(".mlp", ".block_sparse_moe")
    return _per_expert(block, match["kind"], tensor, ("w1", "w3", "w2"))


def qwen_moe_hub_names(name: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    """Qwen MoE as on the hub: `mlp.experts.E.gate_proj/up_proj/down_proj` per expert."""
    match = _FUSED.match(name)
    if match is None:
        return {name: tensor}
    return _per_expert(match["block"], match["kind"], tensor, ("gate_proj", "up_proj", "down_proj"))


def _per_expert(block: str, kind: str, tensor: torch.Tensor, names: tuple[str, str, str]) -> dict[str, torch.Tensor]:
    gate, up, down = names
    result = {}
    for expert, weights in enumerate(tensor):
        if kind == "down_proj":
            result[f"{block}.experts.{expert}.{down}.weight"] = weights.clone()
        else:  # the fused parameter is [gate; up] along its rows
            half = weights.shape[0] // 2
            result[f"{block}.experts.{expert}.{gate}.weight"] = weights[:half].clone()
            result[f"{block}.experts.{expert}.{up}.weight"] = weights[half:].clone()
    return result


def gemma3_multimodal_hub_names(name: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    """Multimodal Gemma 3 as google/gemma-3-*-it holds it: `language_model.model.*`, `vision_tower.*`,
    `multi_modal_projector.*`, and no separate head (it is tied to the embedding)."""
    if name == "lm_head.weight":
        return {}
    for ours, theirs in (("model.language_model.", "language_model.model."), ("model.vision_tower.", "vision_tower."),
                         ("model.multi_modal_projector.", "multi_modal_projector.")):
        if name.startswith(ours):
            return {theirs + name[len(ours):]: tensor}
    raise ValueError(f"unexpected tensor {name}")


def write_hub_checkpoint(model: PreTrainedModel, folder: Path, renamer: Renamer, shards: int = 3) -> Path:
    """The model's config and weights in `folder`, tensors renamed by `renamer`, in `shards` files with an index."""
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(folder)
    tensors: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        tensors.update(renamer(name, tensor.contiguous()))
    names = sorted(tensors)
    weight_map = {}
    for shard in range(shards):
        filename = f"model-{shard + 1:05d}-of-{shards:05d}.safetensors"
        part = {name: tensors[name] for name in names[shard::shards]}
        save_file(part, str(folder / filename), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, filename))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


def publish_to_hub_cache(folder: Path, repo_id: str, cache: Path, revision: str = "0" * 40) -> None:
    """Lay `folder` out in a Hugging Face hub cache as repo `repo_id` at `revision`, as a download would leave it
    (huggingface_hub then resolves the id offline)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
