"""The app's commands as QActions, shared by the tray menu and the dashboard's menu bar.

Serving commands post to the node and never wait on the GUI thread: the node's answer (which may take
seconds while the server child stops or starts) arrives as a signal, and the node pushes its new status.
"""
from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction

from app.api_client import NodeConnection
from app.status_model import StatusModel
from app.tray_state import NOT_ANSWERING, TrayState, headline, tray_state
from core.node.contract import NodeStatus

logger = logging.getLogger(__name__)


class AppActions(QObject):
    """`serving_actions` change the node; the others are connected to windows by the composition root."""

    message = Signal(str, str)  # title, text: a user-facing failure to show (tray and dashboard)

    def __init__(self, api: NodeConnection, status: StatusModel, parent: QObject | None = None):
        super().__init__(parent)
        self.api = api
        self.status = status
        self.headline = QAction("Connecting to the Meadow node...", self, enabled=False)
        self.donate = QAction("Donate GPU", self, checkable=True)
        self.pause_hour = QAction("Pause for 1 hour", self)
        self.pause_until_resumed = QAction("Pause until I resume", self)
        self.resume = QAction("Resume", self)
        self.open_chat = QAction("Open chat", self)
        self.open_dashboard = QAction("Open dashboard", self)
        self.join = QAction("Join private swarm...", self)
        self.invite = QAction("Invite friends...", self)
        self.settings = QAction("Settings...", self)
        self.quit = QAction("Quit Meadow", self)
        self.serving_actions = [self.donate, self.pause_hour, self.pause_until_resumed, self.resume]
        self.donate.triggered.connect(self.on_donate_triggered)
        self.pause_hour.triggered.connect(self.on_pause_hour_triggered)
        self.pause_until_resumed.triggered.connect(self.on_pause_until_resumed_triggered)
        self.resume.triggered.connect(self.on_resume_triggered)
        status.status_changed.connect(self.on_status_changed)
        self.on_status_changed(status.status)

    def on_donate_triggered(self, checked: bool) -> None:
        self._serving_command("/api/serving/start" if checked else "/api/serving/stop")

    def on_pause_hour_triggered(self) -> None:
        self._serving_command("/api/serving/pause", {"minutes": 60})

    def on_pause_until_resumed_triggered(self) -> None:
        self._serving_command("/api/serving/pause")

    def on_resume_triggered(self) -> None:
        self._serving_command("/api/serving/resume")

    def on_status_changed(self, status: NodeStatus | None) -> None:
        state = tray_state(status)
        self.headline.setText(headline(status) if not self.status.stale else NOT_ANSWERING)
        answering = status is not None and not self.status.stale
        for action in self.serving_actions:
            action.setEnabled(answering)
        donating = state not in (TrayState.STOPPED, TrayState.CONNECTING)
        self.donate.setChecked(donating)
        paused = state.is_paused
        self.pause_hour.setVisible(donating and not paused)
        self.pause_until_resumed.setVisible(donating and not paused)
        # Resume lifts the user's pause; a game or a battery pause lifts itself when its signal clears.
        self.resume.setVisible(state is TrayState.PAUSED_BY_USER)
        for action in (self.invite, self.join, self.settings):
            action.setEnabled(answering)

    def on_command_failed(self, message: str) -> None:
        self.message.emit("Meadow", message)
        self.on_status_changed(self.status.status)

    def on_command_done(self, answer: dict) -> None:
        self.on_status_changed(self.status.status)  # the node pushes what changed; enable the actions again

    def _serving_command(self, path: str, body: object | None = None) -> None:
        for action in self.serving_actions:
            action.setEnabled(False)  # until the node answers
        call = self.api.post(path, body)
        call.succeeded.connect(self.on_command_done)
        call.failed.connect(self.on_command_failed)
