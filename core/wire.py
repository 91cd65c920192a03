"""What travels between client and server: hidden states as hivemind Tensors, metadata as msgpack dicts.

Both sides use these helpers so that the format is written down once. Decoding never trusts its input:
every failure is a WireError with a message fit for the caller.
"""
from __future__ import annotations

from typing import Any

import msgpack
import torch
from hivemind.compression import deserialize_torch_tensor, serialize_torch_tensor
from hivemind.proto import runtime_pb2

from core.dtypes import FLOAT_DTYPES

MAX_METADATA_BYTES = 64 * 1024
# How a server's refusals begin, so that clients tell them apart from failures: no cache room now (try
# another server or later), or shutting down (continue elsewhere).
BUSY = "busy:"
DRAINING = "draining:"


class WireError(ValueError):
    """A request or response that cannot be decoded or breaks the protocol."""


def encode_metadata(metadata: dict[str, Any]) -> bytes:
    return msgpack.packb(metadata, use_bin_type=True)


def decode_metadata(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_METADATA_BYTES:
        raise WireError(f"metadata is {len(raw)} bytes, more than {MAX_METADATA_BYTES}")
    if not raw:
        return {}
    try:
        metadata = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except Exception as error:  # noqa: BLE001 - msgpack raises many types on garbage
        raise WireError(f"metadata is not valid msgpack ({type(error).__name__})") from None
    if not isinstance(metadata, dict):
        raise WireError("metadata must be a mapping")
    return metadata


def encode_tensor(tensor: torch.Tensor) -> runtime_pb2.Tensor:
    return serialize_torch_tensor(tensor.detach().contiguous())


def decode_tensor(proto: runtime_pb2.Tensor, max_elements: int) -> torch.Tensor:
    """Decode one tensor, refusing ones that claim more elements than `max_elements` before allocating."""
    claimed = 1
    for size in proto.size:
        if size < 0:
            raise WireError("tensor has a negative dimension")
        claimed *= size
    if claimed > max_elements:
        raise WireError(f"tensor has {claimed} elements, more than the {max_elements} allowed")
    try:
        tensor: torch.Tensor = deserialize_torch_tensor(proto)
    except Exception as error:  # noqa: BLE001 - corrupt buffers raise anything from numpy/torch
        raise WireError(f"tensor cannot be decoded: {error}") from None
    if tensor.numel() != claimed:
        raise WireError("tensor buffer does not match its shape")
    return tensor


def check_hidden_values(hidden: torch.Tensor, whose: str) -> None:
    """WireError unless `hidden` holds finite values of a float dtype blocks are served in (float32, bfloat16,
    float16): hidden states travel in their sender's dtype and each receiver converts them to its own."""
    if hidden.dtype not in FLOAT_DTYPES.values():
        names = ", ".join(FLOAT_DTYPES)
        raise WireError(f"{whose} must be {names}, got {str(hidden.dtype).removeprefix('torch.')}")
    if not torch.isfinite(hidden).all():
        raise WireError(f"{whose} contain NaN or infinity")


def request(tensors: list[torch.Tensor], metadata: dict[str, Any], uid: str = "") -> runtime_pb2.ExpertRequest:
    return runtime_pb2.ExpertRequest(uid=uid, tensors=[encode_tensor(t) for t in tensors],
                                     metadata=encode_metadata(metadata))


def response(tensors: list[torch.Tensor], metadata: dict[str, Any] | None = None) -> runtime_pb2.ExpertResponse:
    return runtime_pb2.ExpertResponse(tensors=[encode_tensor(t) for t in tensors],
                                      metadata=encode_metadata(metadata or {}))


def require(metadata: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """metadata[key], checked to be of `kind` (bools are not ints here)."""
    if key not in metadata:
        raise WireError(f"metadata lacks {key!r}")
    value = metadata[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise WireError(f"metadata {key!r} has the wrong type")
    return value
