"""Steam games on Linux: a process started from a Steam library (`steamapps/common/...` in its executable or
argv, Proton's Windows paths included) or carrying Steam's SteamGameId/SteamAppId variables."""
from __future__ import annotations

import psutil

from core.pause.own_processes import OwnProcesses, own_process_tree
from core.pause.processes import ProcessView, base_name, normalized_program_name, program_names, running_processes
from core.pause.signals import Signal, SignalKind

# Steam's own client processes run from the Steam folder and may carry its variables; they are not games.
_STEAM_CLIENT_NAMES = frozenset({"steam", "steamwebhelper", "steam.sh", "steamservice", "steamerrorreporter"})
_LIBRARY_MARKER = "steamapps/common/"
_GAME_VARIABLES = ("SteamGameId", "SteamAppId")


# Tools Steam installs into the library next to games; they run for a game but are not its name.
_LIBRARY_TOOLS = ("proton", "steamlinuxruntime", "steamworks shared")


def library_game(process: ProcessView) -> str | None:
    """Base name of the first path in exe or argv that lies in a Steam library (tools skipped), else None."""
    for part in (process.exe, *process.argv):
        path = part.replace("\\", "/")
        start = path.lower().find(_LIBRARY_MARKER)
        if start < 0:
            continue
        folder = path[start + len(_LIBRARY_MARKER):].split("/", 1)[0].lower()
        if not folder.startswith(_LIBRARY_TOOLS):
            return base_name(part)
    return None


def steam_app_id(pid: int) -> str | None:
    """The Steam app id from the process environment where readable (our user's processes only)."""
    try:
        environment = psutil.Process(pid).environ()
    except (psutil.Error, OSError):
        return None
    for variable in _GAME_VARIABLES:
        value = environment.get(variable, "").strip()
        if value and value != "0":
            return value
    return None


class SteamGameDetector:
    """Active while a Steam game runs: reason "Steam game: Cyberpunk2077.exe"."""

    name = "steam"

    def __init__(self, own_pids: OwnProcesses = own_process_tree, read_environment: bool = True):
        self.own_pids = own_pids
        self.read_environment = read_environment
        # A process's environment is fixed at exec, so each program run is read once, not every poll.
        self._app_ids: dict[ProcessView, str | None] = {}

    def detect(self) -> Signal:
        games: set[str] = set()
        app_ids: set[str] = set()
        known, self._app_ids = self._app_ids, {}
        for process in running_processes(self.own_pids):
            if program_names(process) & _STEAM_CLIENT_NAMES:
                continue
            game = library_game(process)
            if game is not None:
                games.add(game)
            elif self.read_environment and (app_id := self._app_id(process, known)) is not None:
                app_ids.add(app_id)
        if games:
            names = sorted(games, key=normalized_program_name)
            return Signal(self.name, True, f"Steam game: {', '.join(names)}", SignalKind.GAME, subject=",".join(names))
        if app_ids:
            ids = sorted(app_ids)
            return Signal(self.name, True, f"Steam game (app {', '.join(ids)})", SignalKind.GAME, subject=",".join(ids))
        return Signal.clear(self.name)

    def _app_id(self, process: ProcessView, known: dict[ProcessView, str | None]) -> str | None:
        app_id = known[process] if process in known else steam_app_id(process.pid)
        self._app_ids[process] = app_id  # only processes still running stay remembered
        return app_id
