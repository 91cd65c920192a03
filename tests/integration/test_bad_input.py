"""A real server refuses bad input with a message that names the problem, and keeps serving right after.

Every test talks to server 0 of `tiny_swarm` (blocks 0:3 of the tiny Llama, hidden 64, float32) through raw
stubs of a real client peer, sends one bad request (or stream), checks the caller's error, then checks that
good requests still work and that no session was left open.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Callable

import msgpack
import pytest
import torch
from hivemind.dht.crypto import RSASignatureValidator
from hivemind.p2p import P2PHandlerError
from hivemind.proto import runtime_pb2

from core import PROTOCOL_VERSION
from core.client.swarm_client import SwarmClient
from core.client.worker import run_sync
from core.config import Settings
from core.swarm import directory
from core.swarm.dht import SwarmSelection, start_dht
from core.swarm.directory import fetch_raw, fetch_servers, record_expiration, store_records
from core.swarm.identity import Identity
from core.swarm.keys import block_key
from core.swarm.records import ServerRecord
from core.wire import MAX_METADATA_BYTES, decode_metadata, decode_tensor, encode_tensor, request

pytestmark = pytest.mark.slow

NAMESPACE = "tiny"
MODEL = "tiny-llama"  # the DHT name of a local folder is its base name
HIDDEN = 64
SPAN = (0, 3)
SERVER_MAX_LENGTH = 8192  # server.max_length default
MAX_ELEMENTS = 65536 * HIDDEN  # server.max_request_tokens default x hidden
TIMEOUT = 30.0


class StreamClosed(Exception):
    """The server closed an inference stream without an answer (nor an error message)."""


class RawBytes:
    """Stands in for a protobuf message: the stub sends whatever SerializeToString returns, unparsed."""

    def __init__(self, data: bytes):
        self.data = data

    def SerializeToString(self) -> bytes:
        return self.data


# --- fixtures ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(tiny_swarm, bootstrap):
    swarm_client = SwarmClient(SwarmSelection(NAMESPACE, bootstrap.multiaddrs), Settings.load())
    try:
        deadline = time.monotonic() + 60
        while True:  # discover the servers first, as a real client does
            found = swarm_client.servers(MODEL, 6)
            if all(any(s.record.peer_id == tiny_swarm[0].peer_id for s in found[i]) for i in range(*SPAN)):
                break
            assert time.monotonic() < deadline, f"server 0 not found in the DHT: {found}"
            time.sleep(0.5)
        yield swarm_client
    finally:
        swarm_client.shutdown()


@pytest.fixture(scope="module")
def peer(tiny_swarm) -> str:
    return tiny_swarm[0].peer_id


# --- calls ------------------------------------------------------------------------------------------------

async def _forward(client: SwarmClient, peer: str, message) -> runtime_pb2.ExpertResponse:
    stub = await client.stub(peer)
    return await stub.rpc_forward(message, timeout=TIMEOUT)


async def _info(client: SwarmClient, peer: str, message) -> runtime_pb2.ExpertResponse:
    stub = await client.stub(peer)
    return await stub.rpc_info(message, timeout=TIMEOUT)


async def _inference(client: SwarmClient, peer: str, messages: list,
                     timeout: float = TIMEOUT) -> list[runtime_pb2.ExpertResponse]:
    """One stream: send each message after the answer to the previous one; raise the first error."""
    stub = await client.stub(peer)
    queue: asyncio.Queue = asyncio.Queue()

    async def requests():
        while (item := await queue.get()) is not None:
            yield item

    await queue.put(messages[0])  # queued before opening: p2pd completes the opening only once data flows
    responses = await asyncio.wait_for(stub.rpc_inference(requests()), timeout)
    answers = []
    for index, message in enumerate(messages):
        if index:
            await queue.put(message)
        try:
            answers.append(await asyncio.wait_for(anext(responses), timeout))
        except StopAsyncIteration:
            raise StreamClosed(f"the server closed the stream without answering message {index}") from None
    await queue.put(None)
    async for extra in responses:  # the server ends the stream once it has read the end marker
        raise AssertionError(f"unexpected answer after the last step: {extra}")
    return answers


def forward(client, peer, message) -> runtime_pb2.ExpertResponse:
    return run_sync(_forward(client, peer, message), TIMEOUT + 5)


def info(client, peer, message=None) -> dict:
    return decode_metadata(run_sync(_info(client, peer, message or runtime_pb2.ExpertRequest()), TIMEOUT + 5).metadata)


def inference(client, peer, messages: list, timeout: float = TIMEOUT) -> list[runtime_pb2.ExpertResponse]:
    return run_sync(_inference(client, peer, messages, timeout), timeout * (len(messages) + 1))


# --- messages ---------------------------------------------------------------------------------------------

def hidden(tokens: int = 2, batch: int = 1, size: int = HIDDEN, dtype: torch.dtype = torch.float32,
           seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, tokens, size, generator=generator).to(dtype)


def _edit(metadata: dict, changes: dict) -> dict:
    metadata = dict(metadata)
    for key, value in changes.items():
        if value is DROP:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    return metadata


DROP = object()


def span_meta(**changes) -> dict:
    return _edit({"model": MODEL, "start": SPAN[0], "end": SPAN[1]}, changes)


def open_meta(**changes) -> dict:
    """The first message of a session: span, max_length, session id and the first step's position."""
    return _edit({"model": MODEL, "start": SPAN[0], "end": SPAN[1], "max_length": 16, "position": 0,
                  "session_id": uuid.uuid4().hex}, changes)


def raw_request(tensors: list[runtime_pb2.Tensor], metadata: bytes) -> runtime_pb2.ExpertRequest:
    return runtime_pb2.ExpertRequest(tensors=tensors, metadata=metadata)


def huge_claim() -> runtime_pb2.Tensor:
    proto = encode_tensor(hidden(2))
    del proto.size[:]
    proto.size.extend([1, 2**32 - 1, HIDDEN])  # 2**32 tokens claimed; the buffer holds 2
    return proto


def short_buffer() -> runtime_pb2.Tensor:
    proto = encode_tensor(hidden(4))
    proto.buffer = proto.buffer[: len(proto.buffer) // 2]  # [1, 4, 64] claimed, half of it sent
    return proto


def nan_hidden() -> torch.Tensor:
    tensor = hidden(2)
    tensor[0, 1, 5] = float("nan")
    return tensor


def infinite_half_hidden() -> torch.Tensor:
    tensor = hidden(dtype=torch.float16)
    tensor[0, 0, 3] = float("inf")
    return tensor


# Not a protobuf: field 1 (length-delimited) claiming ~4 GiB, then nothing.
GARBAGE = b"\x0a\xff\xff\xff\xff\x0f\x00\x01"

# Bad input that both RPCs taking hidden states must refuse: (id, hidden states or raw tensors, metadata changes or
# raw metadata bytes, expected substring of the error).
HIDDEN_CASES = [
    ("2d-hidden", lambda: [encode_tensor(torch.randn(2, HIDDEN))], {}, "must be [batch, tokens, 64], got [2, 64]"),
    ("4d-hidden", lambda: [encode_tensor(torch.randn(1, 1, 2, HIDDEN))], {}, "got [1, 1, 2, 64]"),
    ("wrong-hidden-size", lambda: [encode_tensor(hidden(size=32))], {}, "must be [batch, tokens, 64], got [1, 2, 32]"),
    ("zero-tokens", lambda: [encode_tensor(hidden(tokens=0))], {}, "hidden states are empty"),
    ("zero-batch", lambda: [encode_tensor(hidden(batch=0))], {}, "hidden states are empty"),
    ("float64", lambda: [encode_tensor(hidden(dtype=torch.float64))], {},
     "hidden states must be float32, bfloat16, float16, got float64"),
    ("int64", lambda: [encode_tensor(hidden(dtype=torch.int64))], {}, "must be float32, bfloat16, float16, got int64"),
    ("nan", lambda: [encode_tensor(nan_hidden())], {}, "NaN or infinity"),
    ("infinity-in-float16", lambda: [encode_tensor(infinite_half_hidden())], {}, "NaN or infinity"),
    ("batch-over-limit", lambda: [encode_tensor(hidden(tokens=1, batch=65))], {},
     "batch of 65 exceeds the limit of 64"),
    ("two-tensors", lambda: [encode_tensor(hidden()), encode_tensor(hidden())], {},
     "expected 1 tensor (hidden states), got 2"),
    ("huge-size-claim", lambda: [huge_claim()], {}, f"elements, more than the {MAX_ELEMENTS} allowed"),
    ("short-buffer", lambda: [short_buffer()], {}, "tensor cannot be decoded"),
    ("blocks-after-span", lambda: [encode_tensor(hidden())], {"start": 3, "end": 6},
     "blocks 3:6 are not within this server's 0:3"),
    ("blocks-overlapping-end", lambda: [encode_tensor(hidden())], {"start": 2, "end": 4},
     "blocks 2:4 are not within this server's 0:3"),
    ("empty-block-range", lambda: [encode_tensor(hidden())], {"start": 2, "end": 2}, "blocks 2:2 are not within"),
    ("negative-start", lambda: [encode_tensor(hidden())], {"start": -1}, "blocks -1:3 are not within"),
    ("wrong-model", lambda: [encode_tensor(hidden())], {"model": "other-llama"},
     "this server serves tiny-llama, not other-llama"),
    ("missing-model", lambda: [encode_tensor(hidden())], {"model": DROP}, "metadata lacks 'model'"),
    ("missing-start", lambda: [encode_tensor(hidden())], {"start": DROP}, "metadata lacks 'start'"),
    ("missing-end", lambda: [encode_tensor(hidden())], {"end": DROP}, "metadata lacks 'end'"),
    ("start-as-str", lambda: [encode_tensor(hidden())], {"start": "0"}, "metadata 'start' has the wrong type"),
    ("start-as-bool", lambda: [encode_tensor(hidden())], {"start": False}, "metadata 'start' has the wrong type"),
    ("end-as-float", lambda: [encode_tensor(hidden())], {"end": 3.0}, "metadata 'end' has the wrong type"),
    ("model-as-bytes", lambda: [encode_tensor(hidden())], {"model": MODEL.encode()},
     "metadata 'model' has the wrong type"),
    ("metadata-not-msgpack", lambda: [encode_tensor(hidden())], b"\xc1\xc1\xc1", "metadata is not valid msgpack"),
    ("metadata-truncated", lambda: [encode_tensor(hidden())], b"\x83\xa5model", "metadata is not valid msgpack"),
    ("metadata-int-keys", lambda: [encode_tensor(hidden())], msgpack.packb({1: 2}), "metadata is not valid msgpack"),
    ("metadata-a-list", lambda: [encode_tensor(hidden())], msgpack.packb([MODEL, 0, 3]), "metadata must be a mapping"),
    ("metadata-oversized", lambda: [encode_tensor(hidden())], msgpack.packb({"pad": "x" * MAX_METADATA_BYTES}),
     f"more than {MAX_METADATA_BYTES}"),
]


def build(tensors: Callable, metadata_changes, base: Callable[..., dict]) -> runtime_pb2.ExpertRequest:
    if isinstance(metadata_changes, bytes):
        return raw_request(tensors(), metadata_changes)
    return raw_request(tensors(), msgpack.packb(base(**metadata_changes), use_bin_type=True))


# --- checks -----------------------------------------------------------------------------------------------

def assert_refused(call: Callable[[], object], expected: str) -> str:
    with pytest.raises(P2PHandlerError) as caught:
        call()
    message = str(caught.value)
    assert expected in message, f"the error does not name the problem ({expected!r}): {message}"
    return message


def assert_still_serving(client: SwarmClient, peer: str) -> None:
    """Good requests of both kinds succeed (and agree), and no session is left open on the server."""
    prompt = hidden(3, seed=7)
    out = decode_tensor(forward(client, peer, request([prompt], span_meta())).tensors[0], MAX_ELEMENTS)
    assert out.shape == prompt.shape and torch.isfinite(out).all()
    answers = inference(client, peer, [request([prompt[:, :2]], open_meta(max_length=4)),
                                       request([prompt[:, 2:]], {"position": 2})])
    assert [decode_metadata(a.metadata)["position"] for a in answers] == [2, 3]
    stepped = torch.cat([decode_tensor(a.tensors[0], MAX_ELEMENTS) for a in answers], dim=1)
    assert torch.allclose(stepped, out, atol=1e-5), "the KV-cached steps disagree with the one-shot forward"
    deadline = time.monotonic() + 10
    while (state := info(client, peer))["open_sessions"] != 0:
        assert time.monotonic() < deadline, f"a session was left open on the server: {state}"
        time.sleep(0.1)


# --- the good path first: the checks below depend on it --------------------------------------------------

def test_good_requests(client, peer):
    details = info(client, peer)
    assert details["model"] == MODEL
    assert (details["start"], details["end"]) == SPAN
    assert details["hidden_size"] == HIDDEN and details["dtype"] == "float32"
    assert details["max_length"] == SERVER_MAX_LENGTH
    assert tuple(details["protocol"]) == PROTOCOL_VERSION
    assert details["open_sessions"] == 0
    assert_still_serving(client, peer)
    # A session may open without a step, and a step may fill it exactly.
    answers = inference(client, peer, [raw_request([], msgpack.packb(open_meta(max_length=3, position=DROP))),
                                       request([hidden(3)], {"position": 0})])
    assert [decode_metadata(a.metadata)["position"] for a in answers] == [0, 3]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_hidden_states_of_another_float_dtype_are_converted(client, peer, dtype):
    """The wire carries the sender's dtype: a float32 server computes 16-bit hidden states as their float32 values
    and answers in float32, its own."""
    prompt = hidden(3, seed=11).to(dtype)
    got = decode_tensor(forward(client, peer, request([prompt], span_meta())).tensors[0], MAX_ELEMENTS)
    expected = decode_tensor(forward(client, peer, request([prompt.float()], span_meta())).tensors[0], MAX_ELEMENTS)
    assert got.dtype == torch.float32 and torch.equal(got, expected)


# --- rpc_forward ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tensors, metadata, expected", [case[1:] for case in HIDDEN_CASES],
                         ids=[case[0] for case in HIDDEN_CASES])
def test_forward_refuses(client, peer, tensors, metadata, expected):
    assert_refused(lambda: forward(client, peer, build(tensors, metadata, span_meta)), expected)
    assert_still_serving(client, peer)


@pytest.mark.parametrize("message, expected", [
    (lambda: raw_request([], msgpack.packb(span_meta())), "expected 1 tensor (hidden states), got 0"),
    (lambda: request([hidden(SERVER_MAX_LENGTH + 1)], span_meta()), f"{SERVER_MAX_LENGTH + 1} tokens exceed"),
    (lambda: RawBytes(GARBAGE), "DecodeError"),
    (lambda: RawBytes(b"\x0a\x02\xff\xfe"), "DecodeError"),  # uid: invalid UTF-8 in a string field
], ids=["no-tensor", "tokens-over-server-max-length", "garbage-bytes", "invalid-utf8"])
def test_forward_refuses_more(client, peer, message, expected):
    assert_refused(lambda: forward(client, peer, message()), expected)
    assert_still_serving(client, peer)


# --- rpc_inference: the opening message -------------------------------------------------------------------

@pytest.mark.parametrize("tensors, metadata, expected", [case[1:] for case in HIDDEN_CASES],
                         ids=[case[0] for case in HIDDEN_CASES])
def test_inference_refuses_opening(client, peer, tensors, metadata, expected):
    assert_refused(lambda: inference(client, peer, [build(tensors, metadata, open_meta)]), expected)
    assert_still_serving(client, peer)


SESSION_CASES = [
    ("missing-max-length", {"max_length": DROP}, 2, "metadata lacks 'max_length'"),
    ("max-length-as-str", {"max_length": "16"}, 2, "metadata 'max_length' has the wrong type"),
    ("max-length-as-bool", {"max_length": True}, 2, "metadata 'max_length' has the wrong type"),
    ("max-length-as-float", {"max_length": 16.0}, 2, "metadata 'max_length' has the wrong type"),
    ("max-length-zero", {"max_length": 0}, 2, f"max_length must be between 1 and {SERVER_MAX_LENGTH}, got 0"),
    ("max-length-negative", {"max_length": -5}, 2, "got -5"),
    ("max-length-over-server-limit", {"max_length": SERVER_MAX_LENGTH + 1}, 2,
     f"max_length must be between 1 and {SERVER_MAX_LENGTH}, got {SERVER_MAX_LENGTH + 1}"),
    ("tokens-over-session-max-length", {"max_length": 4}, 5,
     "5 tokens exceed the session's remaining length (4 tokens)"),
    ("missing-position", {"position": DROP}, 2, "metadata lacks 'position'"),
    ("position-as-str", {"position": "0"}, 2, "metadata 'position' has the wrong type"),
    ("position-as-bool", {"position": False}, 2, "metadata 'position' has the wrong type"),
    ("wrong-first-position", {"position": 5}, 2, "step starts at position 5, but the session holds 0 tokens"),
    ("session-id-not-str", {"session_id": 12345}, 2, "session_id must be a non-empty string"),
    ("session-id-too-long", {"session_id": "s" * 65}, 2, "session_id must be a non-empty string"),
]


@pytest.mark.parametrize("changes, tokens, expected", [case[1:] for case in SESSION_CASES],
                         ids=[case[0] for case in SESSION_CASES])
def test_inference_refuses_session(client, peer, changes, tokens, expected):
    assert_refused(lambda: inference(client, peer, [request([hidden(tokens)], open_meta(**changes))]), expected)
    assert_still_serving(client, peer)


# --- rpc_inference: later steps ---------------------------------------------------------------------------

LATER_STEP_CASES = [
    ("tokens-over-remaining-length", lambda: request([hidden(2)], {"position": 3}),
     "2 tokens exceed the session's remaining length (1 tokens)"),
    ("position-repeated", lambda: request([hidden(1)], {"position": 0}),
     "step starts at position 0, but the session holds 3 tokens"),
    ("position-ahead", lambda: request([hidden(1)], {"position": 4}),
     "step starts at position 4, but the session holds 3 tokens"),
    ("position-missing", lambda: request([hidden(1)], {}), "metadata lacks 'position'"),
    ("no-hidden-states", lambda: raw_request([], msgpack.packb({"position": 3})), "a step carries no hidden states"),
    ("batch-changed", lambda: request([hidden(1, batch=2)], {"position": 3}), "the session's batch size is 1, got 2"),
    ("wrong-dtype", lambda: request([hidden(1, dtype=torch.float64)], {"position": 3}), "got float64"),
    ("wrong-hidden-size", lambda: request([hidden(1, size=65)], {"position": 3}), "got [1, 1, 65]"),
    ("huge-size-claim", lambda: raw_request([huge_claim()], msgpack.packb({"position": 3})), "elements, more than"),
    ("short-buffer", lambda: raw_request([short_buffer()], msgpack.packb({"position": 3})), "tensor cannot be decoded"),
    ("metadata-not-msgpack", lambda: raw_request([encode_tensor(hidden(1))], b"\xc1"), "metadata is not valid msgpack"),
    ("metadata-a-list", lambda: raw_request([encode_tensor(hidden(1))], msgpack.packb([3])), "must be a mapping"),
]


@pytest.mark.parametrize("bad_step, expected", [case[1:] for case in LATER_STEP_CASES],
                         ids=[case[0] for case in LATER_STEP_CASES])
def test_inference_refuses_later_step(client, peer, bad_step, expected):
    opening = request([hidden(3)], open_meta(max_length=4))  # 3 of 4 tokens used
    assert_refused(lambda: inference(client, peer, [opening, bad_step()]), expected)
    assert_still_serving(client, peer)


@pytest.mark.parametrize("opener_id, stranger_id, expected", [
    ("session-a", "session-b", "unknown session 'session-b': this stream serves session-a"),
    ("session-a", "", "unknown session '': this stream serves session-a"),
    ("session-a", 7, "unknown session '7'"),
    (DROP, "session-b", "unknown session 'session-b'"),  # the server named the session itself
], ids=["other-id", "empty-id", "int-id", "opener-without-id"])
def test_inference_refuses_a_step_of_another_session(client, peer, opener_id, stranger_id, expected):
    opening = request([hidden(2)], open_meta(session_id=opener_id))
    stranger = request([hidden(1)], {"position": 2, "session_id": stranger_id})
    assert_refused(lambda: inference(client, peer, [opening, stranger]), expected)
    assert_still_serving(client, peer)


def test_inference_accepts_later_steps_naming_their_own_session(client, peer):
    answers = inference(client, peer, [request([hidden(2)], open_meta(session_id="session-a")),
                                       request([hidden(1)], {"position": 2, "session_id": "session-a"}),
                                       request([hidden(1)], {"position": 3})])
    assert [decode_metadata(a.metadata)["position"] for a in answers] == [2, 3, 4]


@pytest.mark.parametrize("position", ["opening", "later"])
def test_inference_garbage_bytes_get_no_answer(client, peer, position):
    """A stream message that is not a protobuf never reaches the handler: hivemind's stream reader logs the
    DecodeError and drops the stream on the server, and the caller (in this hivemind/p2pd version) sees neither
    an error message nor the end of the stream, only its own timeout. The server must keep serving."""
    opening = request([hidden(2)], open_meta())
    messages = [RawBytes(GARBAGE)] if position == "opening" else [opening, RawBytes(GARBAGE)]
    started = time.monotonic()
    with pytest.raises((StreamClosed, TimeoutError)):
        inference(client, peer, messages, timeout=3.0)
    assert time.monotonic() - started < 3.0 * (len(messages) + 1) + 5
    assert_still_serving(client, peer)


# --- rpc_info ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [GARBAGE, b"\x0a\x02\xff\xfe", b"\xff" * 16], ids=["truncated", "invalid-utf8", "ff"])
def test_info_refuses_garbage_bytes(client, peer, data):
    assert_refused(lambda: info(client, peer, RawBytes(data)), "DecodeError")
    assert_still_serving(client, peer)


@pytest.mark.parametrize("message", [
    lambda: runtime_pb2.ExpertRequest(uid="x" * 10_000),
    lambda: request([hidden(2)], {"model": "other", "start": 9, "end": 1}, uid="anything"),
], ids=["long-uid", "expert-request"])
def test_info_ignores_everything_but_the_authorization(client, peer, message):
    """rpc_info reads only the authorization proof: on the public swarm any request gets the same answer."""
    assert info(client, peer, message())["model"] == MODEL
    assert_still_serving(client, peer)


# --- records of another major protocol version ------------------------------------------------------------

def test_incompatible_records_are_ignored_with_one_warning(client, tiny_swarm, bootstrap, caplog, monkeypatch):
    monkeypatch.setattr(directory, "_warned_versions", set())
    identity = Identity.ephemeral()
    other = start_dht(SwarmSelection(NAMESPACE, bootstrap.multiaddrs), Settings.load(), identity)
    try:
        record = ServerRecord(peer_id=identity.peer_id.to_base58(), state="online", model=MODEL, start=0, end=2,
                              throughput=1e6, version="99.0.0", protocol=(99, 0))
        subkey = RSASignatureValidator(identity.private_key).local_public_key
        keys = [block_key(NAMESPACE, MODEL, index) for index in (0, 1)]
        stored = other.run_coroutine(functools.partial(store_records, keys=keys, subkey=subkey,
                                                        value=record.to_value(), expiration=record_expiration(30)))
        assert stored, "the DHT refused a well-signed record of another major version"

        # The record really is in the DHT, as the reader's own peer sees it...
        deadline = time.monotonic() + 30
        while True:
            raw = client.dht.run_coroutine(functools.partial(fetch_raw, keys=keys))
            if all(subkey in raw[key] for key in keys):
                break
            assert time.monotonic() < deadline, "the client never saw the stored record"
            time.sleep(0.5)
        assert raw[keys[0]][subkey][0]["protocol"] == [99, 0]

        # ...but fetch_servers leaves it out, keeps the real servers, and warns once for any number of reads.
        with caplog.at_level(logging.WARNING, logger="core.swarm.directory"):
            reads = [fetch_servers(client.dht, NAMESPACE, MODEL, list(range(6))) for _ in range(3)]
        for found in reads:
            peers = {index: {server.record.peer_id for server in servers} for index, servers in found.items()}
            assert all(identity.peer_id.to_base58() not in ids for ids in peers.values())
            assert all(tiny_swarm[0].peer_id in peers[index] for index in range(3))
            assert all(tiny_swarm[1].peer_id in peers[index] for index in range(3, 6))
        warnings = [entry for entry in caplog.records
                    if entry.name == "core.swarm.directory" and entry.levelno == logging.WARNING]
        assert len(warnings) == 1, [entry.getMessage() for entry in warnings]
        assert "incompatible version" in warnings[0].getMessage()
        assert "99.0.0" in warnings[0].getMessage() and "protocol 99" in warnings[0].getMessage()
    finally:
        other.shutdown()
