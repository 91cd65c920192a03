"""The chat window streams an answer from the real node into its transcript and saves the conversation."""
from __future__ import annotations

import json

from PySide6.QtCore import Qt

from app.chat.store import ConversationStore
from tests.app.conftest import ensure_serving


def test_a_message_streams_into_the_window_and_is_saved(qtbot, node, desktop, meadow_home):
    ensure_serving(qtbot, node)
    desktop.actions.open_chat.trigger()
    chat = desktop.chat
    assert chat is not None and chat.isVisible()
    qtbot.waitUntil(lambda: chat.model_picker.currentText() == "smollm2-135m-instruct", timeout=10_000)
    assert chat.privacy_note.isVisible()  # the public swarm: servers can read prompts

    chat.conversations.new_button.click()
    chat.options.temperature.setValue(0.0)
    chat.options.max_tokens.setValue(24)
    chat.input.setPlainText("Name three colours.")
    partial: list[str] = []
    qtbot.mouseClick(chat.send_button, Qt.MouseButton.LeftButton)
    assert chat.stream is not None and chat.stop_button.isEnabled()
    chat.stream.delta.connect(lambda _: partial.append(chat.transcript.toPlainText()))
    with qtbot.waitSignal(chat.stream.finished, timeout=60_000):
        pass
    # Several redraws showed a growing answer before it ended (tokens were streamed, not delivered at once).
    assert len(set(partial)) >= 3, partial
    answer = chat.conversation.messages[-1]
    assert answer.role == "assistant" and answer.content
    last_word = answer.content.split()[-1]
    assert chat.transcript.toPlainText().rstrip().endswith(last_word.strip("*_`"))
    assert "tokens/s" in chat.route.text()
    assert chat.send_button.isEnabled() and not chat.stop_button.isEnabled()

    saved = json.loads((meadow_home / "conversations" / f"{chat.conversation.id}.json").read_text())
    assert [message["role"] for message in saved["messages"]] == ["user", "assistant"]
    assert saved["title"] == "Name three colours."


def test_regenerate_rename_and_delete(qtbot, node, desktop):
    ensure_serving(qtbot, node)
    chat = desktop.show_chat()
    chat.conversations.new_button.click()
    chat.options.max_tokens.setValue(8)
    chat.input.setPlainText("Say hello.")
    chat.send_button.click()
    qtbot.waitUntil(lambda: chat.stream is None, timeout=60_000)
    assert [message.role for message in chat.conversation.messages] == ["user", "assistant"]

    chat.regenerate_button.click()
    assert chat.stream is not None
    qtbot.waitUntil(lambda: chat.stream is None, timeout=60_000)
    assert [message.role for message in chat.conversation.messages] == ["user", "assistant"]

    chat.conversations.rename_current("Greetings")
    assert chat.conversations.list.currentItem().text() == "Greetings"
    conversation_id = chat.conversation.id
    assert conversation_id in {conversation.id for conversation in ConversationStore().list()}
    chat.conversations.delete_current()
    assert conversation_id not in {conversation.id for conversation in ConversationStore().list()}


def test_copy_link_of_a_code_block_copies_its_code(qtbot, desktop):
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QGuiApplication

    from app.chat.store import Conversation, Message

    chat = desktop.show_chat()
    chat.conversation = Conversation(messages=[Message("user", "ls?"),
                                               Message("assistant", "Run:\n```sh\nls -la /tmp\n```\nDone.")])
    chat.render_transcript()
    assert "Copy code" in chat.transcript.toPlainText()
    chat.transcript.anchorClicked.emit(QUrl("copy:0"))
    assert QGuiApplication.clipboard().text() == "ls -la /tmp"
