"""Where the app finds its bundled files (icons, stylesheet): next to the sources, or in the frozen bundle."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon

# For a label that shows an error; set per widget, so dialogs show it without the app's stylesheet too.
ERROR_STYLE = "color: #c92a2a"


def resources_dir() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)  # PyInstaller unpacks data files here
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def icon(stem: str) -> QIcon:
    """The icon resources/icons/<stem>.svg; a missing file is a packaging bug, so it fails loudly."""
    path = resources_dir() / "icons" / f"{stem}.svg"
    if not path.is_file():
        raise FileNotFoundError(f"Meadow icon {path} is missing from this installation")
    return QIcon(str(path))


def stylesheet() -> str:
    path = resources_dir() / "meadow.qss"
    return path.read_text(encoding="utf-8") if path.is_file() else ""
