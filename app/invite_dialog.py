"""Invite friends: an invite token to the node's private swarm, copied to the clipboard.

In the public swarm there is nothing to invite to, so the dialog offers to create a private swarm
(`meadow swarm create NAME`, run as a child) and move this computer into it first.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.api_client import NodeConnection
from app.runtime.child import JsonLineChild

EXPIRY_CHOICES = (("1 day", 86400), ("7 days", 7 * 86400), ("30 days", 30 * 86400))


class InviteDialog(QDialog):
    swarm_created = Signal(str)  # a new private swarm the node should move to (as its first peer)

    def __init__(self, api: NodeConnection, current_swarm: str | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.api, self.current_swarm = api, current_swarm
        self.setWindowTitle("Invite friends")
        self.expiry = QComboBox()
        for label, seconds in EXPIRY_CHOICES:
            self.expiry.addItem(label, seconds)
        self.expiry.setCurrentIndex(1)
        self.new_name = QLineEdit(placeholderText="for example: friends")
        self.create_invite_button = QPushButton("Create invite")
        self.create_swarm_button = QPushButton("Create private swarm")
        self.token = QPlainTextEdit(readOnly=True, objectName="token")
        self.outcome = QLabel(wordWrap=True, objectName="result")
        self.create_invite_button.clicked.connect(self.on_create_invite_clicked)
        self.create_swarm_button.clicked.connect(self.on_create_swarm_clicked)
        self.creating: str | None = None  # the swarm `meadow swarm create` is making
        self._layout()

    def _layout(self) -> None:
        form = QFormLayout()
        if self.current_swarm:
            form.addRow(QLabel(f"Invite friends to your private swarm “{self.current_swarm}”. "
                               "Anyone with the token can join until it expires.", wordWrap=True))
            form.addRow("Expires after", self.expiry)
            form.addRow(self.create_invite_button)
        else:
            form.addRow(QLabel("You are in the public swarm, which needs no invite. To share with friends "
                               "only, create a private swarm; this computer moves into it.", wordWrap=True))
            form.addRow("Swarm name", self.new_name)
            form.addRow(self.create_swarm_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.token)
        layout.addWidget(self.outcome)
        layout.addWidget(buttons)
        self.resize(520, 300)

    def on_create_invite_clicked(self) -> None:
        self.create_invite_button.setEnabled(False)
        call = self.api.post("/api/invites", {"swarm": self.current_swarm, "expires_in_s": self.expiry.currentData()})
        call.succeeded.connect(self.on_invite)
        call.failed.connect(self.on_failed)

    def on_invite(self, answer: dict) -> None:
        self.create_invite_button.setEnabled(True)
        self.token.setPlainText(answer["token"])
        QGuiApplication.clipboard().setText(answer["token"])
        self.outcome.setText("Copied to the clipboard. Send it to your friends over a private channel.")

    def on_failed(self, message: str) -> None:
        self.create_invite_button.setEnabled(True)
        self.create_swarm_button.setEnabled(True)
        self.outcome.setText(message)

    def on_create_swarm_clicked(self) -> None:
        name = self.new_name.text().strip()
        if not name:
            self.outcome.setText("Give the swarm a name first.")
            return
        self.create_swarm_button.setEnabled(False)
        self.outcome.setText(f"Creating swarm “{name}”...")
        self.creating = name
        child = JsonLineChild(["swarm", "create", name], parent=self)
        child.finished.connect(self.on_create_finished)
        child.finished.connect(child.deleteLater)
        child.start()

    def on_create_finished(self, code: int, stderr: str) -> None:
        name, self.creating = self.creating, None
        if code != 0:
            self.on_failed(stderr.strip().splitlines()[-1] if stderr.strip() else f"Creating the swarm failed ({code})")
            return
        self.outcome.setText(f"Created “{name}”. Meadow restarts in it; open this dialog again to make an invite.")
        self.swarm_created.emit(name)
