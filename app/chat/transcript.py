"""A conversation as Markdown for QTextBrowser, with a copy link after every code block."""
from __future__ import annotations

import re

from app.chat.store import Message

COPY_SCHEME = "copy"
_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.DOTALL | re.MULTILINE)
SPEAKERS = {"user": "You", "assistant": "Meadow"}


def with_copy_links(text: str, code_blocks: list[str]) -> str:
    """`text` with a `[Copy code](copy:N)` link after each closed fence; appends the blocks to code_blocks."""
    def replace(match: re.Match[str]) -> str:
        code_blocks.append(match.group(2).rstrip("\n"))
        return f"{match.group(0)}\n\n[Copy code]({COPY_SCHEME}:{len(code_blocks) - 1})\n"

    return _FENCE.sub(replace, text)


def render(messages: list[Message], streaming: str | None = None) -> tuple[str, list[str]]:
    """Markdown of the messages (and of an answer still streaming), and the code blocks the links copy."""
    code_blocks: list[str] = []
    parts = []
    shown = list(messages) + ([Message("assistant", streaming or "...")] if streaming is not None else [])
    for message in shown:
        body = with_copy_links(message.content, code_blocks) if message.role == "assistant" else message.content
        note = " *(stopped)*" if message.meta.get("stopped") else ""
        parts.append(f"**{SPEAKERS.get(message.role, message.role)}**{note}\n\n{body}")
    return "\n\n---\n\n".join(parts), code_blocks


def route_line(meta: dict) -> str:
    """`12.3 tokens/s · first token 0.4 s · via 1 server: QmAbc… blocks 0-29`, from a stream's meta."""
    pieces = []
    if meta.get("tokens_per_second"):
        pieces.append(f"{meta['tokens_per_second']:.1f} tokens/s")
    if meta.get("seconds_to_first_token") is not None:
        pieces.append(f"first token {meta['seconds_to_first_token']:.1f} s")
    route = meta.get("route") or []
    if route:
        hops = ", ".join(f"{hop['peer_id'][:8]}… blocks {hop['start']}-{hop['end'] - 1}" for hop in route)
        pieces.append(f"via {len(route)} server{'s' if len(route) != 1 else ''}: {hops}")
    return " · ".join(pieces)
