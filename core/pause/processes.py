"""Process-list detectors: Steam games and the user's `pause.exclusive_apps` (psutil, any OS)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import psutil

from core.pause.own_processes import OwnProcesses, own_process_tree
from core.pause.signals import Signal, SignalKind


@dataclass(frozen=True)
class ProcessView:
    """What the detectors read of one process; `exe` and `argv` are empty where access is denied."""

    pid: int
    exe: str
    argv: tuple[str, ...]
    started: float = 0.0  # create time: with pid, exe and argv it tells one program run from any other


def base_name(path: str) -> str:
    """The file name of a POSIX or Windows path (Wine and Proton games carry Windows paths in argv)."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def normalized_program_name(name: str) -> str:
    """Case-insensitive and tolerant of a trailing `.exe`: `Game.EXE`, `game.exe` and `game` are equal."""
    name = base_name(name.strip()).lower()
    return name[:-4] if name.endswith(".exe") else name


def running_processes(own_pids: OwnProcesses = own_process_tree) -> Iterator[ProcessView]:
    """Every process but ours, with its executable path and argv (never the 15-character comm name)."""
    ours = set(own_pids())
    for process in psutil.process_iter(["exe", "cmdline", "create_time"]):
        if process.pid in ours:
            continue
        info = process.info
        yield ProcessView(process.pid, info.get("exe") or "", tuple(info.get("cmdline") or ()),
                          info.get("create_time") or 0.0)


def program_names(process: ProcessView) -> set[str]:
    """Normalized base names of the executable and of argv[0] (a launcher's argv[0] may differ from exe)."""
    names = {normalized_program_name(process.exe)} if process.exe else set()
    if process.argv and process.argv[0]:
        names.add(normalized_program_name(process.argv[0]))
    return names


class ExclusiveAppsDetector:
    """Active while a program from `pause.exclusive_apps` runs, matched by executable or argv[0] base name."""

    name = "exclusive_apps"

    def __init__(self, programs: Iterable[str], own_pids: OwnProcesses = own_process_tree):
        self.programs = frozenset(normalized_program_name(program) for program in programs if program.strip())
        self.own_pids = own_pids

    def detect(self) -> Signal:
        if not self.programs:
            return Signal.clear(self.name)
        found = sorted({display_name(process) for process in running_processes(self.own_pids)
                        if program_names(process) & self.programs})
        if not found:
            return Signal.clear(self.name)
        return Signal(self.name, True, f"exclusive app: {', '.join(found)}", SignalKind.GAME,
                      subject=",".join(found))


def display_name(process: ProcessView) -> str:
    """The name a user recognizes: the executable's base name, else argv[0]'s."""
    return base_name(process.exe) if process.exe else base_name(process.argv[0]) if process.argv else str(process.pid)
