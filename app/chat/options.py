"""Per-conversation generation options: system prompt, temperature, top_p, max tokens."""
from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QPlainTextEdit, QSpinBox, QWidget

from app.chat.store import Conversation


class ChatOptions(QGroupBox):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("Options", parent)
        self.system_prompt = QPlainTextEdit(placeholderText="System prompt (optional): how the assistant should behave")
        self.system_prompt.setMaximumHeight(70)
        self.temperature = QDoubleSpinBox(minimum=0.0, maximum=2.0, singleStep=0.05, decimals=2)
        self.temperature.setToolTip("0 always picks the likeliest token; higher is more varied")
        self.top_p = QDoubleSpinBox(minimum=0.05, maximum=1.0, singleStep=0.05, decimals=2)
        self.top_p.setToolTip("Sample only from the likeliest tokens whose probabilities add up to this")
        self.max_tokens = QSpinBox(minimum=1, maximum=8192, singleStep=64)
        form = QFormLayout(self)
        form.addRow("System prompt", self.system_prompt)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top p", self.top_p)
        form.addRow("Max tokens", self.max_tokens)

    def show_conversation(self, conversation: Conversation) -> None:
        self.system_prompt.setPlainText(conversation.system_prompt)
        self.temperature.setValue(conversation.temperature)
        self.top_p.setValue(conversation.top_p)
        self.max_tokens.setValue(conversation.max_tokens)

    def store_into(self, conversation: Conversation) -> None:
        conversation.system_prompt = self.system_prompt.toPlainText()
        conversation.temperature = self.temperature.value()
        conversation.top_p = self.top_p.value()
        conversation.max_tokens = self.max_tokens.value()
