"""The versioned server record stored under each served block's key, and its DHT validator.

Subkey: the server's owner marker `[owner:<RSA public key>]`, so hivemind's RSASignatureValidator lets
only that server write it. Value: a msgpack dict. Readers drop unsigned records, malformed ones, those
whose peer id does not match the owner key, and those of another major protocol version. Under
`{namespace}/models` the same validator accepts model index records (which models the swarm serves).
"""
from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from hivemind.dht.crypto import RSASignatureValidator
from hivemind.dht.validation import DHTRecord, RecordValidatorBase
from hivemind.utils import MSGPackSerializer

from core import PROTOCOL_VERSION, __version__
from core.swarm.identity import peer_id_from_public_key

logger = logging.getLogger(__name__)

STATES = ("offline", "joining", "online")
_OWNER = re.compile(rb"\[owner:(.+?)\]")


class RecordError(ValueError):
    """A record is malformed or does not belong to its owner."""


@dataclass(frozen=True)
class ServerRecord:
    peer_id: str
    state: str
    model: str
    start: int
    end: int
    throughput: float = 0.0  # tokens/s per block: the lower of the two below, or a fixed setting
    inference_rps: float = 0.0
    compute_throughput: float = 0.0  # measured one-token steps/s through one block on this device
    network_throughput: float = 0.0  # estimated tokens/s that this server's network carries
    dtype: str = "float32"
    quantization: str = "none"
    cache_tokens_free: int = 0
    queue_depth: int = 0
    public_name: str = ""
    version: str = __version__
    protocol: tuple[int, int] = PROTOCOL_VERSION

    def to_value(self) -> dict[str, Any]:
        value = dataclasses.asdict(self)
        value["protocol"] = list(self.protocol)
        return value

    @classmethod
    def from_value(cls, value: Any) -> ServerRecord:
        """Parse and check a record value; raises RecordError (IncompatibleVersion for another major)."""
        protocol = _protocol_of(value)
        known = {field.name: field for field in dataclasses.fields(cls)}
        kwargs = {key: item for key, item in value.items() if key in known}  # newer minors may add fields
        kwargs["protocol"] = protocol
        for name, field in known.items():
            if name not in kwargs and field.default is dataclasses.MISSING:
                raise RecordError(f"record lacks {name}")
        record = cls(**kwargs)
        record._check_types()
        return record

    def _check_types(self) -> None:
        expected: dict[str, type | tuple[type, ...]] = {
            "peer_id": str, "state": str, "model": str, "start": int, "end": int, "throughput": (int, float),
            "inference_rps": (int, float), "compute_throughput": (int, float), "network_throughput": (int, float),
            "dtype": str, "quantization": str, "cache_tokens_free": int, "queue_depth": int, "public_name": str,
            "version": str}
        for name, types in expected.items():
            if not isinstance(getattr(self, name), types) or isinstance(getattr(self, name), bool):
                raise RecordError(f"record field {name} has the wrong type")
        if self.state not in STATES or not 0 <= self.start < self.end:
            raise RecordError("record has an invalid state or span")


@dataclass(frozen=True)
class ModelIndexRecord:
    """What a server writes under `{namespace}/models` (subkey: its owner marker) so that readers can list
    the swarm's models without knowing them.

    `architecture` (the config's model_type) came with protocol 1.2: older servers' records lack it (read as "")
    and older readers ignore it."""

    peer_id: str
    model: str
    num_blocks: int
    protocol: tuple[int, int] = PROTOCOL_VERSION
    architecture: str = ""
    KIND: ClassVar[str] = "model_index"

    def to_value(self) -> dict[str, Any]:
        return {"kind": self.KIND, "peer_id": self.peer_id, "model": self.model, "num_blocks": self.num_blocks,
                "protocol": list(self.protocol), "architecture": self.architecture}

    @classmethod
    def from_value(cls, value: Any) -> ModelIndexRecord:
        protocol = _protocol_of(value)
        if value.get("kind") != cls.KIND:
            raise RecordError("record is not a model index record")
        peer_id, model, num_blocks = value.get("peer_id"), value.get("model"), value.get("num_blocks")
        if not (isinstance(peer_id, str) and isinstance(model, str) and model):
            raise RecordError("model index record needs a peer_id and a model")
        if not isinstance(num_blocks, int) or isinstance(num_blocks, bool) or num_blocks < 1:
            raise RecordError("model index record needs a positive num_blocks")
        architecture = value.get("architecture", "")
        if not isinstance(architecture, str) or len(architecture) > 64:
            raise RecordError("model index record's architecture must be a short string")
        return cls(peer_id, model, num_blocks, protocol, architecture)


def parse_record(value: Any) -> ServerRecord | ModelIndexRecord:
    """Either record kind, told apart by the model index record's `kind` field."""
    if isinstance(value, dict) and value.get("kind") == ModelIndexRecord.KIND:
        return ModelIndexRecord.from_value(value)
    return ServerRecord.from_value(value)


def _protocol_of(value: Any) -> tuple[int, int]:
    """The record's protocol version; RecordError if absent, IncompatibleVersion for another major."""
    if not isinstance(value, dict):
        raise RecordError("record is not a mapping")
    protocol = value.get("protocol")
    if not (isinstance(protocol, (list, tuple)) and len(protocol) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in protocol)):
        raise RecordError("record has no protocol version")
    if protocol[0] != PROTOCOL_VERSION[0]:
        raise IncompatibleVersion(tuple(protocol), str(value.get("version", "?")))
    major, minor = protocol
    return major, minor


class IncompatibleVersion(RecordError):
    def __init__(self, protocol: tuple[int, ...], version: str):
        self.protocol = protocol
        self.version = version
        super().__init__(f"peer runs Meadow {version} (protocol {protocol[0]}), this is {__version__} "
                         f"(protocol {PROTOCOL_VERSION[0]})")


def owner_public_key(subkey: bytes) -> bytes:
    """The OpenSSH public key inside a serialized subkey's owner marker; RecordError if absent."""
    match = _OWNER.search(subkey)
    if match is None:
        raise RecordError("record is not signed by an owner key")
    return match.group(1)


def check_owner(record: ServerRecord | ModelIndexRecord, serialized_subkey: bytes) -> None:
    """RecordError unless the record's peer id is the peer id of the key that signed it."""
    try:
        expected = peer_id_from_public_key(owner_public_key(serialized_subkey)).to_base58()
    except (ValueError, TypeError) as error:
        raise RecordError(f"record's owner key is unreadable ({error})") from None
    if record.peer_id != expected:
        raise RecordError(f"record claims peer {record.peer_id} but is signed by {expected}")


class ServerRecordValidator(RecordValidatorBase):
    """Accepts only owner-signed subkeys holding a well-formed record (a server record or a model index
    record) of the owner's own peer id.

    Runs after RSASignatureValidator (which checks the signature itself and strips it). Records of
    another major version pass here (readers skip them and tell the user), so that peers of
    different versions can still share a DHT.
    """

    def validate(self, record: DHTRecord) -> bool:
        if record.subkey is None or record.subkey == b"":
            return False
        try:
            value = MSGPackSerializer.loads(record.value)
            parsed = parse_record(value)
            check_owner(parsed, record.subkey)
        except IncompatibleVersion:
            return True
        except Exception as error:  # noqa: BLE001 - any malformed payload is simply rejected
            logger.debug("Rejected DHT record: %s", error)
            return False
        return True

    @property
    def priority(self) -> int:
        return 0  # after the signature validator (priority 10)

    def merge_with(self, other: RecordValidatorBase) -> bool:
        return isinstance(other, ServerRecordValidator)


def record_validators(signer: RSASignatureValidator) -> list[RecordValidatorBase]:
    return [signer, ServerRecordValidator()]
