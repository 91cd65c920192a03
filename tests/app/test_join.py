"""Join by invite token in the real dialog: the node validates it, the secret goes to the OS keyring,
and the app's supervised node restarts in the private swarm."""
from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from core.config import update_settings_file
from core.launcher import spawn, stop_group
from tests.helpers.processes import MeadowProcess

SWARM = "friends"


def run_cli(args: list[str], home) -> str:
    """`meadow ARGS` with MEADOW_HOME=home (a friend's computer); returns stdout."""
    process = spawn(args, env={**os.environ, "MEADOW_HOME": str(home)})
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, f"meadow {' '.join(args)} failed: {stderr}"
    return stdout


@pytest.fixture(scope="module")
def friend_swarm(tmp_path_factory):
    """A friend's private swarm (own MEADOW_HOME): its bootstrap peer and an invite token to it."""
    home = tmp_path_factory.mktemp("friend-home")
    run_cli(["swarm", "create", SWARM], home)
    bootstrap = MeadowProcess(spawn(["dht", "--swarm", SWARM, "--new-swarm"],
                                    env={**os.environ, "MEADOW_HOME": str(home)}), ["dht"])
    try:
        bootstrap.wait_ready(60)
        token = run_cli(["invite", "create", "--swarm", SWARM, "--initial-peers", *bootstrap.multiaddrs],
                        home).strip().splitlines()[-1]
        yield token
    finally:
        stop_group(bootstrap.process)


@pytest.fixture
def supervised_desktop(qtbot):
    """The app as `meadow app` runs it when no node runs: it starts and supervises its own node."""
    from app.main import build

    app = build(node_args=["--api-port", "0"], use_tray=False)
    app.supervisor.serve = False  # switching swarms is what is tested; loading a server would only add time
    app.supervisor.start(None, new_swarm=True)
    try:
        qtbot.waitUntil(lambda: app.status.status is not None, timeout=120_000)
        yield app
    finally:
        app.supervisor.stop_and_wait()
        app.close()
        update_settings_file({"app.swarm": ""})  # the join stored its swarm; no node runs to write it now


def test_bad_token_shows_the_nodes_message(qtbot, desktop):
    dialog = desktop.show_join()
    dialog.token.setPlainText("meadow1-this-is-not-a-token")
    qtbot.mouseClick(dialog.join_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.join_button.isEnabled() and "Checking" not in dialog.outcome.text(), timeout=10_000)
    assert "token" in dialog.outcome.text().lower() or "invite" in dialog.outcome.text().lower()
    assert desktop.api.connected and desktop.supervisor.attached_pid is not None  # the node was not touched


def test_join_by_token_switches_the_node(qtbot, supervised_desktop, friend_swarm):
    app = supervised_desktop
    first_pid = app.status.status.node.pid
    assert app.status.status.swarm.private is False
    app.actions.join.trigger()
    dialog = app.dialogs["join"]
    dialog.token.setPlainText(friend_swarm)
    with qtbot.waitSignal(dialog.joined, timeout=30_000) as joined:
        qtbot.mouseClick(dialog.join_button, Qt.MouseButton.LeftButton)
    assert joined.args[0]["name"] == SWARM
    assert SWARM in dialog.outcome.text()

    def switched() -> bool:
        status = app.status.status
        return bool(status and status.swarm.name == SWARM and status.node.pid != first_pid)

    qtbot.waitUntil(switched, timeout=120_000)
    status = app.status.status
    assert status.swarm.private is True
    assert status.swarm.peers is None or status.swarm.peers >= 1
    assert app.supervisor.command_args()[:3] == ["node", "--swarm", SWARM]  # the invite's bootstrap peers
    assert "--new-swarm" not in app.supervisor.command_args()
    with pytest.raises(ProcessLookupError):
        os.kill(first_pid, 0)  # the old node is gone
    call = app.api.get("/api/settings")  # the choice is remembered for the next start
    with qtbot.waitSignal(call.succeeded, timeout=10_000) as answer:
        pass
    assert answer.args[0]["values"]["app.swarm"] == SWARM

    # Now in a private swarm, the app makes invites for friends and copies them.
    app.actions.invite.trigger()
    invite = app.dialogs["invite"]
    qtbot.mouseClick(invite.create_invite_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: invite.token.toPlainText().startswith("meadow1"), timeout=30_000)
    assert QGuiApplication.clipboard().text() == invite.token.toPlainText()
