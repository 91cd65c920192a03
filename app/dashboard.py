"""The dashboard, the app's main window: swarm, our model, our blocks, what we served, coverage, pause reason.

It also says what went wrong (a failed command, a server error, a node that does not answer, whose last values it
then greys out as stale) and which changed settings wait for a restart of the node.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.actions import AppActions
from app.coverage_bar import CoverageBar
from app.resources import ERROR_STYLE, icon
from app.status_model import StatusModel
from app.tray_state import NOT_ANSWERING, headline
from app.units import format_bytes, format_count, format_duration
from core.config import lookup
from core.errors import SettingsError
from core.node.contract import ModelCoverage, NodeStatus, OwnModel, ServingStatus

FIELDS = ("swarm", "peers", "model", "servers", "blocks", "compute", "requests", "tokens", "speed", "ram", "vram",
          "pause")
LABELS = ("Swarm", "Peers", "Model", "Its servers", "Our blocks", "Computed on", "Requests served", "Tokens served",
          "Speed", "Memory (RAM)", "Memory (VRAM)", "Pause")
SERVER_LINES = 8  # servers listed by name; the rest are counted
FORM_TITLE = "This computer in the swarm"
NOTICE_SECONDS = 30.0  # a failed command stays said this long, across the status updates that follow


class DashboardWindow(QMainWindow):
    restart_requested = Signal()  # the user asks to restart the node (to apply settings)

    def __init__(self, actions: AppActions, status: StatusModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.status = status
        self.setWindowTitle("Meadow")
        self.setWindowIcon(icon("meadow"))
        self._build_menu(actions)
        self.headline = QLabel(objectName="headline", wordWrap=True)
        self.notice = QLabel(objectName="notice", wordWrap=True)  # what went wrong, until the next status
        self.notice.setStyleSheet(ERROR_STYLE)
        self.notice.hide()
        self._failure: tuple[float, str] | None = None  # when a command failed, and its message
        self.restart_note = QLabel(objectName="restart_note", wordWrap=True)
        self.restart_button = QPushButton("Restart the node")
        self.restart_button.clicked.connect(self.restart_requested)
        self.values = {name: QLabel("-", objectName=f"value_{name}") for name in FIELDS}
        self.coverage = CoverageBar()
        self.form = self._form()
        self.coverage_box = self._coverage_box()
        self.buttons = {action: self._button(action) for action in actions.serving_actions}
        self.setCentralWidget(self._layout(actions))
        status.status_changed.connect(self.on_status_changed)
        actions.message.connect(self.on_message)
        self.on_status_changed(status.status)

    def on_status_changed(self, status: NodeStatus | None) -> None:
        stale = self.status.stale
        self.headline.setText(headline(status) if not stale else NOT_ANSWERING)
        self._show_notice(self.status.error if stale else self._recent_failure() or _serving_problem(status))
        # Old values stay readable but greyed: they describe the node as it was, not as it is.
        self.form.setEnabled(not stale)
        self.coverage_box.setEnabled(not stale)
        self.form.setTitle(FORM_TITLE + (" (last known, not current)" if stale and status is not None else ""))
        if status is None:
            return
        for name, text in describe(status).items():
            self.values[name].setText(text)
        coverage = status.model.coverage
        blocks = status.serving.blocks
        self.coverage.set_coverage([block.servers for block in coverage.blocks] if coverage else [],
                                   (blocks[0], blocks[1]) if blocks else None)
        self._show_restart_needed(status.node.restart_needed)

    def on_message(self, title: str, text: str) -> None:
        """A command failed: say so here too (without a tray, this window is the only place)."""
        self._failure = (time.monotonic(), text)
        self._show_notice(text)

    def _recent_failure(self) -> str:
        if self._failure is None or time.monotonic() - self._failure[0] > NOTICE_SECONDS:
            return ""
        return self._failure[1]

    def _show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _show_restart_needed(self, keys: list[str]) -> None:
        labels = [_label(key) for key in keys]
        self.restart_note.setText(f"Applies when the node restarts: {', '.join(labels)}." if labels else "")
        self.restart_note.setVisible(bool(labels))
        self.restart_button.setVisible(bool(labels))

    def _layout(self, actions: AppActions) -> QWidget:
        layout = QVBoxLayout()
        layout.addWidget(self.headline)
        layout.addWidget(self.notice)
        layout.addLayout(self._row([self.restart_note, self.restart_button]))
        layout.addWidget(self.form)
        layout.addWidget(self.coverage_box)
        layout.addLayout(self._row(list(self.buttons.values())))
        layout.addLayout(self._row([self._button(action) for action in
                                    (actions.open_chat, actions.join, actions.invite, actions.settings)]))
        central = QWidget()
        central.setLayout(layout)
        return central

    def _build_menu(self, actions: AppActions) -> None:
        meadow = self.menuBar().addMenu("&Meadow")
        meadow.addActions(actions.serving_actions)
        meadow.addSeparator()
        meadow.addAction(actions.quit)
        swarm = self.menuBar().addMenu("&Swarm")
        swarm.addActions([actions.join, actions.invite])
        window = self.menuBar().addMenu("&Window")
        window.addActions([actions.open_chat, actions.settings])

    def _form(self) -> QGroupBox:
        box = QGroupBox(FORM_TITLE)
        form = QFormLayout(box)
        for label, name in zip(LABELS, FIELDS, strict=True):
            form.addRow(label, self.values[name])
        self.values["pause"].setWordWrap(True)
        return box

    def _coverage_box(self) -> QGroupBox:
        box = QGroupBox("Our model's blocks across the swarm (red: nobody serves it; outlined: ours)")
        QVBoxLayout(box).addWidget(self.coverage)
        return box

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        return button

    @staticmethod
    def _row(widgets: list[QWidget]) -> QHBoxLayout:
        row = QHBoxLayout()
        for widget in widgets:
            row.addWidget(widget)
        row.addStretch(1)
        return row


def _serving_problem(status: NodeStatus | None) -> str:
    if status is None or status.serving.state != "error":
        return ""
    return f"Serving failed: {status.serving.reason}"


def _label(key: str) -> str:
    try:
        return lookup(key).label
    except SettingsError:  # a newer node's setting
        return key


def _compute(serving: ServingStatus) -> str:
    """Where our server computes and in what format: "cuda:0, bfloat16, nf4", "cpu, float32" or "-"."""
    if not serving.device:
        return "-"
    quantization = serving.quantization
    return ", ".join([serving.device, serving.dtype or "?"]
                     + ([quantization] if quantization and quantization != "none" else []))


def _model(model: OwnModel) -> str:
    """The model's name, its size in blocks and its architecture: "qwen2.5-7b (28 blocks, qwen2)"."""
    if model.coverage is None:
        return model.name
    details = [f"{model.coverage.num_blocks} blocks"] + ([model.coverage.architecture] if model.coverage.architecture
                                                           else [])
    return f"{model.name} ({', '.join(details)})"


def _servers(coverage: ModelCoverage | None) -> str:
    """The model's servers, one per line: their blocks and how they compute them ("...a1b2c3: blocks 0-14,
    bfloat16, nf4")."""
    if coverage is None or not coverage.servers:
        return "-"
    lines = []
    for server in coverage.servers[:SERVER_LINES]:
        start, end = server.blocks
        how = ", ".join([server.dtype] + ([server.quantization] if server.quantization != "none" else []))
        lines.append(f"{server.name or '...' + server.peer_id[-6:]}: blocks {start}-{end - 1}, {how}")
    if len(coverage.servers) > SERVER_LINES:
        lines.append(f"and {len(coverage.servers) - SERVER_LINES} more")
    return "\n".join(lines)


def describe(status: NodeStatus) -> dict[str, str]:
    """The dashboard's texts for one status."""
    swarm, serving, model = status.swarm, status.serving, status.model
    decision = status.pause.decision
    pause = decision.reason if decision is not None and decision.reason else "not paused"
    if decision is not None and decision.resume_in_s:
        pause += f" (resumes in {format_duration(decision.resume_in_s)})"
    return {
        "swarm": f"private: {swarm.name}" if swarm.private else "public (anyone can join)",
        "peers": "-" if swarm.peers is None else str(swarm.peers),
        "model": _model(model),
        "servers": _servers(model.coverage),
        "blocks": f"{serving.blocks[0]}-{serving.blocks[1] - 1}" if serving.blocks else "none",
        "compute": _compute(serving),
        "requests": format_count(serving.requests_served),
        "tokens": format_count(serving.tokens_served),
        "speed": "-" if serving.tokens_per_second is None else f"{serving.tokens_per_second:.1f} tokens/s served",
        "ram": format_bytes(serving.memory_bytes),
        "vram": format_bytes(serving.vram_bytes) if serving.vram_bytes is not None else "not reported",
        "pause": pause,
    }
