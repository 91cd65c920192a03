"""`meadow app`: the desktop app's entry point and its one composition root (`build`)."""
from __future__ import annotations

import argparse
import itertools
import logging
import os
import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from app.actions import AppActions
from app.api_client import NodeConnection
from app.chat.store import ConversationStore
from app.desktop import DesktopApp
from app.node_events import NodeEvents
from app.node_supervisor import NodeSupervisor, chosen_swarm
from app.pause_reporter import PauseReporter, platform_detectors
from app.resources import icon, stylesheet
from app.runtime.offer import CudaOffer
from app.single_instance import SingleInstance
from app.status_model import StatusModel
from app.tray import Tray
from core.errors import UserFacingError
from core.logging_setup import configure_logging
from core.pause.signals import Detector

logger = logging.getLogger(__name__)


def build(node_args: list[str] | None = None, use_tray: bool | None = None,
          detectors: list[Detector] | None = None) -> DesktopApp:
    """Wire the app's parts; `use_tray` None asks Qt whether a tray host runs; `detectors` None means this
    platform's (app.pause_reporter)."""
    api = NodeConnection()
    supervisor = NodeSupervisor(extra_args=node_args)
    events = NodeEvents(api)
    status = StatusModel(events)
    actions = AppActions(api, status)
    if use_tray is None:
        use_tray = QSystemTrayIcon.isSystemTrayAvailable()
    tray = Tray(actions, status) if use_tray else None
    reporter = PauseReporter(api, platform_detectors() if detectors is None else detectors)
    overrides = [value for flag, value in itertools.pairwise(supervisor.extra_args) if flag == "--set"]
    cuda_offer = CudaOffer(supervisor, api, overrides=overrides)  # `meadow app --set runtime.torch_index_url=...` too
    return DesktopApp(api, supervisor, events, status, actions, ConversationStore(), tray, reporter, cuda_offer)


def run(args: argparse.Namespace) -> int:
    """Start (or show) the app; returns the exit code."""
    configure_logging("app", verbose=getattr(args, "verbose", False), hivemind=False)  # the app never loads hivemind
    if not has_display():
        print("meadow app: no display found (DISPLAY and WAYLAND_DISPLAY are unset). Without one, run "
              "`meadow node --new-swarm --serve` and chat with `meadow chat`.", file=sys.stderr)
        return 2
    application = QApplication(sys.argv[:1])
    application.setApplicationName("Meadow")
    application.setWindowIcon(icon("meadow"))
    application.setStyleSheet(stylesheet())
    instance = SingleInstance()
    if instance.notify_running():
        logger.info("Meadow is already running; asked it to show its window")
        return 0
    instance.listen()
    try:
        # `meadow app --set KEY=VALUE` passes the overrides on to the node it starts.
        desktop = build([part for item in getattr(args, "overrides", []) for part in ("--set", item)])
        swarm, new_swarm = chosen_swarm()
    except UserFacingError as error:
        QMessageBox.critical(None, "Meadow", str(error))
        return 2
    instance.activation_requested.connect(desktop.show_dashboard)
    application.setQuitOnLastWindowClosed(desktop.tray is None)
    desktop.present(hidden=getattr(args, "hidden", False))
    desktop.supervisor.attach_or_start(swarm, new_swarm)
    desktop.cuda_offer.check_at_start()  # offers the CUDA build of torch on an NVIDIA GPU, unless declined
    quit_on_signals(application)
    code = application.exec()
    desktop.supervisor.stop_and_wait()
    return code


def has_display() -> bool:
    """False on a Linux machine without X11 or Wayland, where Qt would abort (unless a platform is forced)."""
    names = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    return not sys.platform.startswith("linux") or any(os.environ.get(name) for name in names)


def quit_on_signals(application: QApplication) -> None:
    """Ctrl+C and SIGTERM quit cleanly (the node is stopped); a timer lets Python run its signal handlers,
    which it cannot do while Qt's event loop holds the main thread."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: application.quit())
    timer = QTimer(application, interval=300)
    timer.timeout.connect(lambda: None)
    timer.start()


def main(argv: list[str] | None = None) -> None:
    """`python -m app`: the same as `meadow app`."""
    parser = argparse.ArgumentParser(prog="meadow app")
    add_arguments(parser)
    sys.exit(run(parser.parse_args(argv)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hidden", action="store_true", help="start in the tray without opening a window")
    parser.add_argument("-v", "--verbose", action="store_true", help="also log to stderr")
