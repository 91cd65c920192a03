"""Whether other machines can dial this peer directly, judged from the addresses libp2p knows for it.

p2pd learns the addresses peers observe (identify), maps ports on NAT routers (UPnP/NAT-PMP) and keeps
relay support on, so its latest visible addresses are the best local evidence: a public IP address means
direct dials can work; only private or loopback ones mean peers elsewhere reach it through a relay, if at all.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

_ADVICE = {
    "loopback": "listens on loopback only: pass --host 0.0.0.0 (and --announce-maddrs with a reachable address)",
    "private": "has only local-network addresses: peers outside this network reach it through a relay, if at all; "
               "forward its port on the router and pass --announce-maddrs /ip4/<public ip>/tcp/<port>",
    "none": "has no listening address",
}


def address_scope(maddr: str) -> str:
    """'public', 'private', 'loopback' or 'relay' for one multiaddr ('private' when the host is unknown)."""
    if "/p2p-circuit" in maddr:
        return "relay"
    parts = maddr.split("/")
    if len(parts) < 3 or parts[1] not in ("ip4", "ip6"):
        return "private"  # dns names and other transports: cannot tell here
    try:
        address = ipaddress.ip_address(parts[2])
    except ValueError:
        return "private"
    if address.is_loopback:
        return "loopback"
    return "public" if address.is_global else "private"


def reachability(peer_id: str, maddrs: Sequence[str]) -> dict[str, Any]:
    """A JSON-ready verdict: {"peer_id", "direct", "scope", "relayed", "multiaddrs", "advice"}."""
    scopes = {address_scope(maddr) for maddr in maddrs}
    scope = next((name for name in ("public", "private", "loopback") if name in scopes), "none")
    direct = scope == "public"
    return {"peer_id": peer_id, "direct": direct, "scope": scope, "relayed": "relay" in scopes,
            "multiaddrs": list(maddrs), "advice": "" if direct else _ADVICE[scope]}


def format_reachability(verdict: dict[str, Any]) -> str:
    if verdict["direct"]:
        return f"This peer is directly reachable at {', '.join(verdict['multiaddrs'])}"
    relay = " (reachable through a relay)" if verdict["relayed"] else ""
    return f"This peer is not directly reachable{relay}: it {verdict['advice']}."
