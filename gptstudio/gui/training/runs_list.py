"""RunsList: every run of the workspace (the CLI's too), with Refresh / Reveal folder / Export… / Delete….

The runs are listed off the GUI thread too (`refresh`, then `refreshed`; hundreds of run folders take
a while to read), and shown in one batch. Selecting runs reads their curves off the GUI thread and emits
`curves_read(full, curves, overlays)`: the first selected run to draw in full (unless one is training),
the others to overlay. The run
that is training (`set_active_run`) is never deleted, and its row follows its progress
(`show_progress`) without re-reading the runs folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from gptstudio.core.curves import RunCurves, read_runs_curves
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.runs import list_runs
from gptstudio.core.workspace import Workspace
from gptstudio.gui.jobs import JobRunner
from gptstudio.gui.training.run_controls import make_button

if TYPE_CHECKING:
    from gptstudio.gui.export_dialog import ExportDialog

RESUMABLE = {"stopped", "failed"}  # list_runs reports a run whose process died as "stopped"
COLUMNS = ["Run", "Status", "Iterations", "Best val", "Best bpb", "Dataset", "Model"]
BPB_COLUMN = COLUMNS.index("Best bpb")
MODEL_COLUMN = COLUMNS.index("Model")  # chat (answers) or base (continues text)


class RunsList(QGroupBox):
    past_run_selected = Signal(str)  # a run to draw in full: its curves follow in curves_read
    curves_read = Signal(object, object, dict)  # full run's name and RunCurves (or None, None), overlays
    deleted = Signal(list)  # names of the runs just deleted
    refreshed = Signal()  # the runs were listed again: names, rows and resume_candidate are current
    message = Signal(str, str)  # level, text: for the training log

    def __init__(self, workspace: Workspace, parent=None):
        super().__init__("Runs", parent)
        self.workspace = workspace
        self.active_run: str | None = None
        self.shown_run: str | None = None  # the run drawn in full
        self._runs: list[dict] = []
        self._reading: tuple[str | None, list[str]] = (None, [])  # (full, overlaid) runs being read
        self._reader = JobRunner(self)
        self._reader.succeeded.connect(self._on_curves_read)
        self._reader.failed.connect(lambda text: self.message.emit("warning", f"Cannot read the curves: {text}"))
        self._lister = JobRunner(self)
        self._lister.succeeded.connect(self._show_runs)
        self._lister.failed.connect(self._on_list_failed)
        self.runsList = QTreeWidget(objectName="runsList")
        self.runsList.setHeaderLabels(COLUMNS)
        self.runsList.setRootIsDecorated(False)
        self.runsList.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.runsList.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.runsList.setToolTip(
            "Every run in this workspace (also those started from the command line). "
            "Select several to compare their loss curves."
        )
        self.runsList.itemSelectionChanged.connect(self._on_selection_changed)
        self.refreshRunsButton = make_button("refreshRunsButton", "Refresh", "Read the runs folder again.")
        self.revealRunButton = make_button("revealRunButton", "Reveal folder", "Open the run's folder.")
        self.exportRunButton = make_button(
            "exportRunButton", "Export…", "Export the selected run's model as a Hugging Face folder or safetensors."
        )
        self.deleteRunButton = make_button(
            "deleteRunButton", "Delete…", "Delete the selected runs and their checkpoints."
        )
        self.refreshRunsButton.clicked.connect(self.refresh)
        self.revealRunButton.clicked.connect(self.reveal_selected)
        self.exportRunButton.clicked.connect(self.export_selected)
        self.deleteRunButton.clicked.connect(self.delete_selected)
        layout = QVBoxLayout(self)
        layout.addWidget(self.runsList)
        row = QHBoxLayout()
        for b in (self.refreshRunsButton, self.revealRunButton, self.exportRunButton, self.deleteRunButton):
            row.addWidget(b)
        row.addStretch(1)
        layout.addLayout(row)

    # ----- dialogs (tests replace these)

    def confirm(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes

    def reveal_path(self, path: Path) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    # ----- reading

    def run(self, name: str) -> dict:
        """What list_runs says of a run (status.json plus name, path, checkpoints); {} if unknown."""
        return next((r for r in self._runs if r["name"] == name), {})

    def selected(self) -> list[str]:
        """Selected run names in list order (newest first)."""
        items = (self.runsList.topLevelItem(i) for i in range(self.runsList.topLevelItemCount()))
        return [it.data(0, Qt.ItemDataRole.UserRole) for it in items if it.isSelected()]

    def names(self) -> list[str]:
        return [r["name"] for r in self._runs]

    def row(self, name: str) -> list[str]:
        """The texts of a run's row, column by column (empty if not listed)."""
        items = self.runsList.findItems(name, Qt.MatchFlag.MatchExactly, 0)
        return [items[0].text(c) for c in range(len(COLUMNS))] if items else []

    def resume_candidate(self) -> str | None:
        """The selected stopped run; with nothing selected, the most recently stopped one."""
        selected = set(self.selected())
        candidates = [  # list_runs gives the newest first
            r
            for r in self._runs
            if r.get("checkpoints") and r.get("status") in RESUMABLE and (not selected or r["name"] in selected)
        ]
        return candidates[0]["name"] if candidates else None

    # ----- changing

    def refresh(self) -> None:
        """Re-read every run of the workspace in the background, keeping the selection; `refreshed`
        follows once the list shows them."""
        self._lister.start(list_runs, self.workspace.home)

    def is_listing(self) -> bool:
        """True while the runs are being read again."""
        return self._lister.is_running()

    def _on_list_failed(self, text: str) -> None:
        self.message.emit("error", f"Cannot list the runs: {text}")
        self._show_runs([])

    def _show_runs(self, runs: list[dict]) -> None:
        """Show these runs (list_runs' dicts), keeping the selection: the rows are made first and
        added in one go, as one insertion (a row at a time would lay the list out each time)."""
        self._runs = runs
        selected = set(self.selected())
        self.runsList.blockSignals(True)
        self.runsList.clear()
        items = []
        for run in self._runs:
            best, iters, max_iters = run.get("best_val_loss"), run.get("iter"), run.get("max_iters")
            bpb = run.get("best_val_bpb")
            item = QTreeWidgetItem(
                [
                    run["name"],
                    str(run.get("status", "?")),
                    "" if iters is None else (f"{iters} / {max_iters}" if max_iters else str(iters)),
                    "" if best is None else f"{best:.4f}",
                    "" if bpb is None else f"{bpb:.4f}",
                    str(run.get("dataset") or ""),
                    "chat" if run.get("chat") else "base",  # a chat model answers; a base model continues text
                ]
            )
            item.setToolTip(
                BPB_COLUMN,
                f"Best val loss in bits per byte of text ({run.get('tokenizer') or 'unknown'} tokenizer): "
                "unlike the loss per token, it compares runs with different tokenizers.",
            )
            item.setData(0, Qt.ItemDataRole.UserRole, run["name"])
            item.setToolTip(0, f"{run['name']}\n{run.get('path', '')}")
            items.append(item)
        self.runsList.addTopLevelItems(items)
        for item in items:
            if item.data(0, Qt.ItemDataRole.UserRole) in selected:
                item.setSelected(True)
        for col in range(1, len(COLUMNS)):
            self.runsList.resizeColumnToContents(col)
        self.runsList.blockSignals(False)
        self._update_buttons()
        self.refreshed.emit()

    def select(self, names: list[str]) -> None:
        """Select these runs (as one change, as a click would)."""
        self.runsList.blockSignals(True)
        for i in range(self.runsList.topLevelItemCount()):
            item = self.runsList.topLevelItem(i)
            item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) in names)
        self.runsList.blockSignals(False)
        self._on_selection_changed()

    def set_active_run(self, name: str | None) -> None:
        """The run training now (None: none); it is the one drawn in full."""
        self.active_run = name
        if name is not None:
            self.shown_run = name
        self._update_buttons()

    def is_reading(self) -> bool:
        """True while the curves of the selected runs are being read."""
        return self._reader.is_running()

    def shutdown(self, timeout_ms: int = 5_000) -> bool:
        return all([runner.shutdown(timeout_ms) for runner in (self._lister, self._reader)])

    def show_progress(
        self, name: str, it: int, max_iters: int, best_val: float | None, best_bpb: float | None = None
    ) -> None:
        """Keep a training run's row current without re-reading the runs folder."""
        for item in self.runsList.findItems(name, Qt.MatchFlag.MatchExactly, 0):
            item.setText(1, "running")
            item.setText(2, f"{it} / {max_iters}")
            if best_val is not None:
                item.setText(3, f"{best_val:.4f}")
            if best_bpb is not None:
                item.setText(BPB_COLUMN, f"{best_bpb:.4f}")
            self.runsList.resizeColumnToContents(2)

    def tokenizers(self, names: list[str]) -> set[str]:
        """The tokenizers of these runs, as far as their status.json says."""
        return {t for t in (self.run(n).get("tokenizer") for n in names) if t}

    @Slot()
    def delete_selected(self) -> None:
        names = [n for n in self.selected() if n != self.active_run]  # never the one training
        if not names:
            return
        if not self.confirm("Delete runs", f"Delete {', '.join(names)} with all checkpoints? This cannot be undone."):
            return
        for name in names:
            try:
                self.workspace.delete(self.workspace.run_dir(name))
                self.message.emit("info", f"Deleted run '{name}'.")
            except (OSError, GPTStudioError) as e:
                self.message.emit("error", f"Could not delete run '{name}': {e}")
        if self.shown_run in names:
            self.shown_run = None
        self._show_runs([r for r in self._runs if r["name"] not in names])  # at once; then read them again
        self.refresh()
        self.deleted.emit(names)

    @Slot()
    def export_selected(self) -> ExportDialog | None:
        """Open the export dialog for the one selected run (non-modal; returned for tests)."""
        from gptstudio.gui.export_dialog import ExportDialog

        names = self.selected()
        if len(names) != 1:
            return None
        dialog = ExportDialog(names[0], self.workspace.home, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    @Slot()
    def reveal_selected(self) -> None:
        names = self.selected() or ([self.active_run] if self.active_run else [])
        if names:
            self.reveal_path(self.workspace.run_dir(names[0]))

    # -----

    @Slot()
    def _on_selection_changed(self) -> None:
        """The first selected run is drawn in full (unless one is training), the others overlaid."""
        self._update_buttons()
        names, full = self.selected(), None
        if self.active_run is not None:
            overlays = [n for n in names if n != self.active_run]
        else:
            if names and names[0] != self.shown_run:
                full = names[0]
                self.past_run_selected.emit(full)
            overlays = names[1:]
        self._reading = (full, overlays)
        if full or overlays:
            self._reader.start(read_runs_curves, [self.workspace.run_dir(n) for n in [full, *overlays] if n])
        else:
            self._reader.cancel()
            self.curves_read.emit(None, None, {})

    @Slot(object)
    def _on_curves_read(self, curves: list[RunCurves]) -> None:
        full, overlays = self._reading
        shown = curves.pop(0) if full is not None else None
        if self.active_run is not None:  # a run started meanwhile: it keeps the plots
            full = shown = None
        if full is not None:
            self.shown_run = full
        self.curves_read.emit(full, shown, dict(zip(overlays, curves)))

    def _update_buttons(self) -> None:
        selected = self.selected()
        self.exportRunButton.setEnabled(len(selected) == 1)
        self.deleteRunButton.setEnabled(any(n != self.active_run for n in selected))
        self.revealRunButton.setEnabled(bool(selected) or self.active_run is not None)
