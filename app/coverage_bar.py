"""A bar of a model's blocks: each block's colour says how many servers hold it; ours are outlined."""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MISSING = QColor("#e03131")
COVERED = [QColor("#b2f2bb"), QColor("#69db7c"), QColor("#2f9e44")]  # 1, 2, 3+ servers


class CoverageBar(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.servers: list[int] = []  # per block
        self.ours: tuple[int, int] | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(28)

    def set_coverage(self, servers: list[int], ours: tuple[int, int] | None) -> None:
        self.servers, self.ours = list(servers), ours
        covered = sum(1 for count in servers if count)
        self.setToolTip(f"{covered} of {len(servers)} blocks have a server" if servers else "No model in the swarm")
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(360, 28)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self.isEnabled():
            painter.setOpacity(0.35)  # stale: the node does not answer, this is what it said last
        area = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        if not self.servers:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "no coverage known yet")
            return
        width = area.width() / len(self.servers)
        painter.setPen(Qt.PenStyle.NoPen)
        for index, count in enumerate(self.servers):
            color = MISSING if count == 0 else COVERED[min(count, len(COVERED)) - 1]
            painter.fillRect(QRectF(area.left() + index * width, area.top(), max(width - 1, 1), area.height()), color)
        if self.ours is not None:
            start, end = self.ours
            painter.setPen(QPen(self.palette().text().color(), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(area.left() + start * width, area.top() + 1, (end - start) * width - 1,
                                    area.height() - 2))
