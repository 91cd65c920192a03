"""Process detectors against real processes: exclusive apps by executable or argv[0] base name, Steam games."""
from __future__ import annotations

import os

from core.pause.processes import ExclusiveAppsDetector, ProcessView, normalized_program_name
from core.pause.steam import SteamGameDetector, library_game

LONG_NAME = "fake-game-launcher-xyz"  # 22 characters: the kernel's comm name is cut to 15


def only_this_process() -> set[int]:
    """Our own pids for these tests: the programs they start are children but stand for foreign ones."""
    return {os.getpid()}


def test_exclusive_app_matched_by_its_executable_base_name(tmp_path, start_program):
    process = start_program(tmp_path / LONG_NAME)
    # any case, .exe tolerated
    signal = ExclusiveAppsDetector(["Fake-Game-Launcher-XYZ.exe"], only_this_process).detect()
    assert signal.active and signal.reason == f"exclusive app: {LONG_NAME}"
    process.kill()
    process.wait(timeout=10)
    assert not ExclusiveAppsDetector([LONG_NAME], only_this_process).detect().active


def test_the_truncated_comm_name_does_not_match(tmp_path, start_program):
    start_program(tmp_path / LONG_NAME)
    assert not ExclusiveAppsDetector([LONG_NAME[:15]], only_this_process).detect().active


def test_exclusive_app_matched_by_argv0(tmp_path, start_program):
    start_program(tmp_path / "plain-binary-name", argv0="C:\\Games\\Witcher3.exe")  # as Wine shows it
    signal = ExclusiveAppsDetector(["witcher3"], only_this_process).detect()
    assert signal.active and signal.subject == "plain-binary-name"


def test_our_own_processes_never_count(tmp_path, start_program):
    process = start_program(tmp_path / LONG_NAME)
    assert not ExclusiveAppsDetector([LONG_NAME], own_pids=lambda: {os.getpid(), process.pid}).detect().active
    assert not ExclusiveAppsDetector([LONG_NAME]).detect().active  # by default: this process and its children


def test_no_exclusive_apps_configured_is_inactive():
    assert not ExclusiveAppsDetector(["", "  "]).detect().active


def test_names_are_normalized():
    assert normalized_program_name("C:\\Program Files\\Game\\GAME.EXE") == "game"
    assert normalized_program_name("/usr/bin/blender") == "blender"


def test_steam_game_from_its_library_path(tmp_path, start_program):
    start_program(tmp_path / "steamapps" / "common" / "Game" / "game.bin")
    signal = SteamGameDetector(only_this_process, read_environment=False).detect()
    assert signal.active and signal.reason == "Steam game: game.bin"


def test_steam_game_from_its_environment(tmp_path, start_program):
    start_program(tmp_path / "launcher-of-a-game", env={**os.environ, "SteamAppId": "1091500"})
    signal = SteamGameDetector(only_this_process).detect()
    assert signal.active and signal.reason == "Steam game (app 1091500)"


def test_steam_client_and_app_id_zero_are_not_games(tmp_path, start_program):
    start_program(tmp_path / "steam", env={**os.environ, "SteamAppId": "1091500"})
    start_program(tmp_path / "other-tool", env={**os.environ, "SteamAppId": "0"})
    assert not SteamGameDetector(only_this_process).detect().active


def test_proton_paths_name_the_game_not_proton():
    proton_game = ProcessView(1, "/home/u/.steam/steam/steamapps/common/Proton 8.0/dist/bin/wine64",
                              ("wine64", "Z:\\home\\u\\.steam\\steamapps\\common\\Cyberpunk 2077\\bin\\"
                                         "Cyberpunk2077.exe"))
    assert library_game(proton_game) == "Cyberpunk2077.exe"
    assert library_game(ProcessView(2, "/home/u/steamapps/common/SteamLinuxRuntime_sniper/pressure-vessel", ())) is None
