"""The details of the selected dataset: its numbers at once, a decoded token sample when loaded."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QUrl
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QGroupBox, QTextBrowser, QToolTip, QVBoxLayout

from gptstudio.core.dataset_sample import DatasetSample, dataset_sample
from gptstudio.gui.dataset.details_html import stats_html
from gptstudio.gui.dataset.import_report import ImportReportDialog
from gptstudio.gui.jobs import JobRunner


class DatasetDetails(QGroupBox):
    """Methods in: show_dataset(entry | None), forget(), open_report(); read: shown(), is_loading(). No signals:
    it only shows (the import report in its own window)."""

    def __init__(self, parent=None):
        super().__init__("Details", parent)
        self._entry: dict | None = None
        self._samples: dict[str, DatasetSample] = {}  # loaded token samples by dataset name
        self._loader = JobRunner(self)
        self._loader.succeeded.connect(self._on_sample_loaded)
        self._loader.failed.connect(self._on_sample_failed)
        self.stats_view = QTextBrowser(objectName="datasetStatsView")
        self.stats_view.setOpenLinks(False)
        self.stats_view.setOpenExternalLinks(False)
        self.stats_view.highlighted.connect(self._on_token_hovered)
        self.stats_view.anchorClicked.connect(self._on_link)
        self.stats_view.setPlaceholderText("Select a dataset to see its statistics and a sample of its tokens.")
        QVBoxLayout(self).addWidget(self.stats_view)

    def show_dataset(self, entry: dict | None) -> None:
        """Show a list_datasets() entry: its numbers now, its token sample once loaded in the background."""
        self._entry = entry
        if entry is None:
            self._loader.cancel()
            self.stats_view.clear()
            return
        name = entry["name"]
        self._render()
        if not entry.get("error") and name not in self._samples:
            self._loader.start(dataset_sample, Path(entry["path"]), name)

    def forget(self) -> None:
        """Drop the loaded samples (the datasets were read again: one may have been replaced)."""
        self._samples.clear()

    def shown(self) -> str | None:
        return self._entry["name"] if self._entry else None

    def is_loading(self) -> bool:
        return self._loader.is_running()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        self._loader.shutdown(timeout_ms)

    def open_report(self) -> ImportReportDialog | None:
        """The import report of the dataset on show, in a window (None when there is none)."""
        if self._entry is None or self._entry.get("error"):
            return None
        dialog = ImportReportDialog(self._entry["name"], self._entry, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # ---- internals

    def _render(self) -> None:
        if self._entry is not None:
            self.stats_view.setHtml(stats_html(self._entry, self._samples.get(self._entry["name"])))

    def _on_sample_loaded(self, sample: DatasetSample) -> None:
        self._samples[sample.name] = sample
        if self.shown() == sample.name:
            self._render()

    def _on_sample_failed(self, message: str) -> None:
        self.stats_view.append(f"<p><b>Could not read a token sample:</b> {html.escape(message)}</p>")

    def _on_link(self, url: QUrl) -> None:
        if url.toString() == "report:":
            self.open_report()

    def _on_token_hovered(self, url: QUrl) -> None:
        text = url.toString()
        if text.startswith("tok:"):
            QToolTip.showText(QCursor.pos(), f"token id {text[4:]}", self.stats_view)
        else:
            QToolTip.hideText()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._render()  # light/dark switch: the HTML follows the new palette
