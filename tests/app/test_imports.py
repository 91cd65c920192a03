"""The app process never loads torch or hivemind: they belong to the node, a separate process."""
from __future__ import annotations

import subprocess
import sys

CHECK = """
import importlib, json, os, pkgutil, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import app
for module in pkgutil.walk_packages(app.__path__, "app."):
    importlib.import_module(module.name)
import core.cli  # `meadow app` goes through the CLI module
from PySide6.QtWidgets import QApplication
application = QApplication([])
from app.main import build
desktop = build(use_tray=True)
desktop.show_chat(); desktop.show_settings(); desktop.show_join(); desktop.show_invite()
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in ("torch", "hivemind", "transformers"))))
"""


def test_app_modules_do_not_import_torch_or_hivemind():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
