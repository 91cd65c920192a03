"""Start Meadow at login: XDG autostart on Linux, the HKCU Run key on Windows, a LaunchAgent on macOS."""
from __future__ import annotations

import contextlib
import logging
import os
import plistlib
import shlex
import sys
from pathlib import Path

from core.launcher import child_command

logger = logging.getLogger(__name__)

NAME = "meadow"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
AGENT_LABEL = "org.meadow.app"


def app_command() -> list[str]:
    """The argv that starts the app hidden in the tray (from source: python -m core app)."""
    return child_command("app", "--hidden")


def set_start_at_login(enabled: bool) -> None:
    """Install or remove this platform's login item."""
    if sys.platform == "win32":
        _set_windows(enabled)
    elif sys.platform == "darwin":
        _set_file(launch_agent_path(), launch_agent(app_command()) if enabled else None)
    else:
        _set_file(xdg_autostart_path(), desktop_entry(app_command()) if enabled else None)


def xdg_autostart_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / f"{NAME}.desktop"


def desktop_entry(command: list[str]) -> bytes:
    exec_line = " ".join(shlex.quote(part) for part in command)
    return ("[Desktop Entry]\nType=Application\nName=Meadow\nComment=Share your GPU with a Meadow swarm\n"
            f"Exec={exec_line}\nIcon=meadow\nTerminal=false\nX-GNOME-Autostart-enabled=true\n").encode()


def launch_agent_path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"


def launch_agent(command: list[str]) -> bytes:
    return plistlib.dumps({"Label": AGENT_LABEL, "ProgramArguments": command, "RunAtLoad": True,
                           "ProcessType": "Interactive"})


def _set_file(path: Path, content: bytes | None) -> None:
    if content is None:
        path.unlink(missing_ok=True)
        logger.info("Removed login item %s", path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    logger.info("Wrote login item %s", path)


def _set_windows(enabled: bool) -> None:
    if sys.platform != "win32":
        raise OSError("the Run registry key exists only on Windows")
    import winreg

    value = " ".join(f'"{part}"' for part in app_command())
    with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
        if enabled:
            winreg.SetValueEx(key, "Meadow", 0, winreg.REG_SZ, value)
        else:
            with contextlib.suppress(FileNotFoundError):
                winreg.DeleteValue(key, "Meadow")
