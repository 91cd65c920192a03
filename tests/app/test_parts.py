"""The app's small parts without a node: SSE parsing, transcripts, conversations on disk, tray states,
login items, the single-instance handshake."""
from __future__ import annotations

import plistlib

import pytest

from app.autostart import desktop_entry, launch_agent, set_start_at_login, xdg_autostart_path
from app.chat.store import Conversation, ConversationStore, Message
from app.chat.transcript import render, route_line
from app.single_instance import SingleInstance
from app.sse import SseParser
from app.tray_state import TrayState, tray_state
from core.events import ServingChanged
from core.node.contract import StatusChanged, parse_node_event
from core.pause import PauseKind, ServingState
from tests.helpers.statuses import node_status


def test_sse_parser_handles_split_chunks_comments_and_multiline_data():
    parser = SseParser()
    assert parser.feed(b": keepalive\n\ndata: {\"a\"") == []
    assert parser.feed(b": 1}\n\ndata: x\r\ndata: y\n\n") == ['{"a": 1}', "x\ny"]


def test_node_events_become_typed_events_and_a_broken_one_fails():
    event = parse_node_event('{"event": "serving", "state": "paused", "reason": "r", "pid": null, '
                             '"model": "m", "blocks": null}')
    assert event == ServingChanged(state="paused", reason="r", pid=None, model="m", blocks=None)
    status = StatusChanged(status=node_status("paused", PauseKind.USER, ServingState.PAUSED))
    assert parse_node_event(status.to_json()) == status
    assert parse_node_event('{"event": "something-new"}') is None
    with pytest.raises(ValueError):
        parse_node_event('{"event": "serving", "state": "paused", "reason": "r", "pid": "12", "model": "m", '
                         '"blocks": null}')


def test_transcript_links_every_code_block_for_copying():
    text = "Try:\n```python\nprint(1)\n```\nand\n~~~\nls -l\n~~~\n"
    markdown, blocks = render([Message("user", "hi"), Message("assistant", text)])
    assert blocks == ["print(1)", "ls -l"]
    assert "[Copy code](copy:0)" in markdown and "[Copy code](copy:1)" in markdown
    assert markdown.startswith("**You**")
    streaming, blocks = render([], streaming="```\nunfinished")
    assert blocks == [] and "unfinished" in streaming
    line = route_line({"tokens_per_second": 12.34, "route": [{"peer_id": "QmAbcdefghij", "start": 0, "end": 30}]})
    assert line == "12.3 tokens/s · via 1 server: QmAbcdef… blocks 0-29"


def test_conversations_round_trip_on_disk(tmp_path):
    store = ConversationStore(tmp_path)
    conversation = Conversation(system_prompt="Be brief.", messages=[Message("user", "hi")])
    store.save(conversation)
    (tmp_path / "broken.json").write_text("{")
    [loaded] = store.list()
    assert loaded == conversation
    assert loaded.api_messages() == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    store.rename(loaded, "  ")
    assert store.list()[0].title == "New conversation"
    store.delete(loaded)
    assert store.list() == []


def test_tray_state_from_status():
    paused, stopped = ServingState.PAUSED, ServingState.STOPPED
    assert tray_state(None) is TrayState.CONNECTING
    assert tray_state(node_status("serving")) is TrayState.SERVING
    assert tray_state(node_status("starting")) is TrayState.STARTING
    assert tray_state(node_status("paused", PauseKind.USER, paused)) is TrayState.PAUSED_BY_USER
    assert tray_state(node_status("paused", PauseKind.GAME, paused)) is TrayState.PAUSED_FOR_GAME
    assert tray_state(node_status("paused", PauseKind.BATTERY, paused)) is TrayState.PAUSED_OTHER
    assert tray_state(node_status("stopped", PauseKind.DONATION_OFF, stopped)) is TrayState.STOPPED
    assert tray_state(node_status("error")) is TrayState.ERROR
    assert {state.icon_stem for state in TrayState} == {"starting", "serving", "paused", "gaming", "stopped", "error"}


def test_login_items(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    set_start_at_login(True)
    assert xdg_autostart_path() == tmp_path / "autostart" / "meadow.desktop"
    assert "Exec=" in xdg_autostart_path().read_text()
    set_start_at_login(False)
    assert not xdg_autostart_path().exists()
    assert b"Exec='/path with space/python' -m core app\n" in desktop_entry(["/path with space/python", "-m",
                                                                               "core", "app"])
    agent = plistlib.loads(launch_agent(["/Applications/Meadow.app/Contents/MacOS/meadow", "app", "--hidden"]))
    assert agent["RunAtLoad"] is True and agent["ProgramArguments"][-1] == "--hidden"


def test_a_second_instance_asks_the_first_to_show(qtbot):
    first = SingleInstance("meadow-test-instance")
    assert not first.notify_running(timeout_ms=200)
    assert first.listen()
    second = SingleInstance("meadow-test-instance")
    try:
        with qtbot.waitSignal(first.activation_requested, timeout=5000):
            assert second.notify_running()
    finally:
        first.close()
