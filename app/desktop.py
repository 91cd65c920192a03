"""The running app: its windows and dialogs, opened on demand, and what happens when the node changes."""
from __future__ import annotations

import logging
from typing import TypeVar

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QWidget

from app.actions import AppActions
from app.api_client import NodeConnection
from app.autostart import set_start_at_login
from app.chat.store import ConversationStore
from app.chat.window import ChatWindow
from app.dashboard import DashboardWindow
from app.invite_dialog import InviteDialog
from app.join_dialog import JoinDialog
from app.node_events import NodeEvents
from app.node_supervisor import NodeSupervisor, chosen_swarm
from app.pause_reporter import PauseReporter
from app.runtime.offer import CudaOffer
from app.settings_dialog import SettingsDialog
from app.status_model import StatusModel
from app.tray import Tray
from core.events import SettingsChanged
from core.node.contract import SettingsAnswer

logger = logging.getLogger(__name__)

DialogT = TypeVar("DialogT", bound=QWidget)


class DesktopApp(QObject):
    """Built by app.main.build (the composition root); `tray` is None where no tray host runs."""

    def __init__(self, api: NodeConnection, supervisor: NodeSupervisor, events: NodeEvents, status: StatusModel,
                 actions: AppActions, store: ConversationStore, tray: Tray | None, reporter: PauseReporter,
                 cuda_offer: CudaOffer):
        super().__init__()
        self.api, self.supervisor, self.events, self.status = api, supervisor, events, status
        self.actions, self.store, self.tray, self.reporter = actions, store, tray, reporter
        self.dashboard = DashboardWindow(actions, status)
        self.cuda_offer = cuda_offer
        cuda_offer.parent_widget = self.dashboard
        self._add_before_quit(cuda_offer.action)
        self.chat: ChatWindow | None = None
        self.dialogs: dict[str, QWidget] = {}
        supervisor.ready.connect(self.on_node_ready)
        supervisor.failed.connect(self.on_node_failed)
        events.settings_changed.connect(self.on_settings_changed)
        self.dashboard.restart_requested.connect(self.restart_node)
        actions.open_chat.triggered.connect(self.show_chat)
        actions.open_dashboard.triggered.connect(self.show_dashboard)
        actions.join.triggered.connect(self.show_join)
        actions.invite.triggered.connect(self.show_invite)
        actions.settings.triggered.connect(self.show_settings)
        actions.quit.triggered.connect(self.on_quit_triggered)
        if tray is not None:
            tray.activated.connect(self.show_dashboard)

    def on_node_ready(self, api: str, token: str) -> None:
        logger.info("Node API at %s", api)
        self.api.set_endpoint(api, token)
        self.status.start()
        self.reporter.start()

    def on_node_failed(self, message: str) -> None:
        self.status.mark_stale(message)
        box = QMessageBox(QMessageBox.Icon.Critical, "Meadow", message, parent=self.dashboard)
        box.setInformativeText("Meadow can try again. The details show the node's last messages.")
        box.setDetailedText("\n".join(self.supervisor.stderr_tail) or "(the node printed nothing)")
        restart = box.addButton("Restart", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Close)
        box.buttonClicked.connect(lambda button: self.supervisor.restart() if button is restart else None)
        self.dialogs["error"] = box
        box.show()

    def on_settings_changed(self, event: SettingsChanged) -> None:
        if "app.start_at_login" in event.keys:
            call = self.api.get("/api/settings", SettingsAnswer)
            call.succeeded.connect(self.on_settings_read)

    def on_settings_read(self, answer: SettingsAnswer) -> None:
        set_start_at_login(bool(answer.value("app.start_at_login")))

    def on_settings_saved(self, keys: list[str]) -> None:
        if "app.swarm" in keys:
            self.restart_node()  # in the swarm just chosen

    def restart_node(self) -> None:
        """Restart the node in the swarm the settings choose (app.swarm), with every stored setting."""
        swarm, new_swarm = chosen_swarm()
        self._restart_in(swarm, new_swarm)

    def on_joined(self, swarm: dict) -> None:
        self.switch_swarm(swarm["name"], new_swarm=False)

    def switch_swarm(self, name: str | None, new_swarm: bool) -> None:
        """Remember the swarm for the next start, then restart the node in it."""
        call = self.api.patch("/api/settings", {"app.swarm": name or ""})
        call.succeeded.connect(lambda _: self._restart_in(name, new_swarm))
        call.failed.connect(lambda message: self._restart_unstored(name, new_swarm, message))

    def _restart_unstored(self, swarm: str | None, new_swarm: bool, message: str) -> None:
        logger.warning("Could not store app.swarm (the next start uses the old one): %s", message)
        self._restart_in(swarm, new_swarm)

    def _restart_in(self, swarm: str | None, new_swarm: bool) -> None:
        self.status.mark_stale("Restarting the node...")
        self.supervisor.switch_swarm(swarm, new_swarm)

    def present(self, hidden: bool) -> None:
        """Show the tray icon, and the dashboard unless `hidden`; without a tray the window is the only way in."""
        if self.tray is not None:
            self.tray.show()
        if self.tray is None or not hidden:
            self.show_dashboard()

    def show_dashboard(self) -> None:
        _raise(self.dashboard)

    def show_chat(self) -> ChatWindow:
        if self.chat is None:
            self.chat = ChatWindow(self.api, self.status, self.store)
        _raise(self.chat)
        return self.chat

    def show_join(self) -> JoinDialog:
        dialog = JoinDialog(self.api, self.dashboard)
        dialog.joined.connect(self.on_joined)
        return self._show_dialog("join", dialog)

    def show_invite(self) -> InviteDialog:
        swarm = self.status.status.swarm if self.status.status is not None else None
        dialog = InviteDialog(self.api, swarm.name if swarm is not None and swarm.private else None, self.dashboard)
        dialog.swarm_created.connect(lambda name: self.switch_swarm(name, new_swarm=True))
        return self._show_dialog("invite", dialog)

    def show_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.api, self.dashboard)
        dialog.saved.connect(self.on_settings_saved)
        dialog.load()
        return self._show_dialog("settings", dialog)

    def on_quit_triggered(self) -> None:
        """Stop our node cleanly (a node we only attached to keeps running), then leave."""
        self.events.stop()
        self.supervisor.stop_and_wait()
        QApplication.quit()

    def close(self) -> None:
        """Stop talking to the node, close every window and free the app's objects (the node is left as it
        is: stop one we started first). Qt frees them at its next safe point; left to Python's garbage
        collector they could go while one of their own replies is still delivering a signal."""
        self.events.stop()
        self.status.stop()
        self.reporter.stop()
        self.supervisor.detach()
        for window in [self.dashboard, self.chat, *self.dialogs.values(), self.cuda_offer.box, self.cuda_offer.install]:
            if window is not None:
                window.close()
        if self.tray is not None:
            self.tray.icon.hide()
        parts = [self.dashboard, self.chat, *self.dialogs.values(), self.tray, self.actions, self.reporter,
                 self.status, self.events, self.cuda_offer, self.supervisor, self.api]
        for part in parts:
            if part is not None:
                part.deleteLater()

    def _add_before_quit(self, action: QAction) -> None:
        """Put `action` above "Quit Meadow" in the tray menu and the dashboard's Meadow menu."""
        menus: list[QMenu | None] = [submenu for entry in self.dashboard.menuBar().actions()[:1]
                                     if isinstance(submenu := entry.menu(), QMenu)]
        for menu in [*menus, self.tray.menu if self.tray is not None else None]:
            if menu is not None:
                menu.insertAction(self.actions.quit, action)

    def _show_dialog(self, name: str, dialog: DialogT) -> DialogT:
        old = self.dialogs.get(name)
        if old is not None:
            old.close()
            old.deleteLater()
        self.dialogs[name] = dialog
        _raise(dialog)
        return dialog


def _raise(window: QWidget) -> None:
    window.show()
    window.raise_()
    window.activateWindow()
