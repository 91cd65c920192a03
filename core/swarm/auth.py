"""The RPC authorization hook: every server RPC passes through an authorizer.

On the public swarm it is a no-op. In a private swarm a caller puts into each request's metadata a proof:
an HMAC, under a key derived from the swarm secret, over its own peer id, the server's peer id, a time
and a nonce. The server recomputes it with the caller's transport-authenticated peer id
(`context.remote_id`), so a proof is useless to anyone but that caller, and only for that server. A
replay cache is not needed for that reason (only the caller itself could replay); the time window
still bounds how long a leaked proof lives.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import struct
import time
from typing import Protocol

from hivemind.p2p import PeerID

PROOF_VERSION = 1
_PROOF_HEADER = struct.Struct(">Bd16s")  # version, unix time, nonce


class AccessDenied(Exception):
    """The caller may not use this server."""


class RpcAuthorizer(Protocol):
    def make_proof(self, local_peer: PeerID, remote_peer: PeerID) -> bytes | None:
        """A proof to send with a request from `local_peer` to `remote_peer` (None: send nothing)."""

    def check(self, proof: bytes | None, remote_peer: PeerID, local_peer: PeerID) -> None:
        """Raise AccessDenied unless `proof` entitles `remote_peer` to call `local_peer`."""


class PublicSwarmAuthorizer:
    """The public swarm is open: no proof is made and every caller is allowed."""

    def make_proof(self, local_peer: PeerID, remote_peer: PeerID) -> bytes | None:
        return None

    def check(self, proof: bytes | None, remote_peer: PeerID, local_peer: PeerID) -> None:
        return None


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one use of the swarm secret, so that a proof for one protocol never passes in another."""
    return hmac.new(secret, f"meadow/{purpose}/v1".encode(), hashlib.sha256).digest()


class SecretRpcAuthorizer:
    """Private swarm RPCs: proofs from the swarm secret bound to both peer ids and a time window."""

    def __init__(self, secret: bytes, max_age: float = 300.0):
        self._key = derive_key(secret, "rpc")
        self.max_age = max_age  # also the tolerated clock difference between member machines

    def make_proof(self, local_peer: PeerID, remote_peer: PeerID) -> bytes | None:
        header = _PROOF_HEADER.pack(PROOF_VERSION, time.time(), os.urandom(16))
        return header + self._mac(header, local_peer, remote_peer)

    def check(self, proof: bytes | None, remote_peer: PeerID, local_peer: PeerID) -> None:
        if proof is None:
            raise AccessDenied("this server belongs to a private swarm; join it with an invite "
                               "(`meadow swarm join TOKEN`) and pass --swarm NAME")
        if len(proof) != _PROOF_HEADER.size + hashlib.sha256().digest_size:
            raise AccessDenied("malformed swarm proof")
        header, mac = proof[:_PROOF_HEADER.size], proof[_PROOF_HEADER.size:]
        version, made_at, _ = _PROOF_HEADER.unpack(header)
        if version != PROOF_VERSION:
            raise AccessDenied(f"unknown swarm proof version {version}")
        if not hmac.compare_digest(mac, self._mac(header, remote_peer, local_peer)):
            raise AccessDenied("wrong swarm secret, or a proof made for another peer")
        if not abs(time.time() - made_at) <= self.max_age:  # `not <=` also refuses NaN
            raise AccessDenied(f"swarm proof outside the {self.max_age:.0f} s window; check this machine's clock")

    def _mac(self, header: bytes, caller: PeerID, server: PeerID) -> bytes:
        caller_bytes, server_bytes = caller.to_bytes(), server.to_bytes()
        message = header + struct.pack(">H", len(caller_bytes)) + caller_bytes + server_bytes
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "SecretRpcAuthorizer(<secret hidden>)"
