"""The one settings schema: defaults, file, --set overrides, and clear errors on bad input."""
from __future__ import annotations

import json

import pytest

from core.config import SCHEMA, Settings, lookup
from core.errors import SettingsError


def test_defaults_file_and_overrides(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"server.max_length": 100, "swarm.namespace": "garden"}))
    settings = Settings.load(["server.max_length=200", "server.throughput=2.5"], path=path)
    assert settings["server.max_length"] == 200
    assert settings["swarm.namespace"] == "garden"
    assert settings["server.throughput"] == 2.5
    assert settings["client.route_timeout"] == lookup("client.route_timeout").default


@pytest.mark.parametrize("override, message", [
    ("server.max_length=abc", "expects an integer"),
    ("server.max_length=0", "at least"),
    ("no.such.key=1", "Unknown setting"),
    ("server.max_length", "KEY=VALUE"),
    ("server.throughput=true", "expects a number"),
    ("server.device=gpu", "one of auto, cuda, cpu"),
    ("server.dtype=int4", "one of auto, float32, bfloat16, float16"),
])
def test_bad_overrides_are_clear_errors(tmp_path, override, message):
    with pytest.raises(SettingsError, match=message):
        Settings.load([override], path=tmp_path / "missing.json")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"server.max_length": "many"}', '{"bogus": 1}'])
def test_bad_settings_file_is_a_clear_error_and_untouched(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_text(content)
    with pytest.raises(SettingsError, match=r"settings|Setting|setting"):
        Settings.load([], path=path)
    assert path.read_text() == content


def test_save_writes_only_changes(tmp_path):
    path = tmp_path / "settings.json"
    Settings.load(["server.max_length=77"], path=path).save(path)
    assert json.loads(path.read_text()) == {"server.max_length": 77}
    assert Settings.load([], path=path)["server.max_length"] == 77


def test_every_setting_is_documented_and_parses_its_default():
    keys = [setting.key for setting in SCHEMA]
    assert len(keys) == len(set(keys))
    for setting in SCHEMA:
        assert setting.description and setting.label and "." in setting.key
        assert setting.parse(setting.default) == setting.default


def test_lists_are_comma_separated():
    from core.config import LIVE, Setting

    assert Setting("x.y", list, [], "a list", label="A list", applies=LIVE).parse("a, b,,c") == ["a", "b", "c"]


def test_update_settings_file_is_all_or_nothing(tmp_path):
    from core.config import update_settings_file

    path = tmp_path / "settings.json"
    update_settings_file({"server.vram_reserve_gb": 2, "log.level": "DEBUG"}, path)
    assert json.loads(path.read_text()) == {"server.vram_reserve_gb": 2.0, "log.level": "DEBUG"}
    with pytest.raises(SettingsError):
        update_settings_file({"server.vram_reserve_gb": 3, "client.max_retries": "many"}, path)
    assert json.loads(path.read_text())["server.vram_reserve_gb"] == 2.0
    update_settings_file({"log.level": "INFO"}, path)  # back to the default: dropped from the file
    assert json.loads(path.read_text()) == {"server.vram_reserve_gb": 2.0}
    path.write_text("{broken")
    with pytest.raises(SettingsError):
        update_settings_file({"log.level": "DEBUG"}, path)
    assert path.read_text() == "{broken"


def test_writers_at_the_same_time_lose_nothing(tmp_path):
    import threading

    from core.config import update_settings_file

    path = tmp_path / "settings.json"

    def write(key: str, base: int) -> None:
        for step in range(15):
            update_settings_file({key: base + step}, path)

    writers = [threading.Thread(target=write, args=("node.max_sessions", 100)),
               threading.Thread(target=write, args=("node.session_tokens", 1000))]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    assert json.loads(path.read_text()) == {"node.max_sessions": 114, "node.session_tokens": 1014}
    assert (tmp_path / "settings.json.lock").exists()  # the lock the node (and any other writer) holds


def test_every_setting_says_when_it_applies():
    from core.config import NODE, SERVER, lookup

    assert lookup("server.vram_reserve_gb").applies is SERVER and lookup("node.model").applies is SERVER
    assert lookup("client.request_timeout").applies is NODE and lookup("app.swarm").applies is NODE
    basics = [setting.key for setting in SCHEMA if not setting.advanced]
    assert {"server.vram_reserve_gb", "pause.enabled", "app.start_at_login", "app.swarm"} <= set(basics)
