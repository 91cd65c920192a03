"""Every announcement carries the server's current load (queue depth, free cache tokens)."""
from __future__ import annotations

from core.server.announcer import Announcer
from core.swarm.records import ServerRecord


def test_each_announcement_refreshes_the_load_fields():
    record = ServerRecord(peer_id="peer", state="joining", model="m", start=0, end=2)
    announcer = Announcer(None, "ns", record, b"owner", period=1.0, ttl=5.0)  # no DHT: _store only builds the call
    load = {"queue_depth": 3, "cache_tokens_free": 100}
    announcer.load = lambda: dict(load)
    store = announcer._store("online", {})
    record = announcer.record
    assert (record.state, record.queue_depth, record.cache_tokens_free) == ("online", 3, 100)
    assert store.keywords["values"][0]["cache_tokens_free"] == 100
    load.update(queue_depth=0, cache_tokens_free=40)
    announcer._store("online", {"start": 1})
    assert (announcer.record.queue_depth, announcer.record.cache_tokens_free, announcer.record.start) == (0, 40, 1)
