"""Fetching the CUDA build of torch: `meadow runtime install-cuda` in a child, its events shown as progress.

Events: resolved (the files), downloading (bytes of one file), installed, torch_checked, activated, or
error. Cancel stops the child's process group; it removes its staging dir, so nothing is left behind."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QProgressBar, QVBoxLayout, QWidget

from app.resources import ERROR_STYLE
from app.runtime.child import JsonLineChild
from app.units import format_bytes
from core.events import Downloading, Event, Failed, RuntimeActivated, RuntimeInstalled, RuntimeResolved, TorchChecked

BAR_STEPS = 1000  # QProgressBar counts in int32; a CUDA wheel has more bytes than that


class CudaInstallDialog(QDialog):
    activated = Signal(str)  # the variant now active: the node must restart to use it

    def __init__(self, variant: str, env: Mapping[str, str] | None = None, index_url: str | None = None,
                 overrides: Sequence[str] = (), parent: QWidget | None = None):
        super().__init__(parent)
        self.outcome = "running"  # then activated, error, cancelled or failed
        self.files: list[str] = []
        args = ["runtime", "install-cuda", "--variant", variant, *(["--index-url", index_url] if index_url else [])]
        self.child = JsonLineChild([*args, *[part for item in overrides for part in ("--set", item)]], env, self)
        self.child.event_received.connect(self.on_child_event)
        self.child.finished.connect(self.on_child_finished)
        self.setWindowTitle("Fetching the CUDA build of torch")
        self.step = QLabel("Finding the files to fetch...", objectName="step", wordWrap=True)
        self.bar = QProgressBar(minimum=0, maximum=0)
        self.detail = QLabel(objectName="detail", wordWrap=True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.step, self.bar, self.detail, self.buttons):
            layout.addWidget(widget)
        self.resize(520, 180)

    def start(self) -> None:
        self.child.start()
        self.show()

    def reject(self) -> None:
        """Cancel (or Esc) stops a running fetch and waits for it to clean up; afterwards it closes."""
        if self.outcome != "running":
            super().reject()
        elif not self.child.cancelled:
            self.child.cancel()
            self.step.setText("Cancelling...")

    def on_child_event(self, event: Event) -> None:
        if self.outcome != "running":
            return
        if isinstance(event, RuntimeResolved):
            self.files = list(event.files)
            self.step.setText(f"Downloading {len(self.files)} files...")
        elif isinstance(event, Downloading):
            self.on_downloading(event)
        elif isinstance(event, RuntimeInstalled):
            self.step.setText("Checking the CUDA build...")
            self.bar.setRange(0, 0)
            self.detail.setText(f"torch {event.torch_version} in {event.path}")
        elif isinstance(event, TorchChecked):
            self.detail.setText(f"torch {event.torch_version} sees: {', '.join(event.devices) or 'no GPU'}")
        elif isinstance(event, RuntimeActivated):
            self.on_activated(event.variant)
        elif isinstance(event, Failed):
            self._end("error", event.message, error=True)

    def on_downloading(self, event: Downloading) -> None:
        number = f" {self.files.index(event.file) + 1} of {len(self.files)}" if event.file in self.files else ""
        self.step.setText(f"Downloading file{number}: {event.file}")
        if event.total > 0:
            self.bar.setRange(0, BAR_STEPS)
            self.bar.setValue(min(BAR_STEPS, event.done * BAR_STEPS // event.total))
            self.detail.setText(f"{format_bytes(event.done)} of {format_bytes(event.total)}")
        else:
            self.bar.setRange(0, 0)  # the server did not say how big it is
            self.detail.setText(f"{format_bytes(event.done)} so far")

    def on_activated(self, variant: str) -> None:
        self._end("activated", f"Meadow now uses the CUDA build {variant}. Restarting the Meadow node on the GPU...")
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setValue(BAR_STEPS)
        self.activated.emit(variant)

    def on_child_finished(self, code: int, stderr: str) -> None:
        if self.outcome != "running":
            return
        if self.child.cancelled:
            self._end("cancelled", "Cancelled; nothing was installed. Meadow keeps using its current torch.")
        else:
            self._end("failed", f"The fetch stopped unexpectedly (exit code {code}). {stderr[-500:]}", error=True)

    def _end(self, outcome: str, text: str, error: bool = False) -> None:
        self.outcome = outcome
        self.step.setText(text)
        self.step.setStyleSheet(ERROR_STYLE if error else "")
        self.bar.setRange(0, BAR_STEPS)
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)
