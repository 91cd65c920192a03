"""Invite tokens: one word of text that lets a peer join a private swarm.

Layout: `meadow` + format version digit + base58(msgpack body + 4-byte checksum). Base58 has no
punctuation or look-alike characters, so chat apps neither reformat nor break the token and a double
click selects all of it; the checksum makes a typo or a cut-off paste fail here, with a clear message,
before anything is stored. The body holds the swarm name, its namespace, the secret, the bootstrap
multiaddrs (binary form, to keep tokens short) and the expiry (unix seconds).
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import base58
import msgpack
from hivemind.utils.multiaddr import Multiaddr

from core.errors import UserFacingError
from core.swarm.addresses import AddressError, check_peer_address

PREFIX = "meadow"
VERSION = 1
_ALPHABET = base58.BITCOIN_ALPHABET.decode()
_CHECKSUM_BYTES = 4
_MAX_TOKEN_CHARS = 8192
_RETYPE = "Copy the whole token again, or ask the member who sent it for a new one."


class InviteError(UserFacingError):
    """An invite token is malformed, damaged, from an unknown format, or expired."""


@dataclass(frozen=True)
class Invite:
    name: str
    namespace: str
    secret: bytes = field(repr=False)  # never printed: reprs end up in logs
    initial_peers: tuple[str, ...]
    expires_at: float

    def is_expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at


def make_invite(name: str, namespace: str, secret: bytes, initial_peers: Sequence[str], expires_in: float) -> Invite:
    """An invite valid for `expires_in` seconds from now."""
    return Invite(name, namespace, secret, tuple(initial_peers), time.time() + expires_in)


def encode_invite(invite: Invite) -> str:
    """The token text for `invite`; raises InviteError for an address that is not a full multiaddr."""
    addresses = [_maddr_bytes(address) for address in invite.initial_peers]
    body = msgpack.packb([invite.name, invite.namespace, invite.secret, addresses, int(invite.expires_at)])
    return f"{PREFIX}{VERSION}{base58.b58encode(body + _checksum(body)).decode()}"


def decode_invite(token: str, now: float | None = None, allow_link_local: bool = False) -> Invite:
    """The invite in `token`; raises InviteError with what to do for any bad, damaged or expired token, or for
    a bootstrap address that core/swarm/addresses.py refuses (link-local ones unless `allow_link_local`)."""
    text = "".join(token.split())  # chat apps may wrap a long token over lines
    if not text.startswith(PREFIX):
        raise InviteError(f"This is not a Meadow invite token: a token starts with '{PREFIX}'. {_RETYPE}")
    version, payload = text[len(PREFIX):len(PREFIX) + 1], text[len(PREFIX) + 1:]
    if version != str(VERSION):
        raise InviteError(f"This invite token has format {version!r}, which this Meadow cannot read "
                          f"(it reads format {VERSION}). Update Meadow, or ask for a token from this version.")
    if not payload or len(text) > _MAX_TOKEN_CHARS:
        raise InviteError(f"This invite token is incomplete or far too long. {_RETYPE}")
    bad = sorted({char for char in payload if char not in _ALPHABET})
    if bad:
        raise InviteError(f"This invite token contains characters a token never has ({''.join(bad)!r}): "
                          f"it was mistyped or changed. {_RETYPE}")
    raw = base58.b58decode(payload)
    body, checksum = raw[:-_CHECKSUM_BYTES], raw[-_CHECKSUM_BYTES:]
    if len(raw) <= _CHECKSUM_BYTES or _checksum(body) != checksum:
        raise InviteError(f"This invite token is damaged or cut off (its checksum does not match). {_RETYPE}")
    invite = _parse_body(body)
    try:
        for address in invite.initial_peers:
            check_peer_address(address, allow_link_local)
    except AddressError as error:
        raise InviteError(f"This invite to swarm {invite.name!r} points at an address Meadow does not dial: {error}. "
                          "Ask for an invite with the swarm's real peer addresses.") from None
    if invite.is_expired(now):
        expired = time.strftime("%Y-%m-%d %H:%M", time.localtime(invite.expires_at))
        raise InviteError(f"This invite to swarm {invite.name!r} expired on {expired}. Ask a member for a new one "
                          f"(`meadow invite create --swarm {invite.name}`).")
    return invite


def _parse_body(body: bytes) -> Invite:
    try:
        name, namespace, secret, addresses, expires_at = msgpack.unpackb(body, use_list=True, raw=False)
        fields_ok = (isinstance(name, str) and isinstance(namespace, str) and isinstance(secret, bytes)
                     and isinstance(addresses, list) and isinstance(expires_at, int)
                     and not isinstance(expires_at, bool))
        if not fields_ok or not name or not namespace or len(secret) < 16:
            raise ValueError("unexpected fields")
        peers = tuple(_maddr_text(address) for address in addresses)
    except Exception:  # noqa: BLE001 - whatever is wrong inside, the user needs one message
        raise InviteError(f"This invite token passed its checksum but its content is invalid. {_RETYPE}") from None
    return Invite(name=name, namespace=namespace, secret=secret, initial_peers=peers, expires_at=float(expires_at))


def _maddr_bytes(address: str) -> bytes:
    try:
        check_peer_address(address, allow_link_local=True)  # the inviter's own choice; joiners check again
    except AddressError as error:
        raise InviteError(str(error)) from None
    try:
        packed: bytes = Multiaddr(address).to_bytes()
        return packed
    except Exception as error:  # noqa: BLE001 - the multiaddr library raises several kinds
        raise InviteError(f"Invite address {address!r} is not a valid multiaddr: {error}") from None


def _maddr_text(raw: object) -> str:
    if not isinstance(raw, bytes):
        raise ValueError("address is not bytes")
    text = str(Multiaddr(raw))
    if "/p2p/" not in text:
        raise ValueError("address without peer id")
    return text


def _checksum(body: bytes) -> bytes:
    return hashlib.sha256(f"{PREFIX}{VERSION}".encode() + body).digest()[:_CHECKSUM_BYTES]
