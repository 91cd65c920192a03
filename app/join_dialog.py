"""Join a private swarm by pasting an invite token; the node validates it and stores the secret."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from app.api_client import NodeConnection
from app.resources import ERROR_STYLE


class JoinDialog(QDialog):
    joined = Signal(dict)  # the swarm as the node stored it: name, namespace, initial_peers, ...

    def __init__(self, api: NodeConnection, parent: QWidget | None = None):
        super().__init__(parent)
        self.api = api
        self.setWindowTitle("Join a private swarm")
        intro = QLabel("Paste the invite token a friend sent you (it starts with “meadow1”). "
                       "Meadow checks it, keeps its secret in your system keyring and moves this computer "
                       "into that swarm.", wordWrap=True)
        self.token = QPlainTextEdit(placeholderText="meadow1...")
        self.outcome = QLabel(objectName="result", wordWrap=True)
        self.join_button = QPushButton("Join")
        self.join_button.setDefault(True)
        self.join_button.clicked.connect(self.on_join_clicked)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.join_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (intro, self.token, self.outcome, buttons):
            layout.addWidget(widget)
        self.resize(520, 260)

    def on_join_clicked(self) -> None:
        token = self.token.toPlainText().strip()
        if not token:
            self._show("Paste an invite token first.", error=True)
            return
        self.join_button.setEnabled(False)
        self._show("Checking the invite...", error=False)
        call = self.api.post("/api/swarms", {"token": token})
        call.succeeded.connect(self.on_joined)
        call.failed.connect(self.on_join_failed)

    def on_joined(self, answer: dict) -> None:
        swarm = answer["swarm"]
        self._show(f"Joined swarm “{swarm['name']}”. Meadow is restarting in that swarm...", error=False)
        self.joined.emit(swarm)

    def on_join_failed(self, message: str) -> None:
        self.join_button.setEnabled(True)
        self._show(message, error=True)

    def _show(self, text: str, error: bool) -> None:
        self.outcome.setStyleSheet(ERROR_STYLE if error else "")
        self.outcome.setText(text)
