"""RPC proofs of a private swarm: bound to the secret, both peer ids and a time window; public swarm open."""
from __future__ import annotations

import struct
import time

import pytest
from hivemind.p2p import PeerID

from core.swarm.auth import AccessDenied, PublicSwarmAuthorizer, SecretRpcAuthorizer
from core.swarm.identity import Identity

SECRET = b"k" * 32


def peer() -> PeerID:
    return Identity.ephemeral().peer_id


@pytest.fixture(scope="module")
def peers() -> tuple[PeerID, PeerID, PeerID]:
    return peer(), peer(), peer()


def test_member_proof_passes(peers):
    client, server, _ = peers
    proof = SecretRpcAuthorizer(SECRET).make_proof(client, server)
    SecretRpcAuthorizer(SECRET).check(proof, client, server)


@pytest.mark.parametrize("case", ["missing", "wrong secret", "other caller", "other server", "swapped", "short",
                                  "version", "stale", "future", "nan"])
def test_bad_proofs_are_denied(peers, case):
    client, server, stranger = peers
    good = SecretRpcAuthorizer(SECRET).make_proof(client, server)
    proof, caller, callee = {
        "missing": (None, client, server),
        "wrong secret": (SecretRpcAuthorizer(b"x" * 32).make_proof(client, server), client, server),
        "other caller": (good, stranger, server),
        "other server": (good, client, stranger),
        "swapped": (good, server, client),
        "short": (good[:-1], client, server),
        "version": (b"\x02" + good[1:], client, server),
        "stale": (_retimed(client, server, time.time() - 3600), client, server),
        "future": (_retimed(client, server, time.time() + 3600), client, server),
        "nan": (_retimed(client, server, float("nan")), client, server),
    }[case]
    with pytest.raises(AccessDenied):
        SecretRpcAuthorizer(SECRET).check(proof, caller, callee)


def _retimed(client: PeerID, server: PeerID, when: float) -> bytes:
    """A correctly signed proof made at `when` (as a member with a wrong clock would make it)."""
    authorizer = SecretRpcAuthorizer(SECRET)
    header = struct.pack(">Bd16s", 1, when, b"n" * 16)
    return header + authorizer._mac(header, client, server)


def test_missing_proof_says_how_to_join(peers):
    with pytest.raises(AccessDenied, match="meadow swarm join"):
        SecretRpcAuthorizer(SECRET).check(None, peers[0], peers[1])


def test_public_swarm_is_open(peers):
    public = PublicSwarmAuthorizer()
    assert public.make_proof(peers[0], peers[1]) is None
    public.check(None, peers[0], peers[1])


def test_secret_not_in_repr():
    assert "kkkk" not in repr(SecretRpcAuthorizer(SECRET))
