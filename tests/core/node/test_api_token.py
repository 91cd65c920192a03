from __future__ import annotations

import os

from core.node.api_token import clear_node_info, ensure_api_token, read_node_info, write_node_info


def test_token_is_private_and_kept(tmp_path):
    path = tmp_path / "node" / "api-token"
    token = ensure_api_token(path)
    assert len(token) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert ensure_api_token(path) == token


def test_a_readable_token_file_is_replaced(tmp_path):
    path = tmp_path / "api-token"
    path.write_text("x" * 40)
    path.chmod(0o644)
    token = ensure_api_token(path)
    assert token != "x" * 40 and path.stat().st_mode & 0o777 == 0o600


def test_node_info_names_only_a_live_node(meadow_home):
    write_node_info("http://127.0.0.1:1234", os.getpid())
    assert read_node_info()["api"] == "http://127.0.0.1:1234"
    clear_node_info(os.getpid() + 1)  # another node's exit leaves ours alone
    assert read_node_info() is not None
    clear_node_info(os.getpid())
    assert read_node_info() is None
    write_node_info("http://127.0.0.1:1234", 2 ** 22 + 12345)  # no such process
    assert read_node_info() is None
