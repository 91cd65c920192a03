"""Reachability verdicts from a peer's known addresses."""
from __future__ import annotations

from core.swarm.reachability import address_scope, format_reachability, reachability

PEER = "12D3KooWEZXjE41uU4EL2gpkAQeDXYok6wghN7wwNVPF5bwkaNfS"


def test_scopes():
    assert address_scope("/ip4/127.0.0.1/tcp/1") == "loopback"
    assert address_scope("/ip6/::1/tcp/1") == "loopback"
    assert address_scope("/ip4/192.168.1.5/tcp/1") == "private"
    assert address_scope("/ip4/8.8.8.8/tcp/1") == "public"
    assert address_scope(f"/ip4/8.8.8.8/tcp/1/p2p/{PEER}/p2p-circuit") == "relay"
    assert address_scope("/dns4/example.org/tcp/1") == "private"
    assert address_scope("/ip4/not-an-ip/tcp/1") == "private"


def test_verdicts():
    public = reachability(PEER, ["/ip4/127.0.0.1/tcp/1", "/ip4/8.8.8.8/tcp/1"])
    assert public["direct"] and public["scope"] == "public"
    assert "directly reachable at" in format_reachability(public)
    local = reachability(PEER, ["/ip4/127.0.0.1/tcp/1"])
    assert not local["direct"] and local["scope"] == "loopback"
    assert "--host 0.0.0.0" in format_reachability(local)
    relayed = reachability(PEER, ["/ip4/10.0.0.2/tcp/1", f"/ip4/8.8.8.8/tcp/1/p2p/{PEER}/p2p-circuit"])
    assert not relayed["direct"] and relayed["relayed"] and "through a relay" in format_reachability(relayed)
    assert reachability(PEER, [])["scope"] == "none"
