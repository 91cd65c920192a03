"""Client models (embeddings, final norm, head, tokenizer) loaded once, on first use, per model id.

The node answers for its own model (setting `node.model`) and for every model the swarm's model index
lists; all of them share the node's one swarm client and DHT peer.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.client.swarm_client import SwarmClient
from core.config import Settings
from core.errors import ModelNotFoundError
from core.models.source import ModelSource, resolve_model

if TYPE_CHECKING:  # loaded on first use
    from transformers import PreTrainedTokenizerBase

    from core.client.model import DistributedCausalLM

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    name: str  # the model's id in the swarm (and in the API)
    model: DistributedCausalLM
    tokenizer: PreTrainedTokenizerBase
    context_length: int
    eos_token_ids: tuple[int, ...]


class ModelPool:
    def __init__(self, swarm_client: SwarmClient, settings: Settings, own_model: str,
                 swarm_models: Callable[[], list[str]]):
        self.swarm_client = swarm_client
        self.settings = settings
        self.own_model = own_model
        self._own_source = _resolve_or_none(own_model)  # resolved once: loading it reuses this
        self._own_name = self._own_source.dht_name if self._own_source is not None else own_model
        self._swarm_models = swarm_models  # the models announced in the swarm (cached by the node's swarm view)
        self._lock = threading.Lock()
        self._loaded: dict[str, LoadedModel] = {}

    @property
    def own_name(self) -> str:
        """This node's model's id in the swarm and the API (a local folder's resolves to its model id)."""
        return self._own_name

    def set_own_model(self, model_id: str) -> None:
        """Answer for another model (setting node.model changed); the previous one's client part is let go."""
        source = _resolve_or_none(model_id)
        with self._lock:
            old_names = {self.own_model, self._own_name}
            self.own_model, self._own_source = model_id, source
            self._own_name = source.dht_name if source is not None else model_id
            for name in old_names - {self.own_model, self._own_name}:
                self._loaded.pop(name, None)

    def names(self) -> list[str]:
        """Model ids the API offers: this node's model and every model announced in the swarm."""
        return sorted({self._own_name, *self._swarm_models()})

    def get(self, name: str) -> LoadedModel:
        """The loaded client model for an API model id; raises ModelNotFoundError for an unknown one."""
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            source_id = self.own_model if name in (self.own_model, self._own_name) else None
            if source_id is None and name in self._swarm_models():
                source_id = name
            if source_id is None:
                raise ModelNotFoundError(f"The model {name!r} does not exist in this swarm; GET /v1/models lists "
                                         f"the models it serves")
            loaded = self._load(source_id)
            self._loaded[name] = self._loaded[loaded.name] = loaded
            return loaded

    def _load(self, source_id: str) -> LoadedModel:
        from core.client.model import AutoDistributedModelForCausalLM
        from core.models.weights import load_tokenizer

        started = time.monotonic()
        own_source = self._own_source if source_id == self.own_model else None
        source = own_source or resolve_model(source_id)
        model = AutoDistributedModelForCausalLM.from_pretrained(source, swarm_client=self.swarm_client,
                                                                settings=self.settings)
        tokenizer = load_tokenizer(source)
        eos = model.generation_config.eos_token_id
        eos_ids = tuple(eos if isinstance(eos, list) else [] if eos is None else [eos])
        context = min(int(getattr(model.config, "max_position_embeddings", 2048) or 2048),
                      int(self.settings["server.max_length"]))
        logger.info("Loaded the client part of %s in %.1f s", source_id, time.monotonic() - started)
        return LoadedModel(source.dht_name, model, tokenizer, context, eos_ids)


def _resolve_or_none(model_id: str) -> ModelSource | None:
    try:
        return resolve_model(model_id)
    except ModelNotFoundError:
        return None
