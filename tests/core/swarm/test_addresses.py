"""Peer addresses from others: the shapes a swarm peer really has are accepted, everything else is refused
with its reason (core/swarm/addresses.py)."""
from __future__ import annotations

import pytest

from core.config import Settings
from core.swarm.addresses import AddressError, check_peer_address, is_relay_address, peer_id_of
from core.swarm.dht import SwarmSelection

RSA_PEER = "QmNdqFQH7dzMHK9mESdG5Ly1FkRi7JqoE5ymJi3BupykL2"
ED25519_PEER = "12D3KooWEZXjE41uU4EL2gpkAQeDXYok6wghN7wwNVPF5bwkaNfS"

ACCEPTED = [
    f"/ip4/127.0.0.1/tcp/4000/p2p/{RSA_PEER}",
    f"/ip4/11.71.0.2/tcp/31337/p2p/{ED25519_PEER}",
    f"/ip4/192.168.1.20/tcp/31337/p2p/{RSA_PEER}",
    f"/ip6/::1/tcp/4001/p2p/{RSA_PEER}",
    f"/ip6/2001:db8::7/udp/31337/quic-v1/p2p/{RSA_PEER}",
    f"/ip4/11.71.0.2/udp/31337/quic/p2p/{RSA_PEER}",
    f"/dns4/bootstrap.example.org/tcp/31337/p2p/{RSA_PEER}",
    f"/dns/peer-1.example.org/tcp/443/p2p/{RSA_PEER}",
    f"/ip4/11.71.0.2/tcp/31337/p2p/{RSA_PEER}/p2p-circuit/p2p/{ED25519_PEER}",
]

REFUSED = {
    "no peer id": "/ip4/127.0.0.1/tcp/4000",
    "not a multiaddr": "http://169.254.169.254/latest/meta-data",
    "unix socket": f"/unix/tmp/p2pd.sock/p2p/{RSA_PEER}",
    "metadata service": f"/ip4/169.254.169.254/tcp/80/p2p/{RSA_PEER}",
    "ipv6 link-local": f"/ip6/fe80::1/tcp/4001/p2p/{RSA_PEER}",
    "ipv4-mapped link-local": f"/ip6/::ffff:169.254.1.1/tcp/4001/p2p/{RSA_PEER}",
    "unspecified": f"/ip4/0.0.0.0/tcp/4000/p2p/{RSA_PEER}",
    "multicast": f"/ip4/224.0.0.1/tcp/4000/p2p/{RSA_PEER}",
    "broadcast": f"/ip4/255.255.255.255/tcp/4000/p2p/{RSA_PEER}",
    "port zero": f"/ip4/127.0.0.1/tcp/0/p2p/{RSA_PEER}",
    "port too large": f"/ip4/127.0.0.1/tcp/70000/p2p/{RSA_PEER}",
    "udp without quic": f"/ip4/127.0.0.1/udp/4000/p2p/{RSA_PEER}",
    "ip6 text under ip4": f"/ip4/::1/tcp/4000/p2p/{RSA_PEER}",
    "bad dns name": f"/dns4/-bad-.example/tcp/4000/p2p/{RSA_PEER}",
    "peer id not base58": "/ip4/127.0.0.1/tcp/4000/p2p/not-a-peer-id!",
    "peer id not a multihash": "/ip4/127.0.0.1/tcp/4000/p2p/3yZe7d",
    "extra components": f"/ip4/127.0.0.1/tcp/4000/p2p/{RSA_PEER}/http",
    "circuit without target": f"/ip4/127.0.0.1/tcp/4000/p2p/{RSA_PEER}/p2p-circuit",
    "relay through a link-local peer": f"/ip4/169.254.0.9/tcp/4000/p2p/{RSA_PEER}/p2p-circuit/p2p/{ED25519_PEER}",
    "no leading slash": f"ip4/127.0.0.1/tcp/4000/p2p/{RSA_PEER}",
    "far too long": "/dns/" + "a" * 600 + f"/tcp/1/p2p/{RSA_PEER}",
    "empty": "",
}


@pytest.mark.parametrize("address", ACCEPTED)
def test_real_peer_address_shapes_are_accepted(address):
    assert check_peer_address(f"  {address} ") == address


@pytest.mark.parametrize("reason", sorted(REFUSED))
def test_other_addresses_are_refused_with_a_reason(reason):
    with pytest.raises(AddressError) as refused:
        check_peer_address(REFUSED[reason])
    message = str(refused.value)
    assert "is refused" in message
    assert REFUSED[reason][:40] in message or not REFUSED[reason]


def test_link_local_needs_the_setting():
    address = f"/ip4/169.254.10.20/tcp/4000/p2p/{RSA_PEER}"
    with pytest.raises(AddressError, match=r"swarm\.allow_link_local"):
        check_peer_address(address)
    assert check_peer_address(address, allow_link_local=True) == address
    assert Settings.load(["swarm.allow_link_local=true"])["swarm.allow_link_local"] is True
    assert Settings.load()["swarm.allow_link_local"] is False


def test_relay_addresses_lead_to_their_target():
    relayed = ACCEPTED[-1]
    assert is_relay_address(relayed) and not is_relay_address(ACCEPTED[0])
    assert peer_id_of(relayed) == ED25519_PEER and peer_id_of(ACCEPTED[0]) == RSA_PEER


def test_swarm_selection_refuses_a_bad_bootstrap_address_before_starting_anything():
    selection = SwarmSelection(namespace="meadow", initial_peers=[REFUSED["metadata service"]])
    with pytest.raises(AddressError, match=r"169\.254\.169\.254"):
        selection.check()
    selection = SwarmSelection(namespace="meadow", initial_peers=[f" {ACCEPTED[0]}"])
    selection.check()
    assert selection.initial_peers == [ACCEPTED[0]]
