"""Private swarms as a library, with the real OS keyring: create, invite, join, list, leave, selection."""
from __future__ import annotations

import json
import time

import keyring
import pytest

from core.errors import UserFacingError
from core.swarm import private
from core.swarm.auth import SecretRpcAuthorizer
from core.swarm.dht_auth import SecretDhtAuthorizer
from core.swarm.invite import InviteError, encode_invite, make_invite
from core.swarm.secrets import SERVICE, KeyringSecrets, MemorySecrets, encode_secret

PEER = "/ip4/127.0.0.1/tcp/4000/p2p/12D3KooWEZXjE41uU4EL2gpkAQeDXYok6wghN7wwNVPF5bwkaNfS"


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """Two data dirs (the inviter's and the invitee's); switch with use(home)."""
    paths = {"owner": tmp_path / "owner", "member": tmp_path / "member"}

    def use(which: str):
        monkeypatch.setenv("MEADOW_HOME", str(paths[which]))
        return paths[which]

    use("owner")
    yield use
    for home in paths.values():
        monkeypatch.setenv("MEADOW_HOME", str(home))
        for swarm in private.list_swarms():
            KeyringSecrets().delete(swarm.namespace)


def test_create_invite_join_list_leave(homes):
    use = homes
    swarm = private.create_swarm("team")
    secret = KeyringSecrets().get(swarm.namespace, "team")
    assert swarm.namespace.startswith("private-") and secret.hex() not in swarm.namespace
    assert secret.hex() not in (use("owner") / "swarms.json").read_text()
    token = private.create_invite("team", [PEER], expires_in=3600)
    assert private.list_swarms()[0].initial_peers == (PEER,)  # remembered for `--swarm team` alone
    use("member")
    joined = private.join_swarm(token)
    assert (joined.name, joined.namespace, joined.initial_peers) == ("team", swarm.namespace, (PEER,))
    assert [entry.name for entry in private.list_swarms()] == ["team"]
    assert json.loads((use("member") / "swarms.json").read_text())["swarms"][0]["expires_at"] > time.time()
    private.leave_swarm("team")
    assert private.list_swarms() == []
    assert keyring.get_password(SERVICE, swarm.namespace) is None


def test_expired_or_damaged_token_stores_nothing(homes):
    use = homes
    expired = encode_invite(make_invite("team", "private-expired", b"s" * 32, [PEER], -5))
    use("member")
    for token, message in ((expired, "expired"), (expired[:-3], "damaged")):
        with pytest.raises(InviteError, match=message):
            private.join_swarm(token)
    assert private.list_swarms() == [] and not (use("member") / "swarms.json").exists()
    assert keyring.get_password(SERVICE, "private-expired") is None


def test_name_clashes_and_bad_names(homes):
    private.create_swarm("team")
    with pytest.raises(UserFacingError, match="already joined"):
        private.create_swarm("team")
    other = encode_invite(make_invite("team", "private-other", b"s" * 32, [PEER], 60))
    with pytest.raises(UserFacingError, match="leave it first"):
        private.join_swarm(other)
    for bad in ("", "has space", "-dash", "x" * 65, "a/b"):
        with pytest.raises(UserFacingError, match="Swarm name"):
            private.create_swarm(bad)


def test_invite_needs_an_address_and_a_sane_expiry(homes):
    private.create_swarm("team")
    with pytest.raises(UserFacingError, match="--initial-peers"):
        private.create_invite("team")
    with pytest.raises(UserFacingError, match="within a year"):
        private.create_invite("team", [PEER], expires_in=0)
    with pytest.raises(UserFacingError, match="No joined swarm is called 'nope'"):
        private.create_invite("nope", [PEER])


def test_selection_of_a_joined_swarm(homes):
    swarm = private.create_swarm("team")
    private.create_invite("team", [PEER])
    selection = private.swarm_selection("team")
    assert (selection.namespace, selection.initial_peers, selection.name) == (swarm.namespace, [PEER], "team")
    assert isinstance(selection.authorizer, SecretRpcAuthorizer)
    assert isinstance(selection.dht_authorizer, SecretDhtAuthorizer)
    assert private.swarm_selection("team", new_swarm=True).initial_peers == []
    assert private.swarm_selection("team", initial_peers=["/p2p/x"]).initial_peers == ["/p2p/x"]
    assert "secret hidden" in repr(selection)


def test_supervisor_keeps_secrets_in_memory_only(homes):
    memory = MemorySecrets()
    swarm = private.create_swarm("mem", secrets=memory)
    assert keyring.get_password(SERVICE, swarm.namespace) is None
    token = private.create_invite("mem", [PEER], secrets=memory)
    assert private.swarm_selection("mem", secrets=memory).name == "mem"
    assert private.child_swarm_args("mem", memory) == (["--swarm", "mem", "--secret-stdin"],
                                                        encode_secret(memory.get(swarm.namespace, "mem")))
    assert private.child_swarm_args("mem") == (["--swarm", "mem"], None)  # the child reads the keyring itself
    private.leave_swarm("mem", secrets=memory)
    assert token.startswith("meadow1")


def test_a_damaged_store_is_a_clear_error(homes):
    path = homes("owner") / "swarms.json"
    damaged = ("{not json", '{"swarms": [{"name": "x"}]}',
               '{"swarms": [{"name": "x", "namespace": "n", "expires_at": "soon"}]}')
    for text in damaged:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        with pytest.raises(UserFacingError, match=r"swarms\.json is damaged"):
            private.list_swarms()
    path.unlink()
