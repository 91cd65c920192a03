"""Load a model's config, tokenizer and only the tensors a peer needs, from GGUF or safetensors.

The GGUF path reuses transformers' own tensor processors and name map, so every tensor equals what
`AutoModelForCausalLM.from_pretrained(folder, gguf_file=...)` holds (same dequantization, same Q/K
un-permutation), while reading only the requested tensors from the memory-mapped file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig

from core.models.gguf_index import GGUFIndex
from core.models.source import ModelSource, ensure_file, safetensors_files_for
from core.paths import meadow_home, write_atomically

if TYPE_CHECKING:  # imported where used: the tokenizer and GGUF code load slowly and only some commands need them
    from transformers import PreTrainedTokenizerBase
    from transformers.modeling_gguf_pytorch_utils import TensorProcessor

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


def load_config(source: ModelSource) -> PretrainedConfig:
    """The model's config (for GGUF: parsed from its metadata once, then cached), with sdpa attention."""
    config = AutoConfig.from_pretrained(source.folder) if source.gguf_file is None else _cached_gguf_config(source)
    config._attn_implementation = "sdpa"  # what from_pretrained picks on CPU and CUDA; blocks must match it
    return config


def _cached_gguf_config(source: ModelSource) -> PretrainedConfig:
    # Parsing GGUF metadata walks the whole vocabulary (seconds); the config itself is small, so cache it.
    cache_file = meadow_home() / "cache" / "gguf-configs" / f"{_gguf_digest(source)}.json"
    if cache_file.is_file():
        try:
            cached: PretrainedConfig = AutoConfig.for_model(**json.loads(cache_file.read_text()))
            return cached
        except (ValueError, OSError, KeyError) as error:
            logger.warning("Ignoring unreadable config cache %s: %s", cache_file, error)
    config: PretrainedConfig = AutoConfig.from_pretrained(source.folder, gguf_file=source.gguf_file)
    write_atomically(cache_file, json.dumps(config.to_dict()).encode())
    return config


def load_tokenizer(source: ModelSource) -> PreTrainedTokenizerBase:
    """The model's tokenizer; a GGUF's is rebuilt from its metadata once, then loaded from a cached copy."""
    from transformers import AutoTokenizer

    if source.gguf_file is None:
        return AutoTokenizer.from_pretrained(source.folder)
    cached = meadow_home() / "cache" / "gguf-tokenizers" / _gguf_digest(source)
    if (cached / "tokenizer_config.json").is_file():
        try:
            return AutoTokenizer.from_pretrained(cached)
        except (OSError, ValueError) as error:
            logger.warning("Ignoring unreadable tokenizer cache %s: %s", cached, error)
    tokenizer = AutoTokenizer.from_pretrained(source.folder, gguf_file=source.gguf_file)
    staging = cached.with_name(f".{cached.name}-{os.getpid()}")
    tokenizer.save_pretrained(staging)
    shutil.rmtree(cached, ignore_errors=True)
    os.replace(staging, cached)  # atomic: readers see a complete folder or none
    return tokenizer


def _gguf_digest(source: ModelSource) -> str:
    stat = source.gguf_path.stat()
    key = f"{source.gguf_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def block_tensor_names(config: PretrainedConfig, prefix_template: str, indices: Iterable[int]) -> set[str]:
    """Full state-dict names of the tensors of the given blocks."""
    wanted_prefixes = tuple(prefix_template.format(index=index) for index in indices)
    return {name for name in _meta_state_dict_names(config) if name.startswith(wanted_prefixes)}


def load_tensors(
    source: ModelSource,
    config: PretrainedConfig,
    names: set[str],
    dtype: torch.dtype,
    progress: ProgressCallback | None = None,
) -> dict[str, torch.Tensor]:
    """Read exactly the tensors `names` (state-dict names) and nothing else."""
    if source.gguf_file is not None:
        tensors = _load_from_gguf(source, config, names, progress)
    else:
        tensors = _load_from_safetensors(source, names, progress)
    return {name: tensor.to(dtype) if tensor.is_floating_point() else tensor for name, tensor in tensors.items()}


def _meta_state_dict_names(config: PretrainedConfig) -> list[str]:
    return list(_meta_model(config).state_dict().keys())


def _meta_model(config: PretrainedConfig) -> torch.nn.Module:
    with torch.device("meta"):
        model: torch.nn.Module = AutoModelForCausalLM.from_config(config)
    return model


def _load_from_gguf(
    source: ModelSource, config: PretrainedConfig, names: set[str], progress: ProgressCallback | None
) -> dict[str, torch.Tensor]:
    from gguf import dequantize
    from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, TensorProcessor

    index = GGUFIndex(source.gguf_path)  # memory-mapped: untouched tensors are never read
    processor_class: type[TensorProcessor] = TENSOR_PROCESSORS.get(index.architecture, TensorProcessor)
    processor = processor_class(config=config.to_dict())
    gguf_to_hf = gguf_name_map(config, processor, names)
    wanted = [tensor for tensor in index.tensors if tensor.name in gguf_to_hf]
    tensors: dict[str, torch.Tensor] = {}
    for done, tensor in enumerate(wanted, start=1):
        # The same steps, in the same order, as transformers' load_gguf_checkpoint.
        weights = dequantize(tensor.data, tensor.tensor_type)
        result = processor.process(weights=weights, name=tensor.name, tensor_key_mapping=gguf_to_hf,
                                   parsed_parameters={"tensors": {}, "config": config.to_dict()})
        tensors[gguf_to_hf[result.name]] = torch.from_numpy(np.copy(result.weights))
        if progress:
            progress(done, len(wanted))
    return tensors


def gguf_name_map(config: PretrainedConfig, processor: TensorProcessor, names: set[str]) -> dict[str, str]:
    """GGUF tensor name -> state-dict name, for `names`, as transformers' get_gguf_hf_weights_map maps them."""
    from gguf import MODEL_ARCH_NAMES, get_tensor_name_map

    arch = next(key for key, value in MODEL_ARCH_NAMES.items() if value == config.model_type)
    name_map = get_tensor_name_map(arch, config.num_hidden_layers)
    mapping = {}
    for hf_name in names:
        base, _, suffix = processor.preprocess_name(hf_name).rpartition(".")
        gguf_name = name_map.get_name(base)
        if gguf_name is not None:
            mapping[f"{gguf_name}.{suffix}"] = hf_name
    return mapping


def _load_from_safetensors(
    source: ModelSource, names: set[str], progress: ProgressCallback | None
) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    tensors: dict[str, torch.Tensor] = {}
    index = ensure_file(source, "model.safetensors.index.json", optional=True)
    files = safetensors_files_for(index.parent, sorted(names)) if index.is_file() else ["model.safetensors"]
    for filename in files:
        path: Path = ensure_file(source, filename)
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 - safetensors' handle has keys() but is not iterable
                if name in names:
                    tensors[name] = handle.get_tensor(name)
                    if progress:
                        progress(len(tensors), len(names))
    return tensors
