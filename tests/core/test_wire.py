"""core.wire never trusts its input: garbage metadata, lying tensor protos and mistyped fields are WireErrors."""
from __future__ import annotations

import re

import msgpack
import pytest
import torch
from hivemind.proto import runtime_pb2

from core.wire import (
    MAX_METADATA_BYTES,
    WireError,
    check_hidden_values,
    decode_metadata,
    decode_tensor,
    encode_metadata,
    encode_tensor,
    request,
    require,
    response,
)

# --- metadata ---------------------------------------------------------------------------------------------

def test_metadata_round_trip():
    metadata = {"model": "m", "start": 0, "end": 3, "auth": b"\x00\xff", "nested": {"a": [1, 2.5, None]}}
    assert decode_metadata(encode_metadata(metadata)) == metadata


def test_empty_metadata_is_an_empty_mapping():
    assert decode_metadata(b"") == {}


@pytest.mark.parametrize("raw", [
    b"\xc1",                     # a byte msgpack never uses
    b"\x81",                     # a map of one entry, cut off
    b"\xdb\xff\xff\xff\xff",     # a str claiming 4 GiB in a 5-byte buffer
    b"\x81\xa1k\x01trailing",    # a valid map followed by extra bytes
    b"\x81\x01\x02",             # a map with an int key (strict_map_key)
    bytes(range(256)),
], ids=["reserved-byte", "truncated-map", "huge-str-claim", "extra-data", "int-key", "byte-soup"])
def test_decode_metadata_rejects_garbage(raw):
    with pytest.raises(WireError, match="not valid msgpack"):
        decode_metadata(raw)


@pytest.mark.parametrize("value", [[1, 2, 3], "text", 7, None, b"bytes", 1.5, True])
def test_decode_metadata_rejects_non_mappings(value):
    with pytest.raises(WireError, match="must be a mapping"):
        decode_metadata(msgpack.packb(value, use_bin_type=True))


def test_decode_metadata_rejects_oversized_before_parsing():
    raw = encode_metadata({"pad": "x" * MAX_METADATA_BYTES})
    assert len(raw) > MAX_METADATA_BYTES
    with pytest.raises(WireError, match=f"more than {MAX_METADATA_BYTES}"):
        decode_metadata(raw)
    # The limit is on the bytes, not on what they hold: garbage that long is refused the same way.
    with pytest.raises(WireError, match="more than"):
        decode_metadata(b"\xc1" * (MAX_METADATA_BYTES + 1))


def test_decode_metadata_accepts_exactly_the_limit():
    overhead = len(encode_metadata({"pad": ""}))
    # str8/16 headers differ; find a padding length that lands exactly on the limit.
    pad = MAX_METADATA_BYTES - overhead - 2
    raw = encode_metadata({"pad": "x" * pad})
    assert len(raw) == MAX_METADATA_BYTES
    assert decode_metadata(raw) == {"pad": "x" * pad}


def test_wire_error_is_a_value_error():
    assert issubclass(WireError, ValueError)


# --- tensors ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.int64, torch.float64])
def test_tensor_round_trip(dtype):
    tensor = (torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) - 5).to(dtype)
    decoded = decode_tensor(encode_tensor(tensor), max_elements=24)
    assert decoded.dtype == dtype
    assert torch.equal(decoded, tensor)


def test_tensor_round_trip_of_non_contiguous_input():
    tensor = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()
    assert torch.equal(decode_tensor(encode_tensor(tensor), max_elements=12), tensor)


def test_empty_tensor_round_trip():
    tensor = torch.zeros(1, 0, 8)
    decoded = decode_tensor(encode_tensor(tensor), max_elements=10)
    assert list(decoded.shape) == [1, 0, 8]


def test_decode_tensor_allows_exactly_max_elements():
    assert decode_tensor(encode_tensor(torch.ones(2, 5)), max_elements=10).numel() == 10
    with pytest.raises(WireError, match="10 elements, more than the 9 allowed"):
        decode_tensor(encode_tensor(torch.ones(2, 5)), max_elements=9)


# Tensor.size is repeated uint32 on the wire: each dimension is at most 2**32 - 1, but their product is unbounded.
@pytest.mark.parametrize("size", [[1, 2**32 - 1, 64], [2**31, 2**31, 2**31], [2**32 - 1] * 8, [1001]])
def test_decode_tensor_refuses_huge_claims_before_allocating(size):
    proto = encode_tensor(torch.ones(1, 2, 4))
    del proto.size[:]
    proto.size.extend(size)
    with pytest.raises(WireError, match="more than the 1000 allowed"):
        decode_tensor(proto, max_elements=1000)


def test_decode_tensor_refuses_a_huge_claim_from_raw_bytes():
    """A hand-made proto (as a hostile peer would send) claiming 2**64 elements with an 8-byte buffer."""
    proto = runtime_pb2.Tensor.FromString(
        runtime_pb2.Tensor(buffer=b"\x00" * 8, size=[2**32 - 1, 2**32 - 1], dtype="float32").SerializeToString())
    with pytest.raises(WireError, match="more than the 100 allowed"):
        decode_tensor(proto, max_elements=100)


@pytest.mark.parametrize("corrupt", ["short", "long", "ragged", "empty", "shape-lies"])
def test_decode_tensor_refuses_corrupted_buffers(corrupt):
    proto = encode_tensor(torch.ones(1, 4, 8))
    if corrupt == "short":
        proto.buffer = proto.buffer[: len(proto.buffer) // 2]
    elif corrupt == "long":
        proto.buffer = proto.buffer + proto.buffer
    elif corrupt == "ragged":
        proto.buffer = proto.buffer[:-1]  # not a whole number of float32 values
    elif corrupt == "empty":
        proto.buffer = b""
    elif corrupt == "shape-lies":
        del proto.size[:]
        proto.size.extend([1, 5, 8])  # 40 elements claimed, 32 sent
    with pytest.raises(WireError, match=r"cannot be decoded|does not match its shape"):
        decode_tensor(proto, max_elements=10_000)


@pytest.mark.parametrize("dtype", ["no-such-dtype", "object", ""])
def test_decode_tensor_refuses_unknown_dtypes(dtype):
    proto = encode_tensor(torch.ones(2, 2))
    proto.dtype = dtype
    with pytest.raises(WireError, match="cannot be decoded"):
        decode_tensor(proto, max_elements=100)


def test_decode_tensor_refuses_unknown_compression():
    proto = encode_tensor(torch.ones(2, 2))
    proto.compression = 12345
    with pytest.raises(WireError, match="cannot be decoded"):
        decode_tensor(proto, max_elements=100)


def test_decode_tensor_of_a_raw_garbage_proto():
    proto = runtime_pb2.Tensor(buffer=b"\x00\x01\x02", size=[3], dtype="float32")
    with pytest.raises(WireError, match="cannot be decoded"):
        decode_tensor(proto, max_elements=100)


def test_request_and_response_helpers():
    hidden = torch.randn(1, 2, 4)
    message = request([hidden], {"position": 3}, uid="x")
    assert message.uid == "x"
    assert decode_metadata(message.metadata) == {"position": 3}
    assert torch.equal(decode_tensor(message.tensors[0], 8), hidden)
    answer = response([hidden])
    assert decode_metadata(answer.metadata) == {}
    assert len(answer.tensors) == 1


# --- require ----------------------------------------------------------------------------------------------

def test_require_returns_values_of_the_right_type():
    metadata = {"n": 3, "s": "x", "b": True, "f": 1.5, "raw": b"\x00"}
    assert require(metadata, "n", int) == 3
    assert require(metadata, "s", str) == "x"
    assert require(metadata, "b", bool) is True
    assert require(metadata, "f", (int, float)) == 1.5
    assert require(metadata, "n", (int, float)) == 3
    assert require(metadata, "raw", bytes) == b"\x00"


def test_require_missing_key():
    with pytest.raises(WireError, match="metadata lacks 'position'"):
        require({"start": 0}, "position", int)


@pytest.mark.parametrize("value", [True, False], ids=["true", "false"])
def test_require_bools_are_not_ints(value):
    with pytest.raises(WireError, match="'start' has the wrong type"):
        require({"start": value}, "start", int)
    with pytest.raises(WireError, match="wrong type"):
        require({"start": value}, "start", (int, float))


@pytest.mark.parametrize("value", ["0", 0.0, 1.5, None, [0], {"v": 0}, b"0"])
def test_require_int_rejects_other_types(value):
    with pytest.raises(WireError, match="'position' has the wrong type"):
        require({"position": value}, "position", int)


@pytest.mark.parametrize("value", [1, None, b"model", ["m"]])
def test_require_str_rejects_other_types(value):
    with pytest.raises(WireError, match="'model' has the wrong type"):
        require({"model": value}, "model", str)


def test_require_bool_rejects_ints():
    with pytest.raises(WireError, match="wrong type"):
        require({"flag": 1}, "flag", bool)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_hidden_states_of_every_served_dtype_pass(dtype):
    check_hidden_values(torch.ones(1, 2, 4, dtype=dtype), "hidden states")


@pytest.mark.parametrize(("values", "expected"), [
    (torch.ones(1, 2, 4, dtype=torch.float64), "hidden states must be float32, bfloat16, float16, got float64"),
    (torch.ones(1, 2, 4, dtype=torch.int32), "got int32"),
    (torch.tensor([[[1.0, float("nan")]]]), "contain NaN or infinity"),
    (torch.tensor([[[1.0, float("-inf")]]], dtype=torch.bfloat16), "contain NaN or infinity"),
    (torch.full((1, 1, 2), 70000.0).half(), "contain NaN or infinity"),  # beyond float16's range: overflowed
])
def test_other_dtypes_and_non_finite_values_are_refused(values, expected):
    with pytest.raises(WireError, match=re.escape(expected)):
        check_hidden_values(values, "hidden states")
