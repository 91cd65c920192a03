"""The bearer token of the node's local API, and the file that tells local tools where a node runs.

The token lives in the data dir with mode 0600 and survives restarts, so a tool configured once keeps
working. `node.json` names the running node's API address and pid; a second `meadow app` reads it to
attach instead of starting another node.
"""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import psutil

from core.paths import meadow_home, write_atomically


def token_path() -> Path:
    return meadow_home() / "node" / "api-token"


def node_info_path() -> Path:
    return meadow_home() / "node" / "node.json"


def ensure_api_token(path: Path | None = None) -> str:
    """The node's API token, created (mode 0600) on first use; a file anyone else may read is replaced."""
    path = path or token_path()
    if path.exists() and path.stat().st_mode & 0o077 == 0:
        token = path.read_text(encoding="ascii", errors="replace").strip()
        if len(token) >= 32:
            return token
    token = secrets.token_urlsafe(32)
    write_atomically(path, (token + "\n").encode("ascii"), mode=0o600)
    return token


def write_node_info(api: str, pid: int) -> None:
    write_atomically(node_info_path(), json.dumps({"api": api, "pid": pid, "token_file": str(token_path())}).encode())


def clear_node_info(pid: int) -> None:
    """Remove node.json if it still describes this process (another node may have replaced it)."""
    info = read_node_info(check_alive=False)
    if info is not None and info.get("pid") == pid:
        node_info_path().unlink(missing_ok=True)


def read_node_info(check_alive: bool = True) -> dict[str, Any] | None:
    """The running node's {"api", "pid", "token_file"}, or None when no node runs."""
    try:
        info = json.loads(node_info_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int) or not isinstance(info.get("api"), str):
        return None
    if check_alive and not psutil.pid_exists(info["pid"]):
        return None
    return info
