"""The chat window: conversations, a Markdown transcript that fills in as tokens stream, and the controls."""
from __future__ import annotations

import logging

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.api_client import NodeConnection
from app.chat.conversation_list import ConversationList
from app.chat.options import ChatOptions
from app.chat.store import DEFAULT_TITLE, Conversation, ConversationStore, Message
from app.chat.stream import ChatStream
from app.chat.transcript import COPY_SCHEME, render, route_line
from app.resources import icon
from app.status_model import StatusModel
from core.node.contract import NodeStatus

logger = logging.getLogger(__name__)

PUBLIC_NOTE = ("You are in the public swarm: the computers that run your prompt can read it. "
               "Do not send anything private.")


class ChatWindow(QMainWindow):
    def __init__(self, api: NodeConnection, status: StatusModel, store: ConversationStore,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.api, self.status, self.store = api, status, store
        self.conversation: Conversation | None = None
        self.stream: ChatStream | None = None
        self.code_blocks: list[str] = []
        self.setWindowTitle("Meadow chat")
        self.setWindowIcon(icon("meadow"))
        self._build()
        self._render_timer = QTimer(self, singleShot=True, interval=30)  # coalesce token bursts into one redraw
        self._render_timer.timeout.connect(self.render_transcript)
        status.status_changed.connect(self.on_status_changed)
        self.on_status_changed(status.status)
        self.conversations.reload()
        self.refresh_models()

    def _build(self) -> None:
        self.conversations = ConversationList(self.store)
        self.conversations.selected.connect(self.on_conversation_selected)
        self.conversations.new_requested.connect(self.on_new_requested)
        self.privacy_note = QLabel(PUBLIC_NOTE, wordWrap=True, objectName="privacy_note")
        self.model_picker = QComboBox(minimumContentsLength=24)
        self.transcript = QTextBrowser(openLinks=False)
        self.transcript.anchorClicked.connect(self.on_transcript_anchor_clicked)
        self.route = QLabel(objectName="route", wordWrap=True)
        self.input = QPlainTextEdit(placeholderText="Message Meadow (Ctrl+Enter sends)")
        self.input.setMaximumHeight(90)
        self.send_button, self.stop_button = QPushButton("Send"), QPushButton("Stop")
        self.regenerate_button = QPushButton("Regenerate")
        self.send_button.clicked.connect(self.on_send_clicked)
        self.stop_button.clicked.connect(self.on_stop_clicked)
        self.regenerate_button.clicked.connect(self.on_regenerate_clicked)
        QShortcut(QKeySequence("Ctrl+Return"), self.input, self.on_send_clicked)
        self.options = ChatOptions()
        splitter = QSplitter()
        splitter.addWidget(self.conversations)
        splitter.addWidget(self._chat_column())
        splitter.setSizes([220, 680])
        self.setCentralWidget(splitter)
        self.resize(960, 680)
        self._set_busy(False)

    def _chat_column(self) -> QWidget:
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.model_picker, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.regenerate_button, self.stop_button, self.send_button):
            buttons.addWidget(button)
        column = QVBoxLayout()
        column.addWidget(self.privacy_note)
        column.addLayout(top)
        column.addWidget(self.transcript, 1)
        column.addWidget(self.route)
        column.addWidget(self.input)
        column.addLayout(buttons)
        column.addWidget(self.options)
        widget = QWidget()
        widget.setLayout(column)
        return widget

    # Conversations ---------------------------------------------------------------------------------

    def on_new_requested(self) -> None:
        self._store_options()
        conversation = Conversation(model=self.model_picker.currentText())
        self.store.save(conversation)
        self.conversations.reload(conversation)

    def on_conversation_selected(self, conversation: Conversation | None) -> None:
        if self.stream is not None:
            self.stream.stop()
        self._store_options()
        self.conversation = conversation
        if conversation is not None:
            self.options.show_conversation(conversation)
            if conversation.model:
                self._select_model(conversation.model)
        last = conversation.messages[-1] if conversation and conversation.messages else None
        self.route.setText(route_line(last.meta) if last and last.role == "assistant" else "")
        self.render_transcript()
        self._set_busy(False)

    # Sending and streaming -------------------------------------------------------------------------

    def on_send_clicked(self) -> None:
        text = self.input.toPlainText().strip()
        if not text or self.stream is not None:
            return
        if self.conversation is None:
            self.on_new_requested()
        assert self.conversation is not None
        self.conversation.messages.append(Message("user", text))
        if self.conversation.title == DEFAULT_TITLE:
            self.conversation.title = text.splitlines()[0][:48]
        self.input.clear()
        self._ask()

    def on_regenerate_clicked(self) -> None:
        conversation = self.conversation
        if conversation is None or self.stream is not None or not conversation.messages:
            return
        if conversation.messages[-1].role == "assistant":
            conversation.messages.pop()
        self._ask()

    def on_stop_clicked(self) -> None:
        if self.stream is not None:
            self.stream.stop()

    def on_stream_delta(self, text: str) -> None:
        if not self._render_timer.isActive():
            self._render_timer.start()

    def on_stream_finished(self, meta: dict) -> None:
        stream, conversation = self.stream, self.conversation
        self.stream = None
        if stream is None or conversation is None:
            return
        conversation.messages.append(Message("assistant", stream.text, meta={
            key: meta.get(key) for key in ("route", "tokens_per_second", "seconds_to_first_token", "stopped")
            if meta.get(key) is not None}))
        self._save_and_show(conversation, route_line(meta))

    def on_stream_failed(self, message: str) -> None:
        self.stream = None
        if self.conversation is not None:
            self._save_and_show(self.conversation, f"⚠ {message}")

    def _ask(self) -> None:
        conversation = self.conversation
        assert conversation is not None
        self._store_options()
        if not conversation.model:  # the model list has not arrived yet: the node's own model is the default
            conversation.model = self._own_model()
        body = {"model": conversation.model, "messages": conversation.api_messages(),
                "temperature": conversation.temperature, "top_p": conversation.top_p,
                "max_tokens": conversation.max_tokens}
        self.store.save(conversation)
        self.stream = ChatStream(self.api, body, self)
        self.stream.delta.connect(self.on_stream_delta)
        self.stream.finished.connect(self.on_stream_finished)
        self.stream.failed.connect(self.on_stream_failed)
        self.route.setText("Waiting for the swarm...")
        self._set_busy(True)
        self.render_transcript()
        self.stream.start()

    def _save_and_show(self, conversation: Conversation, route_text: str) -> None:
        self.store.save(conversation)
        self.conversations.reload(conversation)  # its new title; selecting it again redraws the transcript
        self._set_busy(False)
        self.route.setText(route_text)

    def render_transcript(self) -> None:
        """Redraw the transcript, keeping the view at the bottom if it was there."""
        scrollbar = self.transcript.verticalScrollBar()
        at_bottom = scrollbar.value() >= scrollbar.maximum() - 4
        messages = self.conversation.messages if self.conversation else []
        markdown, self.code_blocks = render(messages, self.stream.text if self.stream is not None else None)
        self.transcript.setMarkdown(markdown)
        if at_bottom:
            scrollbar.setValue(scrollbar.maximum())

    # Models, status, copy --------------------------------------------------------------------------

    def refresh_models(self) -> None:
        call = self.api.get("/v1/models")
        call.succeeded.connect(self.on_models)
        call.failed.connect(lambda message: self.route.setText(f"Models unavailable: {message}"))

    def on_models(self, answer: dict) -> None:
        wanted = self.conversation.model if self.conversation and self.conversation.model else ""
        current = wanted or self.model_picker.currentText() or self._own_model()
        self.model_picker.clear()
        self.model_picker.addItems([model["id"] for model in answer.get("data", [])])
        self._select_model(current)

    def on_status_changed(self, status: NodeStatus | None) -> None:
        self.privacy_note.setVisible(not (status is not None and status.swarm.private))

    def _own_model(self) -> str:
        """The node's own model (its id in the API): the default of a new conversation."""
        return self.status.status.model.name if self.status.status is not None else ""

    def on_transcript_anchor_clicked(self, url: QUrl) -> None:
        if url.scheme() == COPY_SCHEME:
            index = int(url.path() or url.toString().partition(":")[2])
            QGuiApplication.clipboard().setText(self.code_blocks[index])
            self.route.setText("Code copied to the clipboard")

    def _select_model(self, model: str) -> None:
        if model and self.model_picker.findText(model) < 0:
            self.model_picker.addItem(model)
        if model:
            self.model_picker.setCurrentText(model)

    def _store_options(self) -> None:
        if self.conversation is not None:
            self.options.store_into(self.conversation)
            self.conversation.model = self.model_picker.currentText() or self.conversation.model

    def _set_busy(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.regenerate_button.setEnabled(not busy and bool(self.conversation and self.conversation.messages))
