"""The chat window: conversations on disk, streamed answers from the node's OpenAI-compatible API."""
