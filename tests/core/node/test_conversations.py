"""Which open session a request continues, and when sessions are closed (LRU, idle timeout, failures).

The sessions here record what the policy looks at (history, position, room, route); real swarm sessions
are exercised end to end in tests/integration/test_node.py.
"""
from __future__ import annotations

from types import SimpleNamespace

import torch

from core.client.inference import InferenceSession
from core.node.conversations import Conversations


class RecordedSession:
    def __init__(self, max_length: int, peer: str = "server-a"):
        self.max_length = max_length
        self.token_ids: torch.Tensor | None = None
        self.position = 0
        self.closed = False
        self.route = [SimpleNamespace(peer_id=peer)]

    history_is_prefix_of = InferenceSession.history_is_prefix_of

    def feed(self, ids: list[int]) -> None:
        self.token_ids = torch.tensor([ids])
        self.position = len(ids)

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _ids(*tokens: int) -> torch.Tensor:
    return torch.tensor([list(tokens)])


def _open(opened: list):
    def open_session(max_length: int) -> RecordedSession:
        opened.append(RecordedSession(max_length))
        return opened[-1]

    return open_session


def test_a_prompt_extending_a_history_continues_its_session():
    opened: list[RecordedSession] = []
    conversations = Conversations(max_open=4, idle_timeout=60, session_tokens=100)
    first = conversations.checkout("m", _ids(1, 2, 3), 5, 1000, _open(opened))
    assert isinstance(first, RecordedSession)
    first.feed([1, 2, 3, 9, 9])
    conversations.checkin(first, reusable=True)
    assert conversations.checkout("m", _ids(1, 2, 3, 9, 9, 4, 5), 5, 1000, _open(opened)) is first
    conversations.checkin(first, reusable=True)
    other = conversations.checkout("m", _ids(1, 2, 7), 5, 1000, _open(opened))  # diverges: a new session
    assert other is not first and len(opened) == 2 and opened[0].max_length == 100


def test_other_models_full_sessions_and_busy_ones_are_not_continued():
    opened: list[RecordedSession] = []
    conversations = Conversations(max_open=4, idle_timeout=60, session_tokens=10)
    session = conversations.checkout("m", _ids(1, 2), 2, 1000, _open(opened))
    assert isinstance(session, RecordedSession)
    session.feed([1, 2, 3])
    assert conversations.checkout("m", _ids(1, 2, 3, 4), 2, 1000, _open(opened)) is not session  # busy
    conversations.checkin(session, reusable=True)
    assert conversations.checkout("other", _ids(1, 2, 3, 4), 2, 1000, _open(opened)) is not session
    assert conversations.checkout("m", _ids(1, 2, 3, 4), 50, 1000, _open(opened)) is not session  # no room


def test_least_recently_used_is_closed_first_and_idle_ones_expire():
    clock, opened = Clock(), list[RecordedSession]()
    conversations = Conversations(max_open=2, idle_timeout=60, session_tokens=10, clock=clock)
    for prompt in (_ids(1), _ids(2), _ids(3)):
        clock.now += 1
        conversations.checkin(conversations.checkout("m", prompt, 1, 100, _open(opened)), reusable=True)
    assert [session.closed for session in opened] == [True, False, False]
    clock.now += 61
    conversations.checkin(conversations.checkout("m", _ids(4), 1, 100, _open(opened)), reusable=True)
    assert [session.closed for session in opened] == [True, True, True, False]


def test_failed_sessions_are_closed_and_a_stopping_server_loses_its_idle_sessions():
    opened: list[RecordedSession] = []
    conversations = Conversations(max_open=4, idle_timeout=60, session_tokens=10)
    failed = conversations.checkout("m", _ids(1), 1, 100, _open(opened))
    conversations.checkin(failed, reusable=False)
    assert failed.closed and conversations.open_count == 0
    kept = conversations.checkout("m", _ids(2), 1, 100, _open(opened))
    conversations.checkin(kept, reusable=True)
    conversations.close_idle_on("server-b")
    assert not kept.closed
    conversations.close_idle_on("server-a")
    assert kept.closed and conversations.open_count == 0


def test_no_reuse_when_disabled():
    opened: list[RecordedSession] = []
    conversations = Conversations(max_open=0, idle_timeout=60, session_tokens=10)
    session = conversations.checkout("m", _ids(1), 1, 100, _open(opened))
    conversations.checkin(session, reusable=True)
    assert session.closed and conversations.open_count == 0
