"""Which peer addresses Meadow accepts from others: invites, --initial-peers, settings, dial-back requests.

An address from elsewhere makes this machine dial it, so a hostile invite or RPC could point peers at
internal targets (a cloud metadata service, a router's admin page on a link-local address). Only the shapes
a swarm peer really has are accepted:

    /ip4/A | /ip6/A | /dns/H | /dns4/H | /dns6/H   then   /tcp/PORT | /udp/PORT/quic | /udp/PORT/quic-v1
    then /p2p/PEER, optionally followed by /p2p-circuit/p2p/PEER (a circuit relay address through that peer)

Link-local addresses (169.254.0.0/16, which holds the metadata services, and fe80::/10) are refused unless
the setting `swarm.allow_link_local` allows them; unspecified, multicast and broadcast addresses and port 0
are always refused. Loopback and private ranges are allowed: local swarms and home networks use them.
The text is parsed here, component by component, rather than by a multiaddr library, so that every
refusal names its reason.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

import base58

from core.errors import UserFacingError

_HOST_PROTOCOLS = ("ip4", "ip6", "dns", "dns4", "dns6")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                       r"[A-Za-z0-9])?$")
_MAX_ADDRESS_CHARS = 512
_SHA256_MULTIHASH = b"\x12\x20"  # RSA and other long keys: sha2-256 (code 0x12, 32 bytes)
_IDENTITY_MULTIHASH = b"\x00"  # Ed25519 and other short keys: the key itself (identity multihash)


class AddressError(UserFacingError):
    """A peer address that Meadow does not dial, with the reason."""


def check_peer_address(address: str, allow_link_local: bool = False) -> str:
    """`address` stripped of surrounding space if it is a dialable peer multiaddr, else AddressError."""
    text = address.strip()
    try:
        if not text or len(text) > _MAX_ADDRESS_CHARS:
            raise ValueError(f"it is empty or longer than {_MAX_ADDRESS_CHARS} characters")
        parts = text.split("/")
        if parts[0] != "":
            raise ValueError("it must start with '/'")
        _check_components(parts[1:], allow_link_local)
    except ValueError as error:
        raise AddressError(f"Peer address {_shown(text)} is refused: {error}. A peer address looks like "
                           "/ip4/1.2.3.4/tcp/31337/p2p/<peer id> (as printed in a `ready` event)") from None
    return text


def check_peer_addresses(addresses: Iterable[str], allow_link_local: bool = False) -> list[str]:
    """Every address checked by check_peer_address; the first bad one raises."""
    return [check_peer_address(address, allow_link_local) for address in addresses]


def peer_id_of(address: str) -> str:
    """The peer id an address leads to: the last /p2p/ component (the target, for relay addresses)."""
    return address.rstrip("/").rsplit("/p2p/", 1)[-1]


def is_relay_address(address: str) -> bool:
    return "/p2p-circuit" in address


def _check_components(parts: list[str], allow_link_local: bool) -> None:
    rest = _check_host(parts, allow_link_local)
    rest = _check_transport(rest)
    rest = _check_peer(rest)
    if not rest:
        return
    if rest[0] != "p2p-circuit":
        raise ValueError(f"unexpected '/{'/'.join(rest)}' after the peer id")
    rest = _check_peer(rest[1:])
    if rest:
        raise ValueError(f"unexpected '/{'/'.join(rest)}' after the relayed peer id")


def _check_host(parts: list[str], allow_link_local: bool) -> list[str]:
    if len(parts) < 2 or parts[0] not in _HOST_PROTOCOLS:
        raise ValueError("it must begin with /ip4, /ip6, /dns, /dns4 or /dns6 and a host")
    protocol, host = parts[0], parts[1]
    if protocol.startswith("dns"):
        if not _DNS_NAME.match(host):
            raise ValueError(f"{host!r} is not a valid DNS name")
        return parts[2:]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an {protocol} address") from None
    if (ip.version == 4) != (protocol == "ip4"):
        raise ValueError(f"{host!r} is not an {protocol} address")
    _check_ip(ip, allow_link_local)
    return parts[2:]


def _check_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_link_local: bool) -> None:
    if ip.is_unspecified or ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255"):
        raise ValueError(f"{ip} is not the address of one peer (unspecified, multicast or broadcast)")
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    if (ip.is_link_local or (mapped is not None and mapped.is_link_local)) and not allow_link_local:
        raise ValueError(f"{ip} is link-local (where cloud metadata services and router pages live); "
                         "set swarm.allow_link_local to true to allow such addresses")


def _check_transport(parts: list[str]) -> list[str]:
    if len(parts) < 2 or parts[0] not in ("tcp", "udp"):
        raise ValueError("the host must be followed by /tcp/PORT or /udp/PORT/quic-v1")
    _check_port(parts[1])
    if parts[0] == "tcp":
        return parts[2:]
    if len(parts) < 3 or parts[2] not in ("quic", "quic-v1"):
        raise ValueError("a /udp address must continue with /quic or /quic-v1")
    return parts[3:]


def _check_port(text: str) -> None:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"port {text!r} must be a number from 1 to 65535")


def _check_peer(parts: list[str]) -> list[str]:
    if len(parts) < 2 or parts[0] != "p2p":
        raise ValueError("it must end in /p2p/<peer id>")
    _check_peer_id(parts[1])
    return parts[2:]


def _check_peer_id(text: str) -> None:
    try:
        raw = base58.b58decode(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ValueError(f"{_shown(text)} is not a base58 peer id") from None
    sha256 = raw.startswith(_SHA256_MULTIHASH) and len(raw) == 34
    identity = raw.startswith(_IDENTITY_MULTIHASH) and len(raw) > 2 and raw[1] == len(raw) - 2
    if not (sha256 or identity):
        raise ValueError(f"{_shown(text)} is not a peer id (a sha2-256 or identity multihash)")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 100 else text[:100] + "...")
