"""The dashboard, the app's main window: swarm, model, our blocks, what we served, coverage, pause reason."""
from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.actions import AppActions
from app.coverage_bar import CoverageBar
from app.resources import icon
from app.status_model import StatusModel
from app.tray_state import headline
from app.units import format_bytes, format_count, format_duration

FIELDS = ("swarm", "peers", "model", "servers", "blocks", "compute", "requests", "tokens", "speed", "ram", "vram",
          "pause")
SERVER_LINES = 8  # servers listed by name; the rest are counted


class DashboardWindow(QMainWindow):
    def __init__(self, actions: AppActions, status: StatusModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.status = status
        self.setWindowTitle("Meadow")
        self.setWindowIcon(icon("meadow"))
        self._build_menu(actions)
        self.headline = QLabel(objectName="headline")
        self.values = {name: QLabel("-", objectName=f"value_{name}") for name in FIELDS}
        self.coverage = CoverageBar()
        self.buttons = {action: self._button(action) for action in actions.serving_actions}
        layout = QVBoxLayout()
        layout.addWidget(self.headline)
        layout.addWidget(self._form())
        layout.addWidget(self._coverage_box())
        layout.addLayout(self._row(list(self.buttons.values())))
        layout.addLayout(self._row([self._button(action) for action in
                                    (actions.open_chat, actions.join, actions.invite, actions.settings)]))
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        status.status_changed.connect(self.on_status_changed)
        self.on_status_changed(status.status)

    def on_status_changed(self, status: dict | None) -> None:
        self.headline.setText(headline(status) if status or not self.status.error else self.status.error)
        if status is None:
            return
        texts = describe(status, self.status.served_tokens_per_second)
        for name, text in texts.items():
            self.values[name].setText(text)
        model = served_model(status)
        blocks = status["serving"].get("blocks")
        self.coverage.set_coverage([block["servers"] for block in model["blocks"]] if model else [],
                                   tuple(blocks) if blocks else None)

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
        box = QGroupBox("This computer in the swarm")
        form = QFormLayout(box)
        labels = ("Swarm", "Peers", "Model", "Its servers", "Our blocks", "Computed on", "Requests served",
                  "Tokens served", "Speed", "Memory (RAM)", "Memory (VRAM)", "Pause")
        for label, name in zip(labels, FIELDS, strict=True):
            form.addRow(label, self.values[name])
        self.values["pause"].setWordWrap(True)
        return box

    def _coverage_box(self) -> QGroupBox:
        box = QGroupBox("Model blocks across the swarm (red: nobody serves it; outlined: ours)")
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


def _compute(serving: dict) -> str:
    """Where our server computes and in what format: "cuda:0, bfloat16, nf4", "cpu, float32" or "-"."""
    if not serving.get("device"):
        return "-"
    quantization = serving.get("quantization")
    return ", ".join([serving["device"], serving.get("dtype") or "?"]
                     + ([quantization] if quantization and quantization != "none" else []))


def served_model(status: dict[str, Any]) -> dict[str, Any] | None:
    """The swarm's entry of the model our node serves (the swarm may serve others too), else its first one."""
    models: list[dict[str, Any]] = status.get("models") or []
    ours = [model for model in models if model["model"] == status["serving"].get("model")]
    candidates = ours or models
    return candidates[0] if candidates else None


def _servers(model: dict[str, Any] | None) -> str:
    """The model's servers, one per line: their blocks and how they compute them ("blocks 0-14: bfloat16, nf4")."""
    if not model or not model.get("servers"):
        return "-"
    lines = []
    for server in model["servers"][:SERVER_LINES]:
        start, end = server["blocks"]
        how = ", ".join([server["dtype"]] + ([server["quantization"]] if server["quantization"] != "none" else []))
        name = server.get("name") or f"...{server['peer_id'][-6:]}"
        lines.append(f"{name}: blocks {start}-{end - 1}, {how}")
    if len(model["servers"]) > SERVER_LINES:
        lines.append(f"and {len(model['servers']) - SERVER_LINES} more")
    return "\n".join(lines)


def _model(serving: dict[str, Any], model: dict[str, Any] | None) -> str:
    """The model's name, its size in blocks and its architecture: "qwen2.5-7b (28 blocks, qwen2)"."""
    if not model:
        return f"{serving.get('model', '-')}"
    details = [f"{model['num_blocks']} blocks"] + ([model["architecture"]] if model.get("architecture") else [])
    return f"{serving.get('model', '-')} ({', '.join(details)})"


def describe(status: dict, served_speed: float | None) -> dict[str, str]:
    """The dashboard's texts for one /api/status answer."""
    swarm, serving = status["swarm"], status["serving"]
    model = served_model(status)
    blocks = serving.get("blocks")
    decision = (status.get("pause") or {}).get("decision") or {}
    pause = decision.get("reason") or "not paused"
    if decision.get("resume_in_s"):
        pause += f" (resumes in {format_duration(decision['resume_in_s'])})"
    return {
        "swarm": f"private: {swarm['name']}" if swarm.get("private") else "public (anyone can join)",
        "peers": "-" if swarm.get("peers") is None else str(swarm["peers"]),
        "model": _model(serving, model),
        "servers": _servers(model),
        "blocks": f"{blocks[0]}-{blocks[1] - 1}" if blocks else "none",
        "compute": _compute(serving),
        "requests": format_count(serving.get("requests_served")),
        "tokens": format_count(serving.get("tokens_served")),
        "speed": "-" if served_speed is None else f"{served_speed:.1f} tokens/s served",
        "ram": format_bytes(serving.get("memory_bytes")),
        "vram": format_bytes(serving.get("vram_bytes")) if serving.get("vram_bytes") is not None else "not reported",
        "pause": pause,
    }
