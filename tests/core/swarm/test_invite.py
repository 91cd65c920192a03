"""Invite tokens: round trip, expiry, and every random or mutated token refused with a clear message."""
from __future__ import annotations

import random
import time

import base58
import msgpack
import pytest

from core.errors import UserFacingError
from core.swarm import invite as invite_module
from core.swarm.invite import Invite, InviteError, decode_invite, encode_invite, make_invite

PEERS = ("/ip4/127.0.0.1/tcp/4000/p2p/12D3KooWEZXjE41uU4EL2gpkAQeDXYok6wghN7wwNVPF5bwkaNfS",
         "/ip6/::1/tcp/4001/p2p/QmNdqFQH7dzMHK9mESdG5Ly1FkRi7JqoE5ymJi3BupykL2")
SECRET = bytes(range(32))


def valid_token(expires_in: float = 3600.0) -> str:
    return encode_invite(make_invite("team", "private-0123456789abcdef", SECRET, PEERS, expires_in))


def test_round_trip_keeps_every_field():
    invite = decode_invite(valid_token())
    assert (invite.name, invite.namespace, invite.secret, invite.initial_peers) == (
        "team", "private-0123456789abcdef", SECRET, PEERS)
    assert time.time() + 3500 < invite.expires_at <= time.time() + 3600


def test_token_is_one_paste_safe_word_with_prefix_and_version():
    token = valid_token()
    assert token.startswith("meadow1") and token.isalnum() and len(token) < 400


def test_wrapped_token_still_decodes():
    token = valid_token()
    assert decode_invite(f"  {token[:50]}\n{token[50:]} \n").secret == SECRET


def test_expired_token_is_refused_with_its_swarm_name():
    with pytest.raises(InviteError, match=r"swarm 'team' expired .*meadow invite create --swarm team"):
        decode_invite(valid_token(expires_in=-1))


def test_secret_never_in_repr():
    invite = decode_invite(valid_token())
    assert str(list(SECRET)) not in repr(invite) and repr(SECRET) not in repr(invite)


def test_newer_format_names_the_fix():
    with pytest.raises(InviteError, match="Update Meadow"):
        decode_invite("meadow2" + valid_token()[7:])


def test_content_behind_a_valid_checksum_is_still_checked():
    for body in (msgpack.packb([1, 2, 3]), msgpack.packb(["a", "b", b"short", [], 5]),
                 msgpack.packb(["a", "b", SECRET, [b"\x04junk"], 5]), b"\xc1"):
        token = "meadow1" + base58.b58encode(body + invite_module._checksum(body)).decode()
        with pytest.raises(InviteError, match="content is invalid"):
            decode_invite(token)


def test_addresses_must_be_full_multiaddrs():
    with pytest.raises(InviteError, match="/p2p/"):
        encode_invite(Invite("team", "ns", SECRET, ("/ip4/1.2.3.4/tcp/1",), time.time() + 60))


def _mutations(token: str, rng: random.Random) -> str:
    alphabet = invite_module._ALPHABET + "0OIl+/=-_!é"
    position = rng.randrange(len(token))
    kind = rng.choice(["substitute", "delete", "insert", "truncate", "swap", "duplicate"])
    if kind == "substitute":
        replacement = rng.choice([char for char in alphabet if char != token[position]])
        return token[:position] + replacement + token[position + 1:]
    if kind == "delete":
        return token[:position] + token[position + 1:]
    if kind == "insert":
        return token[:position] + rng.choice(alphabet) + token[position:]
    if kind == "truncate":
        return token[:position]
    if kind == "duplicate":
        return token + token[position:]
    other = min(position + 1, len(token) - 1)
    if token[position] == token[other]:
        return token[:position]
    return token[:position] + token[other] + token[position] + token[other + 1:]


def _random_text(rng: random.Random) -> str:
    kind = rng.choice(["printable", "base58", "prefixed"])
    length = rng.randrange(0, 300)
    if kind == "printable":
        return "".join(chr(rng.randrange(33, 0x2FF)) for _ in range(length))
    body = "".join(rng.choice(invite_module._ALPHABET) for _ in range(length))
    return body if kind == "base58" else "meadow1" + body


def test_thousand_random_and_mutated_tokens_are_refused_clearly():
    rng = random.Random(6)
    token = valid_token()
    candidates = [_random_text(rng) for _ in range(500)] + [_mutations(token, rng) for _ in range(500)]
    for candidate in candidates:
        assert candidate != token
        with pytest.raises(UserFacingError) as refused:
            decode_invite(candidate)
        message = str(refused.value)
        assert isinstance(refused.value, InviteError) and len(message) > 30, (candidate, message)
        assert SECRET.hex() not in message


def test_an_invite_pointing_at_a_link_local_address_is_refused_when_joining():
    """A hostile invite must not make joiners dial internal targets such as a cloud metadata service."""
    metadata = "/ip4/169.254.169.254/tcp/80/p2p/QmNdqFQH7dzMHK9mESdG5Ly1FkRi7JqoE5ymJi3BupykL2"
    token = encode_invite(make_invite("team", "private-0123456789abcdef", SECRET, (metadata,), 3600.0))
    with pytest.raises(InviteError, match=r"does not dial.*link-local"):
        decode_invite(token)
    assert decode_invite(token, allow_link_local=True).initial_peers == (metadata,)
