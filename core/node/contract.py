"""The contract between the node and its clients: the payloads of /api/status, /api/events and /api/settings.

Declared once, here. The node builds these models and serializes them; the app parses the node's JSON back into
them (`model_validate_json`), so a renamed or retyped field fails loudly at the boundary instead of deep inside a
widget. tests/integration/test_contract.py holds a real node's answers against their JSON schemas. Every model
is strict and forbids keys it does not declare.

The app imports this module: it pulls in pydantic, core.config, core.events and core.pause's enums, never torch
or hivemind.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from core.config import SCHEMA, Applies, Setting
from core.events import Event, ServingChanged, SettingsChanged
from core.pause.decision import PauseKind, ServingState
from core.pause.signals import SignalKind


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class NodeInfo(Contract):
    pid: int
    version: str
    uptime_s: float
    restart_needed: list[str]  # settings changed since the node started that apply when it starts again


class SwarmInfo(Contract):
    name: str  # "public" or the private swarm's name
    private: bool
    namespace: str
    peer_id: str
    multiaddrs: list[str]
    peers: int | None  # None while unknown


class BlockCoverage(Contract):
    index: int
    servers: int
    throughput: float


class ServerCoverage(Contract):
    """One online server of a model: the blocks it holds and how it computes them."""

    peer_id: str
    name: str  # its server.public_name, often ""
    blocks: list[int]  # [start, end)
    dtype: str
    quantization: str
    throughput: float


class ModelCoverage(Contract):
    """One model the swarm announces: how many servers hold each block, the blocks nobody holds, and its servers."""

    model: str
    architecture: str  # its config's model_type; "" while only servers of an older version announce it
    num_blocks: int
    blocks: list[BlockCoverage]
    missing: list[int]
    servers: list[ServerCoverage]


class OwnModel(Contract):
    """The model this node serves and answers for (setting node.model), and its coverage in the swarm."""

    setting: str  # node.model as set: a model id or a local folder
    name: str  # its id in the swarm and the API
    coverage: ModelCoverage | None  # None while no server announces it


ServingStateName = Literal["starting", "serving", "paused", "stopped", "error"]


class ServingStatus(Contract):
    """The node's server child: its state, and what it serves, computes and holds."""

    state: ServingStateName
    reason: str
    pid: int | None
    blocks: list[int] | None  # [start, end)
    peer_id: str | None
    since: float  # when the state last changed (seconds since the epoch)
    resume_in_s: float | None  # a timed pause's countdown
    requests_served: int | None
    tokens_served: int | None
    tokens_per_second: float | None
    open_sessions: int | None
    cache_tokens_free: int | None
    queue_depth: int | None
    device: str | None
    dtype: str | None
    quantization: str | None
    memory_bytes: int | None  # resident memory of the child and its DHT and p2pd
    vram_bytes: int | None  # None where the driver does not say


class PauseDecision(Contract):
    state: ServingState
    kind: PauseKind
    reason: str
    resume_in_s: float | None


class PauseSignal(Contract):
    detector: str
    active: bool
    reason: str
    kind: SignalKind
    subject: str
    available: bool


class PauseStatus(Contract):
    decision: PauseDecision | None  # None before the pause monitor runs
    signals: list[PauseSignal]


class SessionsInfo(Contract):
    open: int


class NodeStatus(Contract):
    """GET /api/status, and the `status` event."""

    node: NodeInfo
    swarm: SwarmInfo
    model: OwnModel
    models: list[ModelCoverage]
    serving: ServingStatus
    pause: PauseStatus
    sessions: SessionsInfo


class ServingAnswer(Contract):
    """POST /api/serving/{start,stop,pause,resume}: the server child once it followed the command."""

    serving: ServingStatus


class PauseSignalsAnswer(Contract):
    """POST /api/pause/signals."""

    serving: ServingStatus
    pause: PauseStatus


class StatusChanged(Event):
    """The node's status changed (also the first event of every /api/events stream)."""

    event: Literal["status"] = "status"
    status: NodeStatus


NodeEvent = Annotated[StatusChanged | ServingChanged | SettingsChanged, Field(discriminator="event")]
NODE_EVENTS: TypeAdapter[StatusChanged | ServingChanged | SettingsChanged] = TypeAdapter(NodeEvent)
_NODE_EVENT_NAMES = ("status", "serving", "settings")


def parse_node_event(data: str) -> StatusChanged | ServingChanged | SettingsChanged | None:
    """The typed event of one /api/events data payload; None for an event this version does not know.

    Raises ValueError (pydantic's ValidationError or a JSON error) for a payload that breaks the contract."""
    payload = json.loads(data)
    if not isinstance(payload, dict) or payload.get("event") not in _NODE_EVENT_NAMES:
        return None
    return NODE_EVENTS.validate_json(data)


SettingValue = bool | int | float | str | list[str]
SettingType = Literal["bool", "int", "float", "str", "list"]
_PYTHON_TYPES: dict[type, Any] = {bool: bool, int: int, float: float, str: str, list: list[str]}
_TYPE_NAMES: dict[type, SettingType] = {bool: "bool", int: "int", float: "float", str: "str", list: "list"}


def _value_field(setting: Setting) -> tuple[Any, Any]:
    return _PYTHON_TYPES[setting.type], Field(alias=setting.key)


if TYPE_CHECKING:  # for the type checker any model; pydantic validates with the one below
    SettingsValues = BaseModel
else:
    # One field per setting, named by its dotted key: every key present, each with its own type.
    SettingsValues = create_model(
        "SettingsValues", __config__=ConfigDict(frozen=True, extra="forbid", strict=True, serialize_by_alias=True),
        **{setting.key.replace(".", "__"): _value_field(setting) for setting in SCHEMA})


class SettingsAnswer(Contract):
    """GET /api/settings."""

    values: SettingsValues

    def value(self, key: str) -> SettingValue:
        """One setting's value, by its dotted key."""
        values: dict[str, SettingValue] = self.values.model_dump()
        return values[key]


class AppliedSettings(Contract):
    """Which changed settings took effect how (see core.config.Applies)."""

    live: list[str]
    server_restart: list[str]  # the server child restarts for them (at its next start when it does not run)
    node_restart: list[str]  # they apply when the node starts again
    overridden: list[str]  # stored, but this run's command line sets them (--set, --model): not applied now


class SettingsUpdateAnswer(SettingsAnswer):
    """PATCH /api/settings."""

    changed: list[str]
    applied: AppliedSettings


class SettingInfo(Contract):
    """One setting as the settings dialog shows it."""

    key: str
    label: str
    type: SettingType
    default: SettingValue
    description: str
    minimum: float | None
    choices: list[str]
    applies: Applies
    advanced: bool

    @classmethod
    def of(cls, setting: Setting) -> SettingInfo:
        return cls(key=setting.key, label=setting.label, type=_TYPE_NAMES[setting.type], default=setting.default,
                   description=setting.description, minimum=setting.minimum, choices=list(setting.choices),
                   applies=setting.applies, advanced=setting.advanced)


class SettingsSchemaAnswer(Contract):
    """GET /api/settings/schema."""

    settings: list[SettingInfo]


def settings_values(values: dict[str, Any]) -> BaseModel:
    """The SettingsValues of a Settings.as_dict()."""
    return SettingsValues.model_validate(values)


def settings_schema() -> SettingsSchemaAnswer:
    return SettingsSchemaAnswer(settings=[SettingInfo.of(setting) for setting in SCHEMA])
