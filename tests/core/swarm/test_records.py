"""Server records: parsing, owner checks and the DHT validator, on real RSA identities and hivemind DHTRecords."""
from __future__ import annotations

import dataclasses

import pytest
from hivemind.dht.crypto import RSASignatureValidator
from hivemind.dht.validation import CompositeValidator, DHTRecord
from hivemind.p2p import PeerID
from hivemind.utils import MSGPackSerializer, get_dht_time

from core import PROTOCOL_VERSION, __version__
from core.swarm.identity import Identity, peer_id_from_public_key
from core.swarm.records import (
    IncompatibleVersion,
    ModelIndexRecord,
    RecordError,
    ServerRecord,
    ServerRecordValidator,
    check_owner,
    owner_public_key,
    parse_record,
    record_validators,
)


@pytest.fixture(scope="module")
def identity() -> Identity:
    return Identity.ephemeral()


@pytest.fixture(scope="module")
def other_identity() -> Identity:
    return Identity.ephemeral()


def owner_subkey(identity: Identity) -> bytes:
    """The serialized subkey a server writes its record under: its owner marker."""
    return RSASignatureValidator(identity.private_key).local_public_key


def make_record(identity: Identity, **changes) -> ServerRecord:
    record = ServerRecord(peer_id=identity.peer_id.to_base58(), state="online", model="tiny-llama", start=0, end=3,
                          throughput=12.5, dtype="float32", cache_tokens_free=8192, public_name="alice")
    return dataclasses.replace(record, **changes)


def value_of(identity: Identity, **changes) -> dict:
    value = make_record(identity).to_value()
    value.update(changes)
    return value


# --- from_value / to_value --------------------------------------------------------------------------------

def test_round_trip(identity):
    record = make_record(identity)
    value = record.to_value()
    assert value["protocol"] == list(PROTOCOL_VERSION)  # msgpack-friendly
    assert ServerRecord.from_value(value) == record


def test_round_trip_through_msgpack(identity):
    record = make_record(identity, queue_depth=3, inference_rps=2.0)
    assert ServerRecord.from_value(MSGPackSerializer.loads(MSGPackSerializer.dumps(record.to_value()))) == record


def test_defaults_fill_optional_fields(identity):
    value = {"peer_id": identity.peer_id.to_base58(), "state": "joining", "model": "m", "start": 1, "end": 2,
             "protocol": list(PROTOCOL_VERSION)}
    record = ServerRecord.from_value(value)
    assert (record.throughput, record.dtype, record.version, record.protocol) == (0.0, "float32", __version__,
                                                                                   PROTOCOL_VERSION)


def test_unknown_fields_of_newer_minor_versions_are_ignored(identity):
    value = value_of(identity, protocol=[PROTOCOL_VERSION[0], PROTOCOL_VERSION[1] + 5], future_field={"x": 1})
    record = ServerRecord.from_value(value)
    assert record.protocol == (PROTOCOL_VERSION[0], PROTOCOL_VERSION[1] + 5)


def test_ints_are_accepted_for_float_fields(identity):
    assert ServerRecord.from_value(value_of(identity, throughput=3, inference_rps=0)).throughput == 3


@pytest.mark.parametrize("value", [None, [], "record", 5, b"\x80"])
def test_non_mapping_is_rejected(value):
    with pytest.raises(RecordError, match="not a mapping"):
        ServerRecord.from_value(value)


@pytest.mark.parametrize("field", ["peer_id", "state", "model", "start", "end"])
def test_missing_required_field(identity, field):
    value = value_of(identity)
    del value[field]
    with pytest.raises(RecordError, match=f"record lacks {field}"):
        ServerRecord.from_value(value)


@pytest.mark.parametrize("protocol", [None, "1.0", [1], [1, 0, 0], [1, "0"], ["1", 0], [1.0, 0], {"major": 1}],
                         ids=["missing", "str", "short", "long", "str-minor", "str-major", "float", "dict"])
def test_missing_or_malformed_protocol(identity, protocol):
    value = value_of(identity)
    if protocol is None:
        del value["protocol"]
    else:
        value["protocol"] = protocol
    with pytest.raises(RecordError, match="no protocol version"):
        ServerRecord.from_value(value)


@pytest.mark.parametrize("field, bad", [
    ("peer_id", 123), ("peer_id", b"Qm..."), ("state", 1), ("model", None), ("start", "0"), ("start", 0.0),
    ("end", 3.5), ("throughput", "fast"), ("throughput", None), ("inference_rps", [1]), ("dtype", 32),
    ("quantization", None), ("cache_tokens_free", 1.0), ("queue_depth", "0"), ("public_name", 0),
    ("version", 1.0),
])
def test_wrong_field_types(identity, field, bad):
    with pytest.raises(RecordError, match=f"field {field} has the wrong type"):
        ServerRecord.from_value(value_of(identity, **{field: bad}))


@pytest.mark.parametrize("field", ["start", "end", "cache_tokens_free", "queue_depth", "throughput", "inference_rps"])
def test_bools_are_not_numbers(identity, field):
    with pytest.raises(RecordError, match=f"field {field} has the wrong type"):
        ServerRecord.from_value(value_of(identity, **{field: True}))


def test_bools_are_not_protocol_numbers(identity):
    with pytest.raises(RecordError):
        ServerRecord.from_value(value_of(identity, protocol=[True, False]))


@pytest.mark.parametrize("changes", [
    {"state": "busy"}, {"state": ""}, {"state": "ONLINE"},
    {"start": 3, "end": 3}, {"start": 4, "end": 3}, {"start": -1, "end": 3}, {"start": -5, "end": -1},
], ids=["unknown-state", "empty-state", "uppercase-state", "empty-span", "reversed-span", "negative-start",
        "negative-span"])
def test_invalid_state_or_span(identity, changes):
    with pytest.raises(RecordError, match="invalid state or span"):
        ServerRecord.from_value(value_of(identity, **changes))


@pytest.mark.parametrize("state", ["offline", "joining", "online"])
def test_every_state_is_accepted(identity, state):
    assert ServerRecord.from_value(value_of(identity, state=state)).state == state


# --- versions ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("major", [PROTOCOL_VERSION[0] + 1, 99, 0])
def test_incompatible_major_version(identity, major):
    with pytest.raises(IncompatibleVersion) as caught:
        ServerRecord.from_value(value_of(identity, protocol=[major, 3], version="9.9.9"))
    error = caught.value
    assert isinstance(error, RecordError)  # readers that drop RecordErrors drop these too
    assert error.protocol == (major, 3)
    assert error.version == "9.9.9"
    assert "9.9.9" in str(error) and f"protocol {major}" in str(error) and __version__ in str(error)


def test_incompatible_version_is_checked_before_the_other_fields():
    """A future major may change any field: its records must not be reported as malformed."""
    with pytest.raises(IncompatibleVersion) as caught:
        ServerRecord.from_value({"protocol": [99, 0], "peers": ["whatever"]})
    assert caught.value.version == "?"


# --- owner checks -----------------------------------------------------------------------------------------

def test_owner_public_key_from_subkey(identity):
    key = owner_public_key(owner_subkey(identity))
    assert key == identity.private_key.get_public_key().to_bytes()
    assert key.startswith(b"ssh-rsa ")


@pytest.mark.parametrize("subkey", [b"", b"plain-subkey", b"[owner:]", b"owner:ssh-rsa AAAA", b"\x00\xff"])
def test_subkey_without_owner_marker(subkey):
    with pytest.raises(RecordError, match="not signed by an owner key"):
        owner_public_key(subkey)


def test_check_owner_accepts_own_record(identity):
    check_owner(make_record(identity), owner_subkey(identity))


def test_check_owner_rejects_a_record_signed_by_another_key(identity, other_identity):
    record = make_record(identity)  # claims identity's peer id...
    with pytest.raises(RecordError, match=f"claims peer {identity.peer_id.to_base58()} but is signed by "
                                          f"{other_identity.peer_id.to_base58()}"):
        check_owner(record, owner_subkey(other_identity))  # ...but other_identity signed it


def test_check_owner_rejects_an_unsigned_subkey(identity):
    with pytest.raises(RecordError, match="not signed"):
        check_owner(make_record(identity), b"no owner here")


@pytest.mark.parametrize("subkey", [b"[owner:ssh-rsa not-base64!!]", b"[owner:garbage]"])
def test_check_owner_rejects_a_garbage_owner_key_with_record_error(identity, subkey):
    with pytest.raises(RecordError):
        check_owner(make_record(identity), subkey)


# --- ServerRecordValidator --------------------------------------------------------------------------------

def dht_record(subkey: bytes | None, value: bytes, key: bytes = b"tiny/tiny-llama/block/0") -> DHTRecord:
    return DHTRecord(key=MSGPackSerializer.dumps(key), subkey=subkey, value=value,
                     expiration_time=get_dht_time() + 60)


def test_validator_accepts_a_good_record(identity):
    value = MSGPackSerializer.dumps(make_record(identity).to_value())
    assert ServerRecordValidator().validate(dht_record(MSGPackSerializer.dumps(owner_subkey(identity)), value))
    assert ServerRecordValidator().validate(dht_record(owner_subkey(identity), value))


@pytest.mark.parametrize("subkey", [None, b"", MSGPackSerializer.dumps(b"someone"), b"[owner:]"],
                         ids=["none", "empty", "plain", "empty-owner"])
def test_validator_rejects_unsigned_subkeys(identity, subkey):
    value = MSGPackSerializer.dumps(make_record(identity).to_value())
    assert not ServerRecordValidator().validate(dht_record(subkey, value))


@pytest.mark.parametrize("value", [b"\xc1", b"", b"\x81", b"\x93\x01\x02\x03", MSGPackSerializer.dumps("online"),
                                   bytes(range(40))],
                         ids=["reserved-byte", "empty", "truncated", "list", "str", "byte-soup"])
def test_validator_rejects_malformed_values(identity, value):
    assert not ServerRecordValidator().validate(dht_record(owner_subkey(identity), value))


def test_validator_rejects_malformed_records(identity):
    value = MSGPackSerializer.dumps(value_of(identity, start="0"))
    assert not ServerRecordValidator().validate(dht_record(owner_subkey(identity), value))


def test_validator_rejects_a_record_of_another_peer(identity, other_identity):
    value = MSGPackSerializer.dumps(make_record(identity).to_value())
    assert not ServerRecordValidator().validate(dht_record(owner_subkey(other_identity), value))


@pytest.mark.parametrize("subkey", [b"[owner:ssh-rsa not-base64!!]", b"[owner:garbage]"])
def test_validator_rejects_a_garbage_owner_key(identity, subkey):
    value = MSGPackSerializer.dumps(make_record(identity).to_value())
    assert not ServerRecordValidator().validate(dht_record(subkey, value))


def test_validator_lets_other_major_versions_through(identity):
    """Peers of different versions share a DHT; readers skip such records (see directory.parse_block_records)."""
    value = MSGPackSerializer.dumps(value_of(identity, protocol=[99, 0]))
    assert ServerRecordValidator().validate(dht_record(owner_subkey(identity), value))


def test_validator_priority_and_merge():
    validator = ServerRecordValidator()
    assert validator.priority < RSASignatureValidator(Identity.ephemeral().private_key).priority
    assert validator.merge_with(ServerRecordValidator())
    assert not validator.merge_with(RSASignatureValidator(Identity.ephemeral().private_key))


def test_signed_records_through_the_composite_validator(identity, other_identity):
    """The chain a DHT node runs: the signature is checked and stripped, then the record itself is."""
    signer = CompositeValidator(record_validators(RSASignatureValidator(identity.private_key)))
    reader = CompositeValidator(record_validators(RSASignatureValidator(other_identity.private_key)))
    subkey = MSGPackSerializer.dumps(owner_subkey(identity))
    unsigned = dht_record(subkey, MSGPackSerializer.dumps(make_record(identity).to_value()))
    signed = dataclasses.replace(unsigned, value=signer.sign_value(unsigned))
    assert signed.value != unsigned.value
    assert reader.validate(signed)
    assert not reader.validate(unsigned)  # an owner-marked subkey without a signature
    tampered = dataclasses.replace(signed, value=signed.value.replace(b"alice", b"mallo"))
    assert not reader.validate(tampered)
    # A record claiming another peer id, properly signed by identity, is still refused.
    lying = dht_record(subkey, MSGPackSerializer.dumps(make_record(other_identity).to_value()))
    lying = dataclasses.replace(lying, value=signer.sign_value(lying))
    assert not reader.validate(lying)


# --- peer ids ---------------------------------------------------------------------------------------------

def test_peer_id_matches_hivemind_from_identity_file(tmp_path):
    identity = Identity.ephemeral()
    path = tmp_path / "identity.key"
    identity.write(path)
    expected = PeerID.from_identity(path.read_bytes())
    assert identity.peer_id == expected
    assert peer_id_from_public_key(identity.private_key.get_public_key().to_bytes()) == expected
    assert Identity.from_file(path).peer_id == expected


def test_identity_file_is_private_and_not_overwritten(tmp_path):
    identity = Identity.ephemeral()
    path = tmp_path / "identity.key"
    identity.write(path)
    assert path.stat().st_mode & 0o777 == 0o400
    with pytest.raises(FileExistsError):
        Identity.ephemeral().write(path)


def test_from_file_creates_a_missing_identity(tmp_path):
    path = tmp_path / "sub" / "identity.key"
    created = Identity.from_file(path)
    assert path.exists()
    assert Identity.from_file(path).peer_id == created.peer_id == PeerID.from_identity(path.read_bytes())


def test_distinct_identities_have_distinct_peer_ids(identity, other_identity):
    assert identity.peer_id != other_identity.peer_id


# --- model index records ----------------------------------------------------------------------------------

def index_value(identity: Identity, **changes) -> dict:
    value = ModelIndexRecord(identity.peer_id.to_base58(), "smollm2-135m-instruct", 30).to_value()
    value.update(changes)
    return value


def test_model_index_round_trip_and_dispatch(identity):
    record = ModelIndexRecord(identity.peer_id.to_base58(), "smollm2-135m-instruct", 30)
    assert ModelIndexRecord.from_value(MSGPackSerializer.loads(MSGPackSerializer.dumps(record.to_value()))) == record
    assert parse_record(record.to_value()) == record
    assert isinstance(parse_record(make_record(identity).to_value()), ServerRecord)


def test_model_index_records_name_the_architecture_and_stay_readable_across_minor_versions(identity):
    peer = identity.peer_id.to_base58()
    record = ModelIndexRecord(peer, "tiny-qwen", 24, architecture="qwen2")
    assert ModelIndexRecord.from_value(record.to_value()).architecture == "qwen2"
    older = {key: value for key, value in record.to_value().items() if key != "architecture"}
    older["protocol"] = [PROTOCOL_VERSION[0], 1]  # written before the architecture was
    assert ModelIndexRecord.from_value(older) == ModelIndexRecord(peer, "tiny-qwen", 24, (PROTOCOL_VERSION[0], 1))


@pytest.mark.parametrize("changes", [{"num_blocks": 0}, {"num_blocks": True}, {"num_blocks": "30"}, {"model": ""},
                                     {"model": None}, {"peer_id": 5}, {"protocol": None}, {"kind": "other"},
                                     {"architecture": 5}, {"architecture": "x" * 65}])
def test_malformed_model_index_records_are_rejected(identity, changes):
    with pytest.raises(RecordError):
        ModelIndexRecord.from_value(index_value(identity, **changes))


def test_validator_accepts_an_owned_model_index_record(identity):
    value = MSGPackSerializer.dumps(index_value(identity))
    assert ServerRecordValidator().validate(dht_record(owner_subkey(identity), value, key=b"tiny/models"))


def test_validator_rejects_unsigned_foreign_or_malformed_model_index_records(identity, other_identity):
    validator = ServerRecordValidator()
    value = MSGPackSerializer.dumps(index_value(identity))
    assert not validator.validate(dht_record(None, value, key=b"tiny/models"))
    assert not validator.validate(dht_record(MSGPackSerializer.dumps(b"someone"), value, key=b"tiny/models"))
    assert not validator.validate(dht_record(owner_subkey(other_identity), value, key=b"tiny/models"))
    bad = MSGPackSerializer.dumps(index_value(identity, num_blocks=-1))
    assert not validator.validate(dht_record(owner_subkey(identity), bad, key=b"tiny/models"))


def test_signed_model_index_record_through_the_composite_validator(identity, other_identity):
    signer = CompositeValidator(record_validators(RSASignatureValidator(identity.private_key)))
    reader = CompositeValidator(record_validators(RSASignatureValidator(other_identity.private_key)))
    unsigned = dht_record(MSGPackSerializer.dumps(owner_subkey(identity)),
                          MSGPackSerializer.dumps(index_value(identity)), key=b"tiny/models")
    assert reader.validate(dataclasses.replace(unsigned, value=signer.sign_value(unsigned)))
    assert not reader.validate(unsigned)
