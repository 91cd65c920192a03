"""The CUDA offer: its decision from recorded `meadow runtime status --json` outputs, and the real dialogs
driving a real `meadow runtime install-cuda` child against a local wheel index on 127.0.0.1."""
from __future__ import annotations

import os
import threading
from datetime import date, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMenu

from app.api_client import NodeConnection
from app.node_supervisor import NodeState, NodeSupervisor
from app.runtime.decision import describe_no_offer, describe_offer, fetch_would_help, should_offer_at_start
from app.runtime.install_dialog import CudaInstallDialog
from app.runtime.offer import CudaOffer
from core.events import Downloading, Event
from core.runtime.command import status
from tests.core.runtime.cli_runs import environment
from tests.core.runtime.fake_index import fake_cublas, fake_cudart, fake_torch, serve_directory, write_index

# All with PEP 658 metadata, so every wheel is fetched after `resolved` (which numbers the files).
PROJECTS = ("torch", "nvidia-cublas-cu12", "nvidia-cuda-runtime-cu12")
NO_GPU = {"gpus": [], "driver_cuda": None, "needed": "cpu", "installed": [], "active": "cpu", "problem": None,
          "reason": "no NVIDIA driver (NVML Shared Library Not Found); CUDA torch is not needed", "bypass": None,
          "bundled_torch": "2.13.0"}
OLD_DRIVER = {**NO_GPU, "gpus": ["NVIDIA GeForce GTX 1060"], "driver_cuda": "11.4",
              "reason": "the driver supports CUDA 11.4, older than any CUDA build of torch Meadow can fetch; ..."}
GPU = {**NO_GPU, "gpus": ["NVIDIA GeForce RTX 4090"], "driver_cuda": "12.8", "needed": "cu128",
       "reason": "the driver supports CUDA 12.8; the newest fitting build is cu128"}
ACTIVE = {**GPU, "installed": ["cu128"], "active": "cu128"}
BROKEN = {**ACTIVE, "problem": "the torch build cu128 failed to load at an earlier start (ImportError: libcudart)"}
TODAY = date(2026, 5, 1)


@pytest.mark.parametrize(("status", "preference", "offered"), [
    (GPU, "ask", True), (BROKEN, "ask", True), (NO_GPU, "ask", False), (OLD_DRIVER, "ask", False),
    (ACTIVE, "ask", False), ({**GPU, "installed": ["cu128"]}, "ask", True), (GPU, "never", False),
    (GPU, (TODAY + timedelta(days=3)).isoformat(), False), (GPU, TODAY.isoformat(), True), (GPU, "garbled", True)])
def test_the_offer_at_start_follows_the_status_and_the_users_answer(status, preference, offered):
    assert should_offer_at_start(status, preference, TODAY) is offered
    if preference == "ask":
        assert fetch_would_help(status) is offered  # what the menu item offers, whatever the setting says


@pytest.fixture
def runtime_children_done(qtbot):
    yield
    # Reader threads hold their QObjects; let them end so that Qt deletes those on this (the GUI) thread.
    qtbot.waitUntil(lambda: not any(thread.name.startswith("meadow-runtime-") for thread in threading.enumerate()),
                    timeout=15_000)


@pytest.fixture
def index_url(tmp_path):
    """A wheel index whose cublas is 4 MiB served slowly (about 2.5 s), so progress shows several values."""
    write_index(tmp_path / "index", [fake_torch(), fake_cublas(payload=os.urandom(4 << 20)), fake_cudart()],
                with_metadata=PROJECTS)
    with serve_directory(tmp_path / "index", delay_per_chunk=0.04) as base:
        yield f"{base}/simple"


def test_the_answers_are_remembered_and_the_menu_item_says_when_nothing_is_needed(qtbot, tmp_path,
                                                                                runtime_children_done):
    offer = CudaOffer(NodeSupervisor(), NodeConnection(), env=environment(tmp_path))
    offer.consider(GPU, at_start=True)
    qtbot.mouseClick(next(b for b in offer.box.buttons() if b.text() == "Not now"), Qt.MouseButton.LeftButton)
    assert offer.preference() == (date.today() + timedelta(days=7)).isoformat()
    answered = offer.box
    offer.consider(GPU, at_start=True)
    assert offer.box is answered and not answered.isVisible()  # snoozed: no offer at start
    offer.consider(GPU, at_start=False)  # the menu item offers anyway
    assert "several GB" in offer.box.text() and str(tmp_path / "runtime") in offer.box.text()
    qtbot.mouseClick(next(b for b in offer.box.buttons() if b.text() == "Never ask again"), Qt.MouseButton.LeftButton)
    assert offer.preference() == "never"

    answered = offer.box
    offer.action.trigger()  # a real `meadow runtime status --json` child on this machine
    qtbot.waitUntil(lambda: offer.box is not answered and offer._reader is None, timeout=30_000)
    assert offer.box.isVisible()
    here = status()  # what the child reports too: nothing is installed in its fresh data dir
    if here["needed"] == "cpu":  # no NVIDIA GPU (or no usable driver) here
        assert offer.box.text() == describe_no_offer(here)
    else:
        assert offer.box.text() == describe_offer(here, str(tmp_path / "runtime"))


def test_accepting_fetches_with_progress_then_restarts_the_supervised_node(qtbot, tmp_path, monkeypatch, index_url,
                                                                            runtime_children_done):
    # App, node and fetch share one MEADOW_HOME, as in real use; MEADOW_TORCH=cpu keeps the node on the bundled
    # torch (the fake CUDA build cannot run a model) while the restart path is the real one.
    monkeypatch.setenv("MEADOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEADOW_TORCH", "cpu")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    supervisor = NodeSupervisor(extra_args=["--api-port", "0"], serve=False)
    offer = CudaOffer(supervisor, NodeConnection(), index_url=index_url)
    supervisor.start()  # the node starts while the fetch runs, as at the app's start
    first_node = supervisor.process
    steps: list[tuple[str, str]] = []  # each event the dialog handled, and what it said then
    handle = CudaInstallDialog.on_child_event

    def on_child_event(dialog: CudaInstallDialog, event: Event) -> None:
        handle(dialog, event)
        steps.append((event.event, dialog.step.text()))

    monkeypatch.setattr(CudaInstallDialog, "on_child_event", on_child_event)
    offer.consider(GPU, at_start=True)
    qtbot.mouseClick(next(b for b in offer.box.buttons() if b.text() == "Fetch the CUDA build"),
                     Qt.MouseButton.LeftButton)
    dialog = offer.install
    values: list[int] = []
    dialog.bar.valueChanged.connect(values.append)  # no event was handled yet: that happens in the event loop
    try:
        qtbot.waitUntil(lambda: dialog.outcome != "running", timeout=60_000)
        assert dialog.outcome == "activated", dialog.step.text()
        assert "Restarting the Meadow node" in dialog.step.text()
        qtbot.waitUntil(lambda: supervisor.process is not first_node and supervisor.state is NodeState.RUNNING,
                        timeout=90_000)  # the restarted node answers its API
        assert first_node.poll() is not None
        assert len({value for value in values if 0 < value < 1000}) >= 3, values
        downloads = [step for name, step in steps if name == "downloading"]
        assert any(step.startswith("Downloading file 2 of 3: nvidia_cublas") for step in downloads), downloads
        assert [step for name, step in steps if name == "installed"] == ["Checking the CUDA build..."]
        site = tmp_path / "home" / "runtime" / "torch-cu128"
        assert (site / "torch" / "__init__.py").exists()
        assert (site / "nvidia" / "cublas" / "lib" / "libcublas.so.12").exists()
        assert (tmp_path / "home" / "runtime" / "active").read_text().strip() == "cu128"
    finally:
        supervisor.stop_and_wait()


def test_cancel_mid_download_leaves_nothing(qtbot, tmp_path, index_url, runtime_children_done):
    home = tmp_path / "home"
    dialog = CudaInstallDialog("cu128", environment(home), index_url)

    def cancel_mid_download(event: Event) -> None:
        if isinstance(event, Downloading) and "cublas" in event.file and event.done > 0:
            assert any(path.name.startswith(".staging-") for path in (home / "runtime").iterdir())
            dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()

    dialog.child.event_received.connect(cancel_mid_download)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.outcome != "running", timeout=30_000)
    assert dialog.outcome == "cancelled" and "nothing was installed" in dialog.step.text()
    assert sorted(path.name for path in (home / "runtime").iterdir()) == []
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Close) is not None


def test_an_error_event_shows_its_message(qtbot, tmp_path, runtime_children_done):
    write_index(tmp_path / "index", [fake_torch("2.12.0+cu128"), fake_cublas(), fake_cudart()])
    with serve_directory(tmp_path / "index") as base:
        dialog = CudaInstallDialog("cu128", environment(tmp_path / "home"), f"{base}/simple")
        dialog.start()
        qtbot.waitUntil(lambda: dialog.outcome != "running", timeout=30_000)
    assert dialog.outcome == "error"
    assert "has no wheel of torch==2.13.0" in dialog.step.text()
    assert not (tmp_path / "home" / "runtime" / "active").exists()


def test_the_menu_item_is_in_the_tray_and_the_dashboard(qtbot):
    from app.main import build

    desktop = build(use_tray=True)
    try:
        action = desktop.cuda_offer.action
        assert action.text() == "Use my NVIDIA GPU..."
        assert action in desktop.tray.menu.actions()
        menu = desktop.dashboard.menuBar().actions()[0].menu()
        assert isinstance(menu, QMenu) and action in menu.actions()
    finally:
        desktop.close()


def test_an_answer_is_stored_through_the_node_once_it_answers(qtbot, node):
    api = NodeConnection()
    offer = CudaOffer(NodeSupervisor(), api)
    try:
        offer.remember("never")  # the node has not answered yet: the answer waits, and counts already
        assert offer.unsent == "never" and offer.preference() == "never"
        api.set_endpoint(node.api, node.token)
        qtbot.waitUntil(lambda: offer.unsent is None, timeout=10_000)
        assert node.http.get("/api/settings").json()["values"]["app.cuda_offer"] == "never"
    finally:
        node.http.patch("/api/settings", json={"app.cuda_offer": "ask"}).raise_for_status()
