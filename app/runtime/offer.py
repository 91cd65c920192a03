"""The offer to fetch the CUDA build of torch, at start (unless declined) and from "Use my NVIDIA GPU...".

`meadow runtime status --json` runs in a child (this process never loads NVML or torch); on accept the fetch
runs with progress (app.runtime.install_dialog), and once the build is active the supervised node restarts.
The user's answer is stored through the node, the one writer of settings (once it answers, if it is starting)."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from app.api_client import NodeConnection
from app.node_supervisor import NodeSupervisor
from app.runtime.child import JsonLineChild
from app.runtime.decision import (
    ASK,
    NEVER,
    asks_at_start,
    describe_no_offer,
    describe_offer,
    fetch_would_help,
    should_offer_at_start,
    snoozed_preference,
)
from app.runtime.install_dialog import CudaInstallDialog
from core.config import Settings
from core.errors import SettingsError
from core.node.contract import SettingsUpdateAnswer
from core.paths import meadow_home

logger = logging.getLogger(__name__)
PREFERENCE = "app.cuda_offer"
OFFER_BUTTONS = (("Fetch the CUDA build", QMessageBox.ButtonRole.AcceptRole),
                 ("Not now", QMessageBox.ButtonRole.RejectRole),
                 ("Never ask again", QMessageBox.ButtonRole.DestructiveRole))


class CudaOffer(QObject):
    """`env` is the environment of the `meadow runtime` children (tests point MEADOW_HOME elsewhere)."""

    def __init__(self, supervisor: NodeSupervisor, api: NodeConnection, env: Mapping[str, str] | None = None,
                 index_url: str | None = None, overrides: Sequence[str] = (), parent: QObject | None = None):
        super().__init__(parent)
        self.supervisor, self.api, self.env, self.index_url = supervisor, api, env, index_url
        self.overrides = list(overrides)
        self.unsent: str | None = None  # an answer to store once the node answers
        api.endpoint_changed.connect(self.on_endpoint_changed)
        self.parent_widget: QWidget | None = None  # set by the app once its main window exists
        self.action = QAction("Use my NVIDIA GPU...", self)
        self.action.triggered.connect(self.on_action_triggered)
        self.box: QMessageBox | None = None
        self.install: CudaInstallDialog | None = None
        self._reader: JsonLineChild | None = None
        self._at_start = False

    @property
    def home(self) -> Path:
        configured = (self.env or {}).get("MEADOW_HOME")
        return Path(configured) if configured else meadow_home()

    def check_at_start(self) -> None:
        """Read the runtime status for an offer, unless the setting declines asking at start anyway."""
        preference = self.preference()
        if asks_at_start(preference, date.today()):
            self._read_status(at_start=True)
        else:
            logger.info("No CUDA offer at start: %s is %s", PREFERENCE, preference)

    def on_action_triggered(self) -> None:
        if self.install is not None and self.install.outcome == "running":
            self.install.raise_()  # one fetch at a time
            return
        self._read_status(at_start=False)

    def consider(self, status: dict, at_start: bool) -> None:
        """Offer the fetch if `status` (runtime status --json) calls for it; from the menu, say why not."""
        if at_start and not should_offer_at_start(status, self.preference(), date.today()):
            logger.info("No CUDA offer at start: needed %s, active %s", status.get("needed"), status.get("active"))
        elif fetch_would_help(status):
            self._show_offer(status)
        elif not at_start:
            self._show_message(QMessageBox.Icon.Information, describe_no_offer(status))

    def on_status_read(self, status: dict) -> None:
        self.consider(status, self._at_start)

    def on_status_finished(self, code: int, stderr: str) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.deleteLater()
        if code != 0:
            logger.warning("`meadow runtime status` failed (exit %s): %s", code, stderr)
            if not self._at_start:
                self._show_message(QMessageBox.Icon.Warning, f"Meadow could not check the GPU (exit {code}): {stderr}")

    def on_offer_answered(self, button: QAbstractButton) -> None:
        assert self.box is not None
        role = self.box.buttonRole(button)
        if role is QMessageBox.ButtonRole.AcceptRole:
            self.start_install(self.box.property("variant"))
        elif role is QMessageBox.ButtonRole.RejectRole:
            self.remember(snoozed_preference(date.today()))
        elif role is QMessageBox.ButtonRole.DestructiveRole:
            self.remember(NEVER)

    def start_install(self, variant: str) -> CudaInstallDialog:
        dialog = CudaInstallDialog(variant, self.env, self.index_url, self.overrides, self.parent_widget)
        dialog.activated.connect(self.on_activated)
        self.install = dialog
        dialog.start()
        return dialog

    def on_activated(self, variant: str) -> None:
        logger.info("CUDA build %s is active; restarting the node on it", variant)
        self.supervisor.restart()

    def preference(self) -> str:
        if self.unsent is not None:
            return self.unsent
        try:
            return str(Settings.load(path=self.home / "settings.json")[PREFERENCE])
        except SettingsError as error:
            logger.warning("Cannot read %s: %s", PREFERENCE, error)
            return ASK

    def remember(self, value: str) -> None:
        """Store the user's answer through the node (now, or once it answers)."""
        self.unsent = value
        self.on_endpoint_changed()

    def on_endpoint_changed(self) -> None:
        if self.unsent is None or not self.api.connected:
            return
        call = self.api.patch("/api/settings", {PREFERENCE: self.unsent}, SettingsUpdateAnswer)
        call.succeeded.connect(self.on_stored)
        call.failed.connect(lambda message: logger.warning("Could not store %s: %s", PREFERENCE, message))

    def on_stored(self, answer: SettingsUpdateAnswer) -> None:
        if answer.value(PREFERENCE) == self.unsent:
            self.unsent = None

    def _read_status(self, at_start: bool) -> None:
        if self._reader is not None:
            return  # a check is already running; its answer comes
        self._at_start = at_start
        self._reader = JsonLineChild(["runtime", "status", "--json"], self.env, self)
        self._reader.answer_received.connect(self.on_status_read)
        self._reader.finished.connect(self.on_status_finished)
        self._reader.start()

    def _show_offer(self, status: dict) -> None:
        box = self._new_box(QMessageBox.Icon.Question, describe_offer(status, str(self.home / "runtime")))
        box.setProperty("variant", status["needed"])
        for text, role in OFFER_BUTTONS:
            box.addButton(text, role)
        box.buttonClicked.connect(self.on_offer_answered)
        box.show()

    def _show_message(self, icon: QMessageBox.Icon, text: str) -> None:
        box = self._new_box(icon, text)
        box.addButton(QMessageBox.StandardButton.Ok)
        box.show()

    def _new_box(self, icon: QMessageBox.Icon, text: str) -> QMessageBox:
        if self.box is not None:
            self.box.close()
            self.box.deleteLater()
        self.box = QMessageBox(icon, "Use my NVIDIA GPU", text, parent=self.parent_widget)
        return self.box
