"""The tray icon: its picture shows the serving state, its menu holds the app's actions."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.actions import AppActions
from app.resources import icon
from app.status_model import StatusModel
from app.tray_state import NOT_ANSWERING, headline, tray_state
from core.node.contract import NodeStatus


def build_menu(actions: AppActions) -> QMenu:
    """The tray menu (also used by tests and screenshots): status line, serving, windows, swarm, quit."""
    menu = QMenu()
    menu.addAction(actions.headline)
    menu.addSeparator()
    menu.addActions(actions.serving_actions)
    menu.addSeparator()
    menu.addActions([actions.open_chat, actions.open_dashboard])
    menu.addSeparator()
    menu.addActions([actions.join, actions.invite, actions.settings])
    menu.addSeparator()
    menu.addAction(actions.quit)
    return menu


class Tray(QObject):
    """Owns the QSystemTrayIcon; a left click opens the dashboard (the menu is on the right button)."""

    activated = Signal()

    def __init__(self, actions: AppActions, status: StatusModel, parent: QObject | None = None):
        super().__init__(parent)
        self.menu = build_menu(actions)
        self.icon = QSystemTrayIcon(self)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self.on_icon_activated)
        self._icon_stem = ""  # the picture shown; set again only when it changes
        self.status = status
        actions.message.connect(self.on_message)
        status.status_changed.connect(self.on_status_changed)
        self.on_status_changed(status.status)

    def show(self) -> None:
        self.icon.show()

    def on_status_changed(self, status: NodeStatus | None) -> None:
        state = tray_state(status)
        if state.icon_stem != self._icon_stem:
            self._icon_stem = state.icon_stem
            self.icon.setIcon(icon(state.icon_stem))
        self.icon.setToolTip(f"Meadow: {headline(status) if not self.status.stale else NOT_ANSWERING}")
        self.state = state

    def on_icon_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.activated.emit()

    def on_message(self, title: str, text: str) -> None:
        self.icon.showMessage(title, text, QSystemTrayIcon.MessageIcon.Warning, 10_000)
