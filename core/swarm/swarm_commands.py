"""`meadow swarm create|join|list|leave` and `meadow invite create`: thin printers over core/swarm/private.py."""
from __future__ import annotations

import argparse
import re
import sys
import time

from core.config import Settings
from core.errors import UserFacingError
from core.swarm import private
from core.swarm.invite import decode_invite
from core.swarm.joined import JoinedSwarm
from core.swarm.reachability import address_scope

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """'90s', '30m', '12h', '7d', '2w' (a bare number is seconds) -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if not match:
        raise UserFacingError(f"--expires {text!r}: use a number with s, m, h, d or w (for example 7d or 12h)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def run_swarm_command(args: argparse.Namespace, settings: Settings) -> None:
    """Run one of the private-swarm management commands (not `swarm status`)."""
    if args.command == "invite":
        _invite(args)
    elif args.swarm_command == "create":
        swarm = private.create_swarm(args.name)
        print(f"Created private swarm {swarm.name!r} (namespace {swarm.namespace}); its secret is in the OS keyring.")
        print(f"Next: start its first peer with `meadow serve --swarm {swarm.name} --new-swarm --model ...` "
              f"(or `meadow dht --swarm {swarm.name} --new-swarm`), then "
              f"`meadow invite create --swarm {swarm.name} --initial-peers <its multiaddrs>`.")
    elif args.swarm_command == "join":
        swarm = private.join_swarm(_token(args.token), allow_link_local=settings["swarm.allow_link_local"])
        print(f"Joined private swarm {swarm.name!r} ({_expiry(swarm)}); use it with --swarm {swarm.name}.")
    elif args.swarm_command == "list":
        _list(private.list_swarms())
    elif args.swarm_command == "leave":
        swarm = private.leave_swarm(args.name)
        print(f"Left private swarm {swarm.name!r}; its secret was removed from the OS keyring.")


def _token(argument: str) -> str:
    """The token argument, or when it is '-' the token from a hidden prompt or a pipe (argv is visible in `ps`)."""
    if argument != "-":
        return argument
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Invite token: ")
    return sys.stdin.read(64 * 1024)


def _invite(args: argparse.Namespace) -> None:
    token = private.create_invite(args.swarm, args.initial_peers, parse_duration(args.expires))
    invite = decode_invite(token, now=0.0)  # what the token holds; now=0: a seconds-short one may have run out
    if all(address_scope(peer) == "loopback" for peer in invite.initial_peers):
        print("note: every address in this invite is a loopback address, usable only on this machine",
              file=sys.stderr)
    expires = time.strftime("%Y-%m-%d %H:%M", time.localtime(invite.expires_at))
    print(f"Invite to private swarm {args.swarm!r}, valid until {expires}. Anyone holding it can join: "
          "share it privately. Join with `meadow swarm join TOKEN`.")
    print(token, flush=True)  # last line: scripts take it from there


def _list(swarms: list[JoinedSwarm]) -> None:
    if not swarms:
        print("No private swarms joined. Join one with `meadow swarm join TOKEN` or create one with "
              "`meadow swarm create NAME`.")
        return
    for swarm in swarms:
        role = "created here" if swarm.created_here else _expiry(swarm)
        print(f"{swarm.name}  namespace={swarm.namespace}  bootstrap peers={len(swarm.initial_peers)}  ({role})")


def _expiry(swarm: JoinedSwarm) -> str:
    if swarm.expires_at is None:
        return "no invite expiry"
    return "invite valid until " + time.strftime("%Y-%m-%d %H:%M", time.localtime(swarm.expires_at))
