"""The one child reader with real child processes: typed events, other JSON answers, stderr tail, exit."""
from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from core.child_output import ChildFailedError, ChildOutput
from core.events import Event, Failed, Loading, ServerReady, Stopped

READY = ServerReady(peer_id="Qm1", multiaddrs=[], model="m", blocks=[0, 2]).to_json()


def child(*lines: str, stderr: str = "", code: int = 0) -> subprocess.Popen[str]:
    """A real process that prints `lines` on stdout, then `stderr`, and exits with `code`."""
    script = "import sys\n" + "".join(f"print({line!r}, flush=True)\n" for line in lines)
    script += f"sys.stderr.write({stderr!r})\nsys.exit({code})\n"
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_waiting_skips_log_text_and_earlier_events():
    output = ChildOutput(child("INFO loading", Loading(model="m", done=1, total=2).to_json(), READY)).start()
    ready = output.wait_for(ServerReady, 10)
    assert ready.blocks == [0, 2] and ready.process == "serve"
    assert output.wait_exit(10) == 0


def test_callbacks_get_events_answers_and_the_exit_code_with_the_stderr_tail():
    seen: list[Event] = []
    answers: list[dict[str, object]] = []
    exited = threading.Event()
    process = child('{"needed": "cu128"}', READY, Stopped().to_json(), stderr="one\ntwo\n", code=3)
    output = ChildOutput(process, on_event=seen.append, on_answer=answers.append,
                         on_exit=lambda code: exited.set(), stderr_lines=1).start()
    assert exited.wait(10)
    assert [type(event) for event in seen] == [ServerReady, Stopped]
    assert answers == [{"needed": "cu128"}]
    assert output.exit_code == 3 and list(output.stderr_tail) == ["two"]


def test_an_error_event_or_an_early_exit_fails_the_wait_with_its_reason():
    failing = ChildOutput(child(Failed(message="the model is missing").to_json(), code=2)).start()
    with pytest.raises(ChildFailedError, match="the model is missing"):
        failing.wait_for(ServerReady, 10)
    silent = ChildOutput(child(stderr="Traceback ...\nImportError: libcudart.so.12\n", code=1)).start()
    with pytest.raises(ChildFailedError, match=r"exited with code 1 before its ServerReady event.*libcudart"):
        silent.wait_for(ServerReady, 10)


def test_a_malformed_event_is_logged_and_dropped(caplog):
    seen: list[Event] = []
    output = ChildOutput(child('{"event": "loading", "model": "m"}', READY), on_event=seen.append).start()
    assert output.wait_exit(10) == 0
    assert [type(event) for event in seen] == [ServerReady]
    assert "malformed event" in caplog.text
