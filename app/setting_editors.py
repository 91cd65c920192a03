"""One editor widget per setting type of the schema (GET /api/settings/schema)."""
from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget

from core.node.contract import SettingInfo

INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e12


class SettingEditor:
    """A widget for one setting; `value()` returns what PATCH /api/settings accepts for it."""

    def __init__(self, setting: SettingInfo):
        self.setting = setting
        self.widget = self._make()
        self.widget.setObjectName(setting.key)
        self.widget.setToolTip(f"{setting.key}: {setting.description} (default: {_text(setting.default)})")

    def _make(self) -> QWidget:
        kind, minimum = self.setting.type, self.setting.minimum
        if kind == "bool":
            return QCheckBox()
        if kind == "int":
            return QSpinBox(minimum=int(minimum) if minimum is not None else -INT_LIMIT, maximum=INT_LIMIT)
        if kind == "float":
            return QDoubleSpinBox(minimum=minimum if minimum is not None else -FLOAT_LIMIT, maximum=FLOAT_LIMIT,
                                  decimals=3)
        if self.setting.choices:
            combo = QComboBox()
            self._fill(combo, [(choice, choice) for choice in self.setting.choices])
            return combo
        widget = QLineEdit()
        if kind == "list":
            widget.setPlaceholderText("comma-separated, for example: game.exe, blender")
        return widget

    def offer(self, options: list[tuple[str, str]]) -> None:
        """Show a text setting as a choice among `options` (text shown, value), keeping its current value."""
        current = self.value()
        combo = QComboBox()
        combo.setObjectName(self.setting.key)
        combo.setToolTip(self.widget.toolTip())
        self._fill(combo, options)
        self.widget = combo
        self.set_value(current)

    def set_value(self, value: Any) -> None:
        widget = self.widget
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QSpinBox | QDoubleSpinBox):
            widget.setValue(value)
        elif isinstance(widget, QComboBox):
            if widget.findData(str(value)) < 0:
                widget.addItem(str(value), str(value))  # a value the options do not name (a swarm since left)
            widget.setCurrentIndex(widget.findData(str(value)))
        elif isinstance(widget, QLineEdit):
            widget.setText(_text(value))

    def value(self) -> Any:
        widget, kind = self.widget, self.setting.type
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QSpinBox | QDoubleSpinBox):
            return widget.value()
        if isinstance(widget, QComboBox):
            return widget.currentData()
        assert isinstance(widget, QLineEdit)
        if kind == "list":
            return [item.strip() for item in widget.text().split(",") if item.strip()]
        return widget.text()

    def matches(self, value: Any) -> bool:
        """Whether the editor still shows `value` (floats to the editor's 3 decimals)."""
        if self.setting.type == "float" and isinstance(value, int | float):
            return bool(abs(self.value() - value) < 5e-4)
        return bool(self.value() == value)

    @staticmethod
    def _fill(combo: QComboBox, options: list[tuple[str, str]]) -> None:
        for text, value in options:
            combo.addItem(text, value)


def _text(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
