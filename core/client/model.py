"""AutoDistributedModelForCausalLM: a transformers causal LM whose blocks run in the swarm.

The client holds the embeddings, the final norm and the LM head; hidden states travel through a route
of servers. `generate()` is transformers' own, fed by a cache object that stands for the servers' KV
caches, so every generation argument works as usual.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from hivemind import DHT
from torch import nn
from transformers import GenerationConfig, GenerationMixin, PretrainedConfig
from transformers.cache_utils import Cache
from transformers.modeling_outputs import CausalLMOutputWithPast

from core.client.bans import BanList
from core.client.inference import InferenceSession
from core.client.routing import RouteSpan, wait_for_route
from core.client.swarm_client import SwarmClient
from core.config import Settings
from core.models.family import ModelFamily
from core.models.layout import ModelLayout
from core.models.source import ModelSource, ensure_file, resolve_model
from core.models.weights import load_layout, load_tensors
from core.swarm.dht import SwarmSelection

logger = logging.getLogger(__name__)


class SessionCache(Cache):
    """Stands in for the KV cache inside generate(): its length is the session's position."""

    def __init__(self, session: InferenceSession):
        super().__init__(layers=[])
        self.session = session

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.session.position

    @property
    def is_linear(self) -> list[bool]:
        return [False]

    @property
    def is_compileable(self) -> bool:
        return False

    @property
    def is_croppable(self) -> bool:
        return False


if TYPE_CHECKING:  # at run time the mixin's bases come from build_client_model, GenerationMixin last
    class _MixedWith(nn.Module, GenerationMixin):
        pass
else:
    _MixedWith = object


class ClientParts(nn.Module):
    """What the client holds before and after the blocks, named as in transformers' models: the embedding, a
    post-process of every input embedding (BLOOM's layer norm, else None) and the final norm."""

    def __init__(self, embed_tokens: nn.Embedding, embedding_norm: nn.Module | None, norm: nn.Module):
        super().__init__()
        self.embed_tokens = embed_tokens
        self.embedding_norm = embedding_norm
        self.norm = norm


class DistributedCausalLM(_MixedWith):
    """Behaviour shared by every architecture's distributed model.

    Mixed in before the architecture's PreTrainedModel, with GenerationMixin last, as transformers expects.
    """

    if TYPE_CHECKING:  # set by the architecture's PreTrainedModel and by _client_init
        config: PretrainedConfig
        generation_config: GenerationConfig
        family: ModelFamily
        model: ClientParts
        lm_head: nn.Linear

    _tied_weights_keys: ClassVar[dict[str, str]] = {"lm_head.weight": "model.embed_tokens.weight"}

    @classmethod
    def _can_set_experts_implementation(cls) -> bool:
        """transformers asks this of a mixture-of-experts config's model; the client holds no experts, so the
        config's choice (the servers') needs no support here."""
        return True

    def _setup(self, swarm_client: SwarmClient, model_name: str, settings: Settings) -> None:
        self.swarm_client = swarm_client
        self.model_name = model_name
        self.settings = settings
        self._active_session: InferenceSession | None = None
        self.bans = BanList(settings["client.ban_seconds"])

    @property
    def num_blocks(self) -> int:
        return int(self.config.num_hidden_layers)

    def inference_session(self, max_length: int, spread: bool = False) -> InferenceSession:
        """Open a KV-cached session through the swarm for up to `max_length` tokens (a context manager).

        The route is the chain with the lowest expected latency; `spread=True` (one-shot passes) picks a
        random chain weighted by throughput instead, so that independent requests share the swarm."""
        route = wait_for_route(self.swarm_client, self.model_name, self.num_blocks,
                               self.settings["client.route_timeout"], exclude=self.bans.banned(),
                               need_tokens=max_length, spread=spread)
        logger.info("Route: %s", " -> ".join(f"{s.peer_id[-6:]}[{s.start}:{s.end}]" for s in route))
        return _ActivatingSession(self, route, max_length)

    @contextlib.contextmanager
    def _session_for_generate(self, input_length: int, max_new_tokens: int,
                              session: InferenceSession | None = None) -> Iterator[InferenceSession]:
        session = session or self._active_session
        if session is not None:
            yield session
            return
        with self.inference_session(max_length=input_length + max_new_tokens) as session:
            yield session

    def generate(self, inputs: torch.Tensor | None = None, *args: Any, **kwargs: Any) -> Any:
        input_ids = inputs if inputs is not None else kwargs.get("input_ids")
        if input_ids is None:
            raise ValueError("generate() through the swarm needs input_ids")
        config = kwargs.get("generation_config") or self.generation_config
        max_new = kwargs.get("max_new_tokens") or config.max_new_tokens
        if max_new is None:
            max_new = (kwargs.get("max_length") or config.max_length) - input_ids.shape[1]
        # `session=` continues a session the caller keeps open (several conversations may be open at once)
        kept = kwargs.pop("session", None)
        with self._session_for_generate(input_ids.shape[1], max(int(max_new), 1), kept) as session:
            input_ids = _with_session_history(session, input_ids)
            if inputs is not None:
                inputs = input_ids
            else:
                kwargs["input_ids"] = input_ids
            kwargs.pop("cache", None)
            kwargs.pop("past_key_values", None)
            return super().generate(inputs, *args, cache=SessionCache(session), **kwargs)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        cache: Cache | None = None,
        logits_to_keep: int = 0,
        **kwargs: Any,
    ) -> CausalLMOutputWithPast:
        if attention_mask is not None and not bool(attention_mask.all()):
            raise ValueError("Padded batches are not supported through the swarm yet; generate each prompt alone")
        if inputs_embeds is None:
            inputs_embeds = self.model.embed_tokens(input_ids)
        hidden = inputs_embeds if self.model.embedding_norm is None else self.model.embedding_norm(inputs_embeds)
        session = cache.session if isinstance(cache, SessionCache) else self._active_session
        if session is not None:
            hidden = session.step(hidden, token_ids=input_ids)
        else:
            with self.inference_session(max_length=hidden.shape[1], spread=True) as one_shot:
                hidden = one_shot.step(hidden)
        hidden = self.model.norm(hidden)
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:, :]
        logits = self.family.transform_logits(self.config, self.lm_head(hidden))
        return CausalLMOutputWithPast(logits=logits, cache=cache)

    def shutdown(self) -> None:
        self.swarm_client.shutdown()


class _ActivatingSession(InferenceSession):
    """An InferenceSession that, while entered, is the one the model's forward and generate use."""

    def __init__(self, model: DistributedCausalLM, route: list[RouteSpan], max_length: int):
        super().__init__(model.swarm_client, route, model.model_name, model.num_blocks, max_length, model.settings,
                         bans=model.bans)
        self._model = model

    def __enter__(self) -> InferenceSession:
        if self._model._active_session is not None:
            raise RuntimeError("this model already has an active inference session")
        self._model._active_session = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._model._active_session = None
        self.close()


def _with_session_history(session: InferenceSession, input_ids: torch.Tensor) -> torch.Tensor:
    """Full-history input ids for generate(): callers may pass the whole conversation or only new tokens."""
    history = session.token_ids
    if session.position == 0 or history is None or session.history_is_prefix_of(input_ids):
        return input_ids
    return torch.cat([history, input_ids], dim=1)


class AutoDistributedModelForCausalLM:
    """Entry point, as transformers' Auto classes: picks the architecture from the model's config."""

    @classmethod
    def from_pretrained(
        cls,
        model_id: str | ModelSource,
        initial_peers: list[str] | None = None,
        dht: DHT | None = None,
        swarm: SwarmSelection | str | None = None,
        settings: Settings | None = None,
        dtype: torch.dtype = torch.float32,
        swarm_client: SwarmClient | None = None,
    ) -> DistributedCausalLM:
        """Load the client part of `model_id` (or of a model already resolved) and join its swarm: through
        `initial_peers`, a joined private swarm's name, a running `dht`, or an existing `swarm_client` that
        several models may share."""
        settings = settings or Settings.load()
        if isinstance(swarm, str):  # a joined private swarm: namespace, bootstrap peers and secret from its name
            from core.swarm.private import swarm_selection

            swarm = swarm_selection(swarm, initial_peers=initial_peers or (), new_swarm=dht is not None)
        selection = swarm or SwarmSelection(namespace=settings["swarm.namespace"],
                                            initial_peers=list(initial_peers or []))
        if dht is not None:
            selection.new_swarm = True  # the caller's DHT is already part of a swarm
        source = model_id if isinstance(model_id, ModelSource) else resolve_model(model_id)
        layout = load_layout(source)
        model = build_client_model(layout.family, layout.decoder_config)
        _assign(model, load_tensors(source, layout, layout.client_names(), dtype), layout)
        generation = ensure_file(source, "generation_config.json", optional=True)
        if generation.is_file():  # what from_pretrained reads too: chat models stop at every token listed there
            model.generation_config = GenerationConfig.from_pretrained(generation.parent)
        model._setup(swarm_client or SwarmClient(selection, settings, dht), source.dht_name, settings)
        return model


_CLASSES: dict[type, type] = {}


def build_client_model(family: ModelFamily, config: PretrainedConfig) -> DistributedCausalLM:
    base = family.pretrained_base
    if base not in _CLASSES:
        _CLASSES[base] = type(f"Distributed{base.__name__.removesuffix('PreTrainedModel')}ForCausalLM",
                              (DistributedCausalLM, base, GenerationMixin), {"__init__": _client_init})
    with torch.device("meta"):
        model: DistributedCausalLM = _CLASSES[base](config, family)
    return model


def _client_init(self: DistributedCausalLM, config: PretrainedConfig, family: ModelFamily) -> None:
    base_init: Callable[..., None] = family.pretrained_base.__init__  # self is a PreTrainedModel at run time
    base_init(self, config)
    self.generation_config = GenerationConfig.from_model_config(config)
    self.family = family
    self.model = ClientParts(family.build_embedding(config), family.build_embedding_norm(config),
                             family.build_norm(config))
    self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)


def _assign(model: DistributedCausalLM, tensors: dict[str, torch.Tensor], layout: ModelLayout) -> None:
    """Put the checkpoint's client tensors in place (found by the layout's prefixes) and tie the head if tied."""
    parts: list[tuple[nn.Module | None, str | None]] = [(model.model.embed_tokens, layout.embedding),
                                                         (model.model.norm, layout.final_norm),
                                                         (model.model.embedding_norm, layout.embedding_norm)]
    if not layout.tied:
        parts.append((model.lm_head, layout.head))
    for module, prefix in parts:
        if module is not None and prefix is not None:
            state = {name[len(prefix):]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}
            module.load_state_dict(state, strict=True, assign=True)
    if layout.tied:
        model.lm_head.weight = model.model.embed_tokens.weight
    model.requires_grad_(False)
    model.eval()
