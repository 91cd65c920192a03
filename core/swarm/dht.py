"""Start or join a swarm's DHT (hivemind), with Meadow's record validators.

hivemind.DHT forks its own process and starts p2pd as a child: start it before torch or any threads.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from hivemind import DHT
from hivemind.dht.crypto import RSASignatureValidator
from hivemind.utils.auth import AuthorizerBase

from core.config import Settings
from core.errors import UserFacingError
from core.paths import meadow_home
from core.swarm.addresses import check_peer_addresses
from core.swarm.auth import PublicSwarmAuthorizer, RpcAuthorizer
from core.swarm.identity import Identity
from core.swarm.records import record_validators

logger = logging.getLogger(__name__)


@dataclass
class SwarmSelection:
    """Which swarm a command joins: its namespace, bootstrap peers, and the authorizers of its RPCs.

    The public swarm has no DHT authorizer and a no-op RPC authorizer. A private swarm (`name` set; see
    core/swarm/private.py `swarm_selection`) has both derived from its secret.
    """

    namespace: str
    initial_peers: list[str] = field(default_factory=list)
    new_swarm: bool = False
    authorizer: RpcAuthorizer = field(default_factory=PublicSwarmAuthorizer)
    dht_authorizer: AuthorizerBase | None = None
    name: str | None = None  # a private swarm's name, for messages

    def check(self, allow_link_local: bool = False) -> None:
        """Bootstrap peers are known (or a new swarm starts) and every address is one core/swarm/addresses.py
        accepts; raises UserFacingError naming the problem."""
        if not self.new_swarm and not self.initial_peers:
            where = f"Swarm {self.name!r} knows no bootstrap peers" if self.name else "No swarm to join"
            raise UserFacingError(
                f"{where}: pass --initial-peers MULTIADDR (as printed by `meadow dht` or `meadow serve`), "
                "or --new-swarm to start a new one."
            )
        self.initial_peers = check_peer_addresses(self.initial_peers, allow_link_local)


class MeadowDHT(DHT):
    """hivemind's DHT process, made to follow our process rules.

    It leaves its owner's process group, so that a signal to the owner's group does not kill it (or its
    p2pd) before the owner has announced itself offline through it; the owner then shuts it down. When
    the owner dies without doing so (kill -9), it takes itself and its p2pd with it.
    """

    def run(self) -> None:
        os.setpgid(0, 0)
        owner = os.getppid()
        threading.Thread(target=_exit_with_owner, args=(owner,), daemon=True, name="meadow-owner-watch").start()
        super().run()

    def shutdown(self) -> None:
        super().shutdown()  # graceful, else terminate() without waiting: make sure it is gone on return
        if self.is_alive():
            self.kill()
            self.join(1.0)


def _exit_with_owner(owner: int) -> None:
    while os.getppid() == owner:
        time.sleep(0.25)
    for child in psutil.Process().children(recursive=True):
        child.kill()
    os._exit(0)


def host_maddrs(host: str, port: int) -> list[str]:
    family = "ip6" if ":" in host else "ip4"
    return [f"/{family}/{host}/tcp/{port}"]


def start_dht(
    swarm: SwarmSelection,
    settings: Settings,
    identity: Identity | None = None,
    identity_path: Path | None = None,
    client_mode: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
    announce_maddrs: Sequence[str] = (),
) -> DHT:
    """Start a DHT peer whose libp2p identity is `identity` (ephemeral unless `identity_path` is given)."""
    swarm.check(settings["swarm.allow_link_local"])
    identity = identity or Identity.ephemeral()
    key_file = identity_path or identity.temporary_file(meadow_home() / "run")
    try:
        return MeadowDHT(
            initial_peers=swarm.initial_peers,
            start=True,
            client_mode=client_mode,
            record_validators=record_validators(RSASignatureValidator(identity.private_key)),
            identity_path=str(key_file),
            check_if_identity_free=identity_path is not None and bool(swarm.initial_peers),
            host_maddrs=host_maddrs(host, port),
            announce_maddrs=list(announce_maddrs) or None,
            wait_timeout=settings["dht.wait_timeout"],
            startup_timeout=settings["client.connect_timeout"],
            num_workers=8,
            authorizer=swarm.dht_authorizer,
            # reachability behind NAT: hivemind's defaults, stated so that nobody turns them off unknowingly
            use_relay=True,
            nat_port_map=True,
            auto_nat=True,
        )
    except Exception as error:  # noqa: BLE001 - bootstrap failures become one clear message
        private = (f" A private swarm's peers also refuse a wrong or missing secret: check that you joined "
                   f"{swarm.name!r} with a current invite.") if swarm.name else ""
        raise UserFacingError(
            f"Could not join the swarm through {', '.join(swarm.initial_peers) or 'a new swarm'}: {error}. "
            f"Check that the initial peers are running and reachable.{private}"
        ) from None
    finally:
        if identity_path is None:
            key_file.unlink(missing_ok=True)


def visible_maddrs(dht: DHT) -> list[str]:
    """This peer's multiaddrs, each ending in /p2p/<peer id>, usable as --initial-peers."""
    peer_id = dht.peer_id.to_base58()
    result = []
    for maddr in dht.get_visible_maddrs():
        text = str(maddr)
        result.append(text if "/p2p/" in text else f"{text}/p2p/{peer_id}")
    return result
