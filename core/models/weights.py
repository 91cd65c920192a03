"""Load a model's config, tokenizer and only the tensors a peer needs, from GGUF or safetensors.

Both paths reuse transformers' own name maps and conversions (core/models/checkpoint.py, gguf_tensors.py), so
every tensor equals what `AutoModelForCausalLM.from_pretrained` holds, while reading only the requested ones.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from huggingface_hub.errors import StrictDataclassError
from transformers import AutoConfig, PretrainedConfig

from core.errors import UserFacingError, format_ranges
from core.models.checkpoint import CheckpointNames, checkpoint_files
from core.models.gguf_tensors import GGUFNames
from core.models.layout import ModelLayout, model_layout
from core.models.source import ModelSource
from core.paths import meadow_home, write_atomically

if TYPE_CHECKING:  # imported where used: the tokenizer code loads slowly and only some commands need it
    from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


def load_config(source: ModelSource) -> PretrainedConfig:
    """The model's config (for GGUF: parsed from its metadata once, then cached). Its attention and experts
    implementations are settled by core.models.layout.model_layout, as from_pretrained settles them."""
    if source.gguf_file is None:
        try:
            config: PretrainedConfig = AutoConfig.from_pretrained(source.folder)
        except (ValueError, TypeError, KeyError, StrictDataclassError) as error:
            _refuse_unsupported(source)  # an architecture transformers does not know is ours to name
            raise UserFacingError(f"The config of {source.model_id} is invalid: {error}") from None
        return config
    return _cached_gguf_config(source)


def _refuse_unsupported(source: ModelSource) -> None:
    """UserFacingError listing the supported architectures if config.json names another one."""
    from core.models import family_of

    try:
        model_type = json.loads((source.folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return
    family_of(str(model_type))


def load_layout(source: ModelSource) -> ModelLayout:
    """The model's layout (core/models/layout.py): its architecture, decoder config and where its parts are."""
    from core.models import family_for

    config = load_config(source)
    return model_layout(config, family_for(config))


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


def load_tensors(
    source: ModelSource,
    layout: ModelLayout,
    names: set[str],
    dtype: torch.dtype,
    progress: ProgressCallback | None = None,
) -> dict[str, torch.Tensor]:
    """Read exactly the tensors `names` (state-dict names of `layout`'s model) and nothing else, as transformers'
    own loader produces them; UserFacingError if the checkpoint lacks some or holds them in another shape."""
    if source.gguf_file is not None:
        tensors = GGUFNames(source.gguf_path, layout.meta).read(names, progress)
    else:
        tensors = CheckpointNames(layout.meta, checkpoint_files(source)).read(source, names, progress)
    tensors = {name: tensor for name, tensor in tensors.items() if name in names}
    check_tensors(layout, names, tensors)
    return {name: tensor.to(dtype) if tensor.is_floating_point() else tensor for name, tensor in tensors.items()}


def check_tensors(layout: ModelLayout, names: set[str], tensors: dict[str, torch.Tensor]) -> None:
    """UserFacingError naming what is missing or misshapen, with the blocks affected."""
    missing = sorted(names - set(tensors))
    if missing:
        blocks = sorted({index for name in missing if (index := layout.block_index(name)) is not None})
        where = f"blocks {format_ranges(blocks)}" if blocks else ", ".join(missing[:3])
        raise UserFacingError(f"The checkpoint lacks tensors of {where} (e.g. {missing[0]}); its config says the "
                              f"model has {layout.num_blocks} blocks. Is the config the one of these weights?")
    for name, tensor in sorted(tensors.items()):
        if tuple(tensor.shape) != layout.shapes[name]:
            raise UserFacingError(f"Checkpoint tensor {name} has shape {list(tensor.shape)}, but the config makes "
                                  f"it {list(layout.shapes[name])}. Is the config the one of these weights?")


def check_block_count(source: ModelSource, layout: ModelLayout) -> None:
    """UserFacingError unless the weights hold exactly the blocks the config says the model has."""
    if source.gguf_file is not None:
        found = GGUFNames(source.gguf_path, layout.meta).block_indices
    else:
        renamed = CheckpointNames(layout.meta, checkpoint_files(source)).renamed
        found = {index for name in renamed if (index := layout.block_index(name)) is not None}
    if found != set(range(layout.num_blocks)):
        held = f"blocks {format_ranges(sorted(found))} ({len(found)} blocks)" if found else "no blocks at all"
        raise UserFacingError(
            f"The config of {source.model_id} says the model has {layout.num_blocks} blocks (num_hidden_layers), "
            f"but its weights hold {held}. Use the config that came with these weights.")
