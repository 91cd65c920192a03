"""A local node started as a child, and the few API calls its terminal clients make (chat, self-test)."""
from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.child_output import ChildOutput
from core.errors import UserFacingError
from core.events import NodeReady
from core.launcher import spawn, stop_group
from core.node.contract import NodeStatus

READY_TIMEOUT = 300.0  # a first start loads the model's client part and may wait for a slow disk


class NodeClient:
    """A blocking client of a node's local API, for the terminal commands (chat, self-test); the app has its own
    asynchronous one (app.api_client.NodeConnection)."""

    def __init__(self, api: str, token: str):
        self.api = api
        self.token = token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             timeout: float = 30.0) -> http.client.HTTPResponse:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.api + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=timeout)
            return response
        except urllib.error.HTTPError as error:
            raise UserFacingError(_error_message(error)) from None

    def body(self, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
        """The raw answer (for core.node.contract's models to parse)."""
        with self.call(method, path, body) as response:
            return bytes(response.read())

    def json(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.body(method, path, body))
        return answer

    def stream_chat(self, model: str, messages: list[dict[str, Any]], max_tokens: int) -> Iterator[str]:
        """Text pieces of the assistant's reply as they arrive (server-sent events)."""
        body = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True}
        with self.call("POST", "/v1/chat/completions", body, timeout=600) as response:
            for raw in response:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if "error" in chunk:
                    raise UserFacingError(chunk["error"]["message"])
                for choice in chunk.get("choices", []):
                    yield choice.get("delta", {}).get("content") or ""


def start_node(command: list[str]) -> tuple[subprocess.Popen[str], NodeClient]:
    """Start `meadow node <command>` (stderr shared with ours) and wait for its ready event."""
    print("Starting a local Meadow node ...", file=sys.stderr)
    node = spawn(["node", *command], stderr=None)
    try:
        ready = ChildOutput(node, "meadow-node").start().wait_for(NodeReady, READY_TIMEOUT)
    except (UserFacingError, TimeoutError) as error:
        stop_group(node)
        raise UserFacingError(f"The node did not start: {error}. Its log is in the data dir.") from None
    return node, NodeClient(ready.api, Path(ready.token_file).read_text().strip())


def wait_until_served(api: NodeClient, timeout: float) -> None:
    """Show the server's progress until every block of the node's model is served (or the node says why not)."""
    deadline, shown = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        status = NodeStatus.model_validate_json(api.body("GET", "/api/status"))
        coverage = status.model.coverage
        if coverage is not None and coverage.blocks and not coverage.missing:
            print("Ready.", file=sys.stderr)
            return
        message = f"server: {status.serving.state} {status.serving.reason}".strip()
        if message != shown:
            print(message, file=sys.stderr)
            shown = message
        time.sleep(0.5)
    raise UserFacingError(f"No server covers the node's model yet after {timeout:.0f} s; see `meadow swarm status`")


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        message: str = json.loads(error.read())["error"]["message"]
        return message
    except (ValueError, KeyError, TypeError):
        return f"the node answered HTTP {error.code}"
