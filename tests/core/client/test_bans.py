"""Failed servers are banned with doubling lengths; busy ones are only skipped for a moment."""
from __future__ import annotations

import time

from core.client.bans import BanList


def test_busy_servers_are_avoided_briefly_and_failed_ones_longer():
    bans = BanList(base_seconds=30.0)
    bans.ban_briefly("busy", 0.05)
    bans.ban("failed")
    assert bans.banned() == {"busy", "failed"}
    time.sleep(0.1)
    assert bans.banned() == {"failed"}


def test_repeated_failures_double_the_ban():
    bans = BanList(base_seconds=1.0)
    assert [bans.ban("p") for _ in range(3)] == [1.0, 2.0, 4.0]
