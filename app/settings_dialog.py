"""The settings dialog, generated from the node's schema; saves with PATCH /api/settings.

Basics first (memory to give, when to pause, start at login, which swarm), everything else under Advanced,
grouped by area. Each setting shows its label, its description and, unless it applies at once, when it applies.
"""
from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.api_client import NodeConnection
from app.resources import ERROR_STYLE
from app.setting_editors import SettingEditor
from core.config import Applies
from core.node.contract import SettingInfo, SettingsAnswer, SettingsSchemaAnswer, SettingsUpdateAnswer

logger = logging.getLogger(__name__)

AREAS = {"server": "Serving", "node": "Node", "pause": "Auto-pause", "client": "Routing through the swarm",
         "swarm": "Swarm", "dht": "Swarm", "app": "App", "runtime": "CUDA build of torch", "log": "Logging"}
WHEN = {Applies.SERVER_RESTART: "Applies after the server reloads its blocks (serving pauses briefly).",
        Applies.NODE_RESTART: "Applies when the node restarts."}
SWARM_KEY = "app.swarm"


class SettingsDialog(QDialog):
    saved = Signal(list)  # the changed keys

    def __init__(self, api: NodeConnection, parent: QWidget | None = None):
        super().__init__(parent)
        self.api = api
        self.schema: list[SettingInfo] = []
        self.editors: dict[str, SettingEditor] = {}
        self.loaded: dict[str, Any] = {}
        self.setWindowTitle("Meadow settings")
        self.tabs = QTabWidget()
        self.error = QLabel(objectName="error", wordWrap=True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(680, 580)

    def load(self) -> None:
        """Ask the node for the schema, the joined swarms, then the values; the form appears when all arrived."""
        call = self.api.get("/api/settings/schema", SettingsSchemaAnswer)
        call.succeeded.connect(self.on_schema)
        call.failed.connect(self.error.setText)

    def on_schema(self, answer: SettingsSchemaAnswer) -> None:
        self.schema = answer.settings
        call = self.api.get("/api/swarms")
        call.succeeded.connect(self.on_swarms)
        call.failed.connect(self.on_swarms_failed)

    def on_swarms_failed(self, message: str) -> None:
        logger.warning("Cannot list the joined swarms: %s", message)
        self.on_swarms({})  # the swarm setting is then a text field

    def on_swarms(self, answer: dict[str, Any]) -> None:
        names = [str(swarm.get("name")) for swarm in answer.get("swarms", []) if isinstance(swarm, dict)]
        self._build([("Public swarm (anyone can join)", ""), *[(f"Private: {name}", name) for name in names]])
        call = self.api.get("/api/settings", SettingsAnswer)
        call.succeeded.connect(self.on_values)
        call.failed.connect(self.error.setText)

    def on_values(self, answer: SettingsAnswer) -> None:
        self.loaded = answer.values.model_dump()
        for key, editor in self.editors.items():
            if key in self.loaded:
                editor.set_value(self.loaded[key])
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)

    def changes(self) -> dict[str, Any]:
        return {key: editor.value() for key, editor in self.editors.items() if not editor.matches(self.loaded.get(key))}

    def on_save_clicked(self) -> None:
        changes = self.changes()
        if not changes:
            self.accept()
            return
        self.error.setText("")
        call = self.api.patch("/api/settings", changes, SettingsUpdateAnswer)
        call.succeeded.connect(self.on_saved)
        call.failed.connect(self.error.setText)

    def on_saved(self, answer: SettingsUpdateAnswer) -> None:
        self.loaded = answer.values.model_dump()
        self.saved.emit(answer.changed)
        self.accept()

    def _build(self, swarm_options: list[tuple[str, str]]) -> None:
        self.tabs.clear()
        self.editors = {setting.key: SettingEditor(setting) for setting in self.schema}
        if SWARM_KEY in self.editors:
            self.editors[SWARM_KEY].offer(swarm_options)
        basics = [setting for setting in self.schema if not setting.advanced]
        self.tabs.addTab(self._page({"": basics}), "Basics")
        areas: dict[str, list[SettingInfo]] = {}
        for setting in self.schema:
            if setting.advanced:
                area = setting.key.split(".")[0]
                areas.setdefault(AREAS.get(area, area.capitalize()), []).append(setting)
        self.tabs.addTab(self._page(areas), "Advanced")

    def _page(self, areas: dict[str, list[SettingInfo]]) -> QScrollArea:
        page = QWidget()
        form = QFormLayout(page)
        for area, settings in areas.items():
            if area:
                form.addRow(QLabel(f"<b>{area}</b>"))
            for setting in settings:
                form.addRow(setting.label, self.editors[setting.key].widget)
                form.addRow("", _note(setting))
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(page)
        return scroll


def _note(setting: SettingInfo) -> QLabel:
    """The description, and when the setting applies unless that is at once."""
    text = setting.description + (f" {WHEN[setting.applies]}" if setting.applies in WHEN else "")
    note = QLabel(text, wordWrap=True)
    note.setStyleSheet("color: palette(placeholder-text); font-size: small")
    return note
