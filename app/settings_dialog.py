"""The settings dialog, generated from the node's schema; saves with PATCH /api/settings."""
from __future__ import annotations

import logging

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

logger = logging.getLogger(__name__)

# What a donor adjusts; everything else is under Advanced, grouped by its key's prefix.
GENERAL = ("app.", "pause.enabled", "pause.exclusive_apps", "pause.idle_only", "pause.on_battery", "pause.fullscreen",
           "pause.resume_after_s", "server.vram_reserve_gb", "server.ram_reserve_gb", "server.public_name",
           "node.model", "node.num_blocks")


class SettingsDialog(QDialog):
    saved = Signal(list)  # the changed keys

    def __init__(self, api: NodeConnection, parent: QWidget | None = None):
        super().__init__(parent)
        self.api = api
        self.editors: dict[str, SettingEditor] = {}
        self.loaded: dict = {}
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
        self.resize(640, 560)

    def load(self) -> None:
        """Ask the node for the schema, then the values; the form appears when both arrived."""
        call = self.api.get("/api/settings/schema")
        call.succeeded.connect(self.on_schema)
        call.failed.connect(self.error.setText)

    def on_schema(self, answer: dict) -> None:
        self._build(answer["settings"])
        call = self.api.get("/api/settings")
        call.succeeded.connect(self.on_values)
        call.failed.connect(self.error.setText)

    def on_values(self, answer: dict) -> None:
        self.loaded = answer["values"]
        for key, editor in self.editors.items():
            if key in self.loaded:
                editor.set_value(self.loaded[key])
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)

    def changes(self) -> dict:
        return {key: editor.value() for key, editor in self.editors.items() if not editor.matches(self.loaded.get(key))}

    def on_save_clicked(self) -> None:
        changes = self.changes()
        if not changes:
            self.accept()
            return
        self.error.setText("")
        call = self.api.patch("/api/settings", changes)
        call.succeeded.connect(self.on_saved)
        call.failed.connect(self.error.setText)

    def on_saved(self, answer: dict) -> None:
        self.loaded = answer["values"]
        self.saved.emit(answer.get("changed", []))
        self.accept()

    def _build(self, settings: list[dict]) -> None:
        self.tabs.clear()
        self.editors = {setting["key"]: SettingEditor(setting) for setting in settings}
        general = sorted((s for s in settings if s["key"].startswith(GENERAL)), key=_general_rank)
        self.tabs.addTab(self._page(general), "General")
        groups: dict[str, list[dict]] = {}
        for setting in settings:
            if setting not in general:
                groups.setdefault(setting["key"].split(".")[0], []).append(setting)
        for prefix, members in groups.items():
            self.tabs.addTab(self._page(members), prefix.capitalize())

    def _page(self, settings: list[dict]) -> QScrollArea:
        page = QWidget()
        form = QFormLayout(page)
        for setting in settings:
            description = QLabel(setting["description"], wordWrap=True)
            description.setStyleSheet("color: palette(placeholder-text); font-size: small")
            form.addRow(setting["key"], self.editors[setting["key"]].widget)
            form.addRow("", description)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(page)
        return scroll


def _general_rank(setting: dict) -> int:
    return next(index for index, prefix in enumerate(GENERAL) if setting["key"].startswith(prefix))
