"""The RPC authorization hook: every server RPC passes through an authorizer.

On the public swarm it is a no-op. A private swarm (a later issue) plugs in an authorizer that puts a
proof from the swarm secret, bound to both peer ids, into each request's metadata and checks it.
"""
from __future__ import annotations

from typing import Protocol

from hivemind.p2p import PeerID


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
