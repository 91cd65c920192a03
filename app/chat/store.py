"""Conversations saved on disk, one JSON file each under MEADOW_HOME/conversations."""
from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.paths import meadow_home, write_atomically

logger = logging.getLogger(__name__)

DEFAULT_TITLE = "New conversation"


@dataclass
class Message:
    role: str  # system prompts live on the conversation, so: user or assistant
    content: str
    meta: dict = field(default_factory=dict)  # assistant: route, tokens_per_second, stopped


@dataclass
class Conversation:
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    title: str = DEFAULT_TITLE
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    model: str = ""
    system_prompt: str = ""
    temperature: float = 0.7
    top_p: float = 0.9
    max_tokens: int = 512
    messages: list[Message] = field(default_factory=list)

    def api_messages(self) -> list[dict]:
        """The history in OpenAI form; the node reuses the swarm session for the common prefix."""
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt.strip() else []
        return system + [{"role": message.role, "content": message.content} for message in self.messages]

    @classmethod
    def from_json(cls, data: dict) -> Conversation:
        messages = [Message(**message) for message in data.pop("messages", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known}, messages=messages)


class ConversationStore:
    def __init__(self, folder: Path | None = None):
        self.folder = folder or meadow_home() / "conversations"
        self.folder.mkdir(parents=True, exist_ok=True)

    def list(self) -> list[Conversation]:
        """Every readable conversation, most recently updated first (a damaged file is logged and skipped)."""
        conversations = []
        for path in self.folder.glob("*.json"):
            try:
                conversations.append(Conversation.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError) as error:
                logger.warning("Skipping unreadable conversation %s: %s", path, error)
        return sorted(conversations, key=lambda conversation: conversation.updated, reverse=True)

    def save(self, conversation: Conversation) -> None:
        conversation.updated = time.time()
        write_atomically(self._path(conversation), json.dumps(asdict(conversation), indent=1).encode(), mode=0o600)

    def rename(self, conversation: Conversation, title: str) -> None:
        conversation.title = title.strip() or DEFAULT_TITLE
        self.save(conversation)

    def delete(self, conversation: Conversation) -> None:
        self._path(conversation).unlink(missing_ok=True)

    def _path(self, conversation: Conversation) -> Path:
        return self.folder / f"{conversation.id}.json"
