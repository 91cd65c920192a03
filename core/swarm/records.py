"""The versioned server record stored under each served block's key, and its DHT validator.

Subkey: the server's owner marker `[owner:<RSA public key>]`, so hivemind's RSASignatureValidator lets
only that server write it. Value: a msgpack dict. Readers drop unsigned records, malformed ones, those
whose peer id does not match the owner key, and those of another major protocol version.
"""
from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from typing import Any

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
    throughput: float = 0.0
    inference_rps: float = 0.0
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
        if not isinstance(value, dict):
            raise RecordError("record is not a mapping")
        protocol = value.get("protocol")
        if not (isinstance(protocol, (list, tuple)) and len(protocol) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in protocol)):
            raise RecordError("record has no protocol version")
        if protocol[0] != PROTOCOL_VERSION[0]:
            raise IncompatibleVersion(tuple(protocol), str(value.get("version", "?")))
        known = {field.name: field for field in dataclasses.fields(cls)}
        kwargs = {key: item for key, item in value.items() if key in known}  # newer minors may add fields
        kwargs["protocol"] = tuple(protocol)
        for name, field in known.items():
            if name not in kwargs and field.default is dataclasses.MISSING:
                raise RecordError(f"record lacks {name}")
        record = cls(**kwargs)
        record._check_types()
        return record

    def _check_types(self) -> None:
        expected = {"peer_id": str, "state": str, "model": str, "start": int, "end": int, "throughput": (int, float),
                    "inference_rps": (int, float), "dtype": str, "quantization": str, "cache_tokens_free": int,
                    "queue_depth": int, "public_name": str, "version": str}
        for name, types in expected.items():
            if not isinstance(getattr(self, name), types) or isinstance(getattr(self, name), bool):
                raise RecordError(f"record field {name} has the wrong type")
        if self.state not in STATES or not 0 <= self.start < self.end:
            raise RecordError("record has an invalid state or span")


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


def check_owner(record: ServerRecord, serialized_subkey: bytes) -> None:
    """RecordError unless the record's peer id is the peer id of the key that signed it."""
    try:
        expected = peer_id_from_public_key(owner_public_key(serialized_subkey)).to_base58()
    except (ValueError, TypeError) as error:
        raise RecordError(f"record's owner key is unreadable ({error})") from None
    if record.peer_id != expected:
        raise RecordError(f"record claims peer {record.peer_id} but is signed by {expected}")


class ServerRecordValidator(RecordValidatorBase):
    """Accepts only owner-signed subkeys holding a well-formed record of the owner's own peer id.

    Runs after RSASignatureValidator (which checks the signature itself and strips it). Records of
    another major version pass here (readers skip them and tell the user), so that peers of
    different versions can still share a DHT.
    """

    def validate(self, record: DHTRecord) -> bool:
        if record.subkey is None or record.subkey == b"":
            return False
        try:
            value = MSGPackSerializer.loads(record.value)
            parsed = ServerRecord.from_value(value)
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
