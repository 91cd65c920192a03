"""Reading tensors from a safetensors checkpoint by their model names, as transformers' own loader reads them.

Checkpoint names are not always the model's. A hub Mixtral stores each expert apart
(`block_sparse_moe.experts.3.w1.weight`) where transformers 5 has one fused 3-D parameter per block
(`mlp.experts.gate_up_proj`), and a multimodal Gemma 3 nests its text decoder under `language_model.model.`.
transformers renames and fuses them on load with per-architecture rules (transformers.conversion_mapping).
This module applies those same rules, in the same order and with the same operations, to the checkpoint
tensors behind the requested names only, so that a server reads its own blocks and nothing else.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from transformers import PreTrainedModel
from transformers.conversion_mapping import get_model_conversion_mapping
from transformers.core_model_loading import WeightConverter, WeightRenaming, dot_natural_key, rename_source_key

from core.models.source import ModelSource, ensure_file

ProgressCallback = Callable[[int, int], None]


@dataclass
class _Target:
    """One model tensor and the checkpoint tensors it is made from (one, or several to fuse)."""

    sources: list[tuple[str, str | None]] = field(default_factory=list)  # (checkpoint key, converter pattern)
    converter: WeightConverter | None = None


class CheckpointNames:
    """The names of a checkpoint's tensors, each mapped to the model name transformers' loader gives it."""

    def __init__(self, model: PreTrainedModel, keys: dict[str, str]):
        self.model = model
        self.files = keys  # checkpoint key -> file holding it
        transforms = get_model_conversion_mapping(model)
        renamings = [entry for entry in transforms if isinstance(entry, WeightRenaming)]
        converters = [entry for entry in transforms if isinstance(entry, WeightConverter)]
        by_pattern = {pattern: converter for converter in converters for pattern in converter.source_patterns}
        meta_state = model.state_dict()
        self.targets: dict[str, _Target] = {}
        self.renamed: list[str] = []  # every checkpoint key's model name, including names the model does not have
        for key in sorted(keys, key=dot_natural_key):  # the order transformers collects (and fuses) them in
            renamed, pattern = rename_source_key(key, renamings, converters, model.base_model_prefix, meta_state)
            if renamed not in meta_state and key in meta_state:  # the same fallback as transformers' loader
                renamed, pattern = rename_source_key(key, [], [], model.base_model_prefix, meta_state)
            self.renamed.append(renamed)
            if renamed not in meta_state:
                continue  # a tensor the model does not have (a vision tower's, say): transformers skips it too
            target = self.targets.setdefault(renamed, _Target())
            target.sources.append((key, pattern))
            if pattern is not None and target.converter is None:
                target.converter = copy.deepcopy(by_pattern[pattern])

    def read(self, source: ModelSource, names: set[str], progress: ProgressCallback | None = None
             ) -> dict[str, torch.Tensor]:
        """The model tensors `names` that the checkpoint holds, each file opened once."""
        from safetensors import safe_open

        wanted = [self.targets[name] for name in sorted(names) if name in self.targets]
        by_file: dict[str, set[str]] = {}
        for target in wanted:
            for key, _ in target.sources:
                by_file.setdefault(self.files[key], set()).add(key)
        raw: dict[str, torch.Tensor] = {}
        total = sum(len(keys) for keys in by_file.values())
        for filename, keys in sorted(by_file.items()):
            with safe_open(str(ensure_file(source, filename)), framework="pt") as handle:
                for key in sorted(keys, key=dot_natural_key):
                    raw[key] = handle.get_tensor(key)
                    if progress:
                        progress(len(raw), total)
        tensors: dict[str, torch.Tensor] = {}
        for name in sorted(names):
            if name in self.targets:
                tensors.update(self._convert(name, self.targets[name], raw))
        return tensors

    def _convert(self, name: str, target: _Target, raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if target.converter is None:
            return {name: raw.pop(target.sources[0][0])}
        converter = copy.deepcopy(target.converter)
        for key, pattern in target.sources:
            # Plain tensors, as transformers' own saving path passes them (materialize_tensors takes them as is).
            converter.add_tensor(name, key, pattern or key, cast("Future[Any]", raw.pop(key)))
        converted = converter.convert(name, model=self.model, config=self.model.config)
        return {key: value[0] if isinstance(value, list) else value for key, value in converted.items()}


def checkpoint_files(source: ModelSource) -> dict[str, str]:
    """Every tensor name of a safetensors checkpoint and the file holding it (from the shard index if any, else
    from the single file's header)."""
    from safetensors import safe_open

    index = ensure_file(source, "model.safetensors.index.json", optional=True)
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        return {str(key): str(filename) for key, filename in weight_map.items()}
    with safe_open(str(ensure_file(source, "model.safetensors")), framework="pt") as handle:
        return dict.fromkeys(handle.keys(), "model.safetensors")
