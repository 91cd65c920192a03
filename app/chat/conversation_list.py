"""The list of saved conversations with New, Rename and Delete."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.chat.store import Conversation, ConversationStore


class ConversationList(QWidget):
    selected = Signal(object)  # Conversation | None
    new_requested = Signal()

    def __init__(self, store: ConversationStore, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.list = QListWidget()
        self.new_button = QPushButton("New")
        self.rename_button = QPushButton("Rename")
        self.delete_button = QPushButton("Delete")
        buttons = QHBoxLayout()
        for button in (self.new_button, self.rename_button, self.delete_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.list.currentItemChanged.connect(self.on_current_item_changed)
        self.new_button.clicked.connect(self.new_requested)
        self.rename_button.clicked.connect(self.on_rename_clicked)
        self.delete_button.clicked.connect(self.on_delete_clicked)

    def reload(self, select: Conversation | None = None) -> None:
        """Refill from disk, keeping `select` (or the first conversation) selected."""
        self.list.blockSignals(True)
        self.list.clear()
        for conversation in self.store.list():
            item = QListWidgetItem(conversation.title)
            item.setData(Qt.ItemDataRole.UserRole, conversation)
            self.list.addItem(item)
            if select is not None and conversation.id == select.id:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        else:
            self.on_current_item_changed(self.list.currentItem())

    def current(self) -> Conversation | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def rename_current(self, title: str) -> None:
        conversation = self.current()
        if conversation is not None:
            self.store.rename(conversation, title)
            self.reload(conversation)

    def delete_current(self) -> None:
        conversation = self.current()
        if conversation is not None:
            self.store.delete(conversation)
            self.reload()

    def on_current_item_changed(self, item: QListWidgetItem | None, *_: object) -> None:
        self.selected.emit(item.data(Qt.ItemDataRole.UserRole) if item is not None else None)

    def on_rename_clicked(self) -> None:
        conversation = self.current()
        if conversation is None:
            return
        title, accepted = QInputDialog.getText(self, "Rename conversation", "Title:", text=conversation.title)
        if accepted:
            self.rename_current(title)

    def on_delete_clicked(self) -> None:
        conversation = self.current()
        if conversation is not None and QMessageBox.question(
                self, "Delete conversation", f"Delete “{conversation.title}”? This cannot be undone.") \
                == QMessageBox.StandardButton.Yes:
            self.delete_current()
