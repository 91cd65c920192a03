"""`meadow swarm create|join|list|leave`, `meadow invite create` and `--swarm` through the real CLI and keyring."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.cli import build_parser
from core.errors import UserFacingError
from core.swarm.swarm_commands import parse_duration

PEER = "/ip4/127.0.0.1/tcp/4000/p2p/12D3KooWEZXjE41uU4EL2gpkAQeDXYok6wghN7wwNVPF5bwkaNfS"


def meadow(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], env={**os.environ, "MEADOW_HOME": str(home)},
                          capture_output=True, text=True, timeout=60)


def test_durations():
    assert [parse_duration(text) for text in ("90", "90s", "30m", "12h", "7d", "2w", "1.5h")] == [
        90, 90, 1800, 43200, 604800, 1209600, 5400]
    for bad in ("", "7 days", "-1d", "d"):
        with pytest.raises(UserFacingError, match="--expires"):
            parse_duration(bad)


def test_every_swarm_command_takes_swarm_selection():
    for command in (["serve", "--model", "m"], ["generate", "--model", "m", "--prompt", "p"], ["swarm", "status"],
                    ["chat"], ["node"], ["dht"]):
        args = build_parser().parse_args([*command, "--swarm", "team", "--secret-stdin"])
        assert (args.swarm, args.secret_stdin) == ("team", True)


def test_cli_flow(tmp_path):
    owner, member = tmp_path / "owner", tmp_path / "member"
    created = meadow(owner, "swarm", "create", "team")
    assert created.returncode == 0 and "OS keyring" in created.stdout, created.stderr
    invited = meadow(owner, "invite", "create", "--swarm", "team", "--initial-peers", PEER, "--expires", "2h")
    assert invited.returncode == 0, invited.stderr
    assert "loopback" in invited.stderr  # the inviter is told these addresses work on this machine only
    token = invited.stdout.strip().splitlines()[-1]
    assert token.startswith("meadow1")
    try:
        piped = subprocess.run([sys.executable, "-m", "core", "swarm", "join"], input=token + "\n", text=True,
                               env={**os.environ, "MEADOW_HOME": str(member)}, capture_output=True, timeout=60)
        assert piped.returncode == 0, piped.stderr  # the token on stdin, out of argv and shell history
        listed = meadow(member, "swarm", "list").stdout
        assert "team" in listed and "bootstrap peers=1" in listed and "invite valid until" in listed
        for home in (owner, member):
            assert token[8:40] not in (home / "swarms.json").read_text()  # the secret stays out of files
        left = meadow(member, "swarm", "leave", "team")
        assert left.returncode == 0 and "removed from the OS keyring" in left.stdout
    finally:
        meadow(owner, "swarm", "leave", "team")


def test_secret_stdin_needs_a_swarm_and_unknown_swarms_are_named(tmp_path):
    done = meadow(tmp_path, "swarm", "status", "--new-swarm", "--secret-stdin")
    assert done.returncode == 2 and "--secret-stdin needs --swarm" in done.stderr
    done = meadow(tmp_path, "swarm", "status", "--swarm", "nope")
    assert done.returncode == 2 and "No joined swarm is called 'nope'" in done.stderr
