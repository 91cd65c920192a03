"""Private swarms as a library: create, invite, join, list, leave, and the SwarmSelection of a joined one.

The CLI (core/swarm/swarm_commands.py) and the node's /api/swarms and /api/invites call these. Secrets go
to a SecretStore: the OS keyring by default, or a MemorySecrets of a supervisor that got them over its API.
Every check that can fail runs before anything is stored, so a failed join leaves no trace.
"""
from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence

from core.errors import UserFacingError
from core.swarm.auth import SecretRpcAuthorizer
from core.swarm.dht import SwarmSelection
from core.swarm.dht_auth import SecretDhtAuthorizer
from core.swarm.invite import decode_invite, encode_invite, make_invite
from core.swarm.joined import JoinedSwarm, find_joined, load_joined, remove_joined, save_joined
from core.swarm.secrets import KeyringSecrets, SecretStore, encode_secret

SECRET_BYTES = 32
DEFAULT_INVITE_SECONDS = 7 * 24 * 3600.0
MAX_INVITE_SECONDS = 366 * 24 * 3600.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def create_swarm(name: str, secrets: SecretStore | None = None) -> JoinedSwarm:
    """Make a new private swarm: a random secret (into `secrets`) and a random namespace, unrelated to it."""
    check_name(name)
    if any(swarm.name == name for swarm in load_joined()):
        raise UserFacingError(f"A swarm called {name!r} is already joined; pick another name or leave it first")
    swarm = JoinedSwarm(name=name, namespace=f"private-{os.urandom(8).hex()}", created_here=True)
    (secrets or KeyringSecrets()).put(swarm.namespace, os.urandom(SECRET_BYTES))
    save_joined(swarm)
    return swarm


def create_invite(name: str, initial_peers: Sequence[str] = (), expires_in: float = DEFAULT_INVITE_SECONDS,
                  secrets: SecretStore | None = None) -> str:
    """An invite token to joined swarm `name`, bootstrapping through `initial_peers` (default: the stored ones).

    Given addresses are also remembered as the swarm's bootstrap peers, so that `--swarm NAME` alone works.
    """
    if not 0 < expires_in <= MAX_INVITE_SECONDS:
        raise UserFacingError("An invite must expire within a year (for example --expires 7d)")
    swarm = find_joined(name)
    peers = tuple(initial_peers) or swarm.initial_peers
    if not peers:
        raise UserFacingError(f"No bootstrap address is known for swarm {name!r}: start a peer with "
                              f"`meadow serve --swarm {name} --new-swarm ...` (or `meadow dht`), then pass its "
                              "multiaddrs with --initial-peers")
    secret = (secrets or KeyringSecrets()).get(swarm.namespace, name)
    token = encode_invite(make_invite(swarm.name, swarm.namespace, secret, peers, expires_in))
    if initial_peers and tuple(initial_peers) != swarm.initial_peers:
        save_joined(dataclasses.replace(swarm, initial_peers=peers))
    return token


def join_swarm(token: str, secrets: SecretStore | None = None, allow_link_local: bool = False) -> JoinedSwarm:
    """Join the swarm of an invite token; refuses bad or expired tokens, addresses Meadow does not dial, and
    name clashes before storing."""
    invite = decode_invite(token, allow_link_local=allow_link_local)
    check_name(invite.name)
    for swarm in load_joined():
        if swarm.name == invite.name and swarm.namespace != invite.namespace:
            raise UserFacingError(f"Another swarm called {invite.name!r} is already joined; leave it first "
                                  f"(`meadow swarm leave {invite.name}`)")
    store = secrets or KeyringSecrets()
    store.put(invite.namespace, invite.secret)
    swarm = JoinedSwarm(invite.name, invite.namespace, invite.initial_peers, invite.expires_at)
    save_joined(swarm)
    return swarm


def list_swarms() -> list[JoinedSwarm]:
    """The joined private swarms (no secrets)."""
    return load_joined()


def leave_swarm(name: str, secrets: SecretStore | None = None) -> JoinedSwarm:
    """Forget swarm `name` and delete its secret."""
    swarm = find_joined(name)
    (secrets or KeyringSecrets()).delete(swarm.namespace)
    remove_joined(name)
    return swarm


def swarm_selection(name: str, initial_peers: Sequence[str] = (), new_swarm: bool = False,
                    secret: bytes | None = None, secrets: SecretStore | None = None) -> SwarmSelection:
    """How to join private swarm `name`: its namespace, its authorizers from the secret, its bootstrap peers.

    Bootstrap peers: `initial_peers` if given; none with `new_swarm`; otherwise those of the stored invite.
    The secret: `secret` if given (a server child reading it from a pipe), else from `secrets`/the keyring.
    """
    swarm = find_joined(name)
    if secret is None:
        secret = (secrets or KeyringSecrets()).get(swarm.namespace, name)
    peers = list(initial_peers) or ([] if new_swarm else list(swarm.initial_peers))
    return SwarmSelection(namespace=swarm.namespace, initial_peers=peers, new_swarm=new_swarm,
                          authorizer=SecretRpcAuthorizer(secret), dht_authorizer=SecretDhtAuthorizer(secret), name=name)


def child_swarm_args(name: str, secrets: SecretStore | None = None) -> tuple[list[str], str | None]:
    """Arguments and stdin text that put a `meadow serve`/`meadow dht` child (core.launcher.spawn) in swarm `name`.

    With the OS keyring the child reads the secret itself; a supervisor holding it in memory hands it over
    a pipe (`--secret-stdin`, spawn's `stdin_text`), never argv or the environment.
    """
    if secrets is None or isinstance(secrets, KeyringSecrets):
        return ["--swarm", name], None
    return ["--swarm", name, "--secret-stdin"], encode_secret(secrets.get(find_joined(name).namespace, name))


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UserFacingError(f"Swarm name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
                              "letter or digit")
