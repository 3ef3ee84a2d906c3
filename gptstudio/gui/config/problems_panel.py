"""What stands between the settings and a training run: 'Ready to train', or every problem listed."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtWidgets import QGroupBox, QLabel, QListWidget, QListWidgetItem, QSizePolicy, QStyle, QVBoxLayout

from gptstudio.core.errors import Problem

MAX_LIST_HEIGHT = 170  # a few problems' worth; more scroll


class ProblemsPanel(QGroupBox):
    """Methods in: show_problems(problems), show_file_status(text); read: messages(), file_status().
    No signals: it only shows."""

    def __init__(self, parent=None):
        super().__init__("Checks", parent)
        self.status_label = QLabel(objectName="configStatusLabel", wordWrap=True)
        self.problem_list = QListWidget(objectName="configErrors", wordWrap=True)
        self.problem_list.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.file_label = QLabel(objectName="fileStatusLabel", wordWrap=True)
        self.file_label.hide()
        col = QVBoxLayout(self)
        col.addWidget(self.status_label)
        col.addWidget(self.problem_list)
        col.addWidget(self.file_label)

    def show_problems(self, problems: list[Problem]) -> None:
        self.problem_list.clear()
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for p in problems:
            self.problem_list.addItem(QListWidgetItem(icon, str(p)))
        self.problem_list.setVisible(bool(problems))
        if problems:
            n = len(problems)
            self.status_label.setText(
                f"<b style='color:#c62828'>{n} problem{'s' if n > 1 else ''} to fix before training:</b>"
            )
        else:
            self.status_label.setText("<b style='color:#2e7d32'>✓ Ready to train.</b>")
        self._fit_list()

    def show_file_status(self, text: str) -> None:
        """A line about the last file opened, saved or imported."""
        self.file_label.setText(text)
        self.file_label.setVisible(bool(text))

    def messages(self) -> list[str]:
        return [self.problem_list.item(i).text() for i in range(self.problem_list.count())]

    def file_status(self) -> str:
        return self.file_label.text() if not self.file_label.isHidden() else ""

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self._fit_list)  # item heights need the list's real width

    def _fit_list(self) -> None:
        """As tall as its problems, up to a few lines (then it scrolls)."""
        errors = self.problem_list
        icon = errors.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        text_width = errors.viewport().width() - icon - 16
        metrics = errors.fontMetrics()
        height = 0
        for i in range(errors.count()):
            item = errors.item(i)
            text = metrics.boundingRect(QRect(0, 0, text_width, 10_000), Qt.TextFlag.TextWordWrap, item.text())
            item.setSizeHint(QSize(text_width, max(text.height(), icon) + 6))
            height += item.sizeHint().height()
        errors.setFixedHeight(min(max(height, 24) + 2 * errors.frameWidth() + 2, MAX_LIST_HEIGHT))
