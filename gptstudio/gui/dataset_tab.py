"""The Dataset tab: drop text files, tokenize them into a dataset, browse the workspace's datasets.

Thin by design: reading, sniffing and tokenizing text live in `gptstudio.core.dataset`; this module
only turns user actions into calls of that API (long ones in a `JobWorker` thread) and shows results.

Public API (used by the main window and tests):
    signals  sig_dataset_selected(str), sig_datasets_changed(), sig_show_tab(str), sig_status(str)
    methods  add_inputs(paths), clear_inputs(), open_file_dialog(), open_folder_dialog(),
             use_demo_text(), prepare(), cancel_prepare(), is_preparing(), refresh(),
             select_dataset(name), selected_dataset(), delete_selected(), reveal_selected(), shutdown()
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QRectF, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QCursor, QDesktopServices, QFontDatabase, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyle,
    QTextBrowser,
    QToolTip,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gptstudio.core import dataset as ds
from gptstudio.core.errors import Cancelled, GPTStudioError
from gptstudio.core.tokenizer import tokenizer_from_meta
from gptstudio.core.units import format_bytes, format_duration
from gptstudio.core.workspace import Workspace
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.workers import JobWorker, start_worker

DEMO_NAME = "shakespeare_demo"
SAMPLE_TOKENS = 200
TOKENIZER_HELP = {
    "char": "One token per character. Small vocabulary, best for a first model on one text.",
    "gpt2": "GPT-2's byte-pair encoding (50,257 tokens): about 4 characters per token; "
    "needed to fine-tune GPT-2 weights.",
}
# Token view backgrounds: light pastels with black text, readable on light and dark themes alike.
TOKEN_COLOURS = ("#fde68a", "#a7f3d0", "#bfdbfe", "#fbcfe8", "#ddd6fe", "#fed7aa")


# ---- plain helpers (no widgets) -------------------------------------------------------------------


def progress_text(done: int, total: int, elapsed: float, phase: str = "") -> str:
    """'Tokenizing · 12.0 / 30.0 MB · ETA 0:07' (the ETA assumes the rate so far holds)."""
    mb = 1024 * 1024
    parts = [phase.capitalize()] if phase else []
    parts.append(f"{done / mb:.1f} / {total / mb:.1f} MB")
    if 0 < done < total and elapsed >= 0.5:
        parts.append(f"ETA {format_duration(elapsed * (total - done) / done)}")
    elif done < total:
        parts.append("ETA estimating…")
    return " · ".join(parts)


def visible_char(c: str) -> str:
    """Whitespace and control characters drawn as visible symbols (for vocabularies and tokens)."""
    return {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}.get(c, c if c.isprintable() else f"\\x{ord(c):02x}")


def load_dataset_details(path: Path, name: str, *, report=None, cancel=None) -> dict:
    """Meta plus a decoded token sample of a dataset; run in a worker (the GPT-2 BPE loads slowly).
    A dataset that cannot be read gives {"name", "error"} rather than raising."""
    try:
        meta = ds.load_dataset_meta(path)
        split = "val" if meta.get("val_tokens") else "train"
        ids = ds.dataset_tokens(path, split=split, start=0, count=SAMPLE_TOKENS)
        tok = tokenizer_from_meta(meta)
        tokens = [(int(i), tok.token_text(int(i))) for i in ids]
    except GPTStudioError as e:
        return {"name": name, "error": str(e)}
    return {"name": name, "meta": meta, "split": split, "tokens": tokens}


def check_inputs(paths: list[Path], *, report=None, cancel=None) -> dict:
    """Expand dropped folders and check every file (a worker job: reading heads of many files).
    Returns {"paths", "accepted": [TextFileInfo], "refused": [message]}."""
    refused: list[str] = []
    files: list[Path] = []
    for path in paths:  # one at a time, so one bad folder does not reject the good files
        try:
            files += ds.collect_input_files([path])
        except GPTStudioError as e:
            refused.append(f"Not added: {e}")
    accepted = []
    for path in files:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        info = ds.inspect_text_file(path)  # never raises: a problem comes back as `reason`
        if info.is_text:
            accepted.append(info)
        else:
            refused.append(f"Not added: {info.reason}")
    return {"paths": paths, "accepted": accepted, "refused": refused}


def token_view_html(tokens: list[tuple[int, str]]) -> str:
    """Tokens as alternating coloured spans; each is a `tok:ID` link so hovering shows its id."""
    spans = []
    for n, (tid, text) in enumerate(tokens):
        shown = html.escape(text).replace("\n", "↵<br>")  # newlines visible, and still line breaks
        colour = TOKEN_COLOURS[n % len(TOKEN_COLOURS)]
        spans.append(
            f'<a href="tok:{tid}" style="background-color:{colour}; color:#000000; text-decoration:none">{shown}</a>'
        )
    return f'<p style="white-space:pre-wrap; font-family:monospace">{"".join(spans)}</p>'


def stats_html(info: dict, details: dict | None) -> str:
    """The stats panel for one dataset (from list_datasets' entry and load_dataset_details)."""
    name = html.escape(info.get("name", "?"))
    if info.get("error"):
        return (
            f"<h3>{name}</h3><p><b>This dataset cannot be used:</b> {html.escape(info['error'])}</p>"
            "<p>Delete it, or prepare it again from its text.</p>"
        )
    meta = details.get("meta") or info if details else info
    train, val = int(meta.get("train_tokens", 0)), int(meta.get("val_tokens", 0))
    chars = int(meta.get("total_chars", 0))
    rows = [
        ("Tokenizer", meta.get("tokenizer", "?")),
        ("Vocabulary", f"{int(meta.get('vocab_size', 0)):,} tokens"),
        ("Characters", f"{chars:,} ({format_bytes(int(meta.get('total_bytes', 0)))} of text)"),
        ("Tokens", f"{train + val:,} = {train:,} train + {val:,} validation"),
    ]
    if meta.get("tokenizer") != "char" and train + val:
        rows.append(("Compression", f"{chars / (train + val):.2f} characters per token"))
    if "size_on_disk" in info:
        rows.append(("Size on disk", format_bytes(info["size_on_disk"])))
    if meta.get("created"):
        rows.append(("Created", str(meta["created"]).replace("T", " ")[:19]))
    if meta.get("imported_from"):
        rows.append(("Imported from", meta["imported_from"]))
    table = "".join(
        f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    parts = [f"<h3>{name}</h3><table cellspacing='2'>{table}</table>"]
    if details is None:
        parts.append("<p><i>Loading a token sample…</i></p>")
    elif details.get("error"):
        parts.append(f"<p><b>Could not read a token sample:</b> {html.escape(details['error'])}</p>")
    elif details["tokens"]:
        which = "validation" if details["split"] == "val" else "training"
        parts.append(
            f"<h4>Token sample (first {len(details['tokens'])} {which} tokens; "
            "hover a token for its id)</h4>" + token_view_html(details["tokens"])
        )
    if meta.get("chars"):
        vocab = " ".join(html.escape(visible_char(c)) for c in meta["chars"])
        parts.append(
            f"<h4>Character vocabulary ({len(meta['chars'])})</h4><p style='font-family:monospace'>{vocab}</p>"
        )
    sources = meta.get("sources") or []
    if sources:
        items = "".join(
            f"<li>{html.escape(str(s.get('path', '?')))} ({format_bytes(int(s.get('size', 0)))})</li>"
            for s in sources[:20]
        )
        more = f"<li>… and {len(sources) - 20} more</li>" if len(sources) > 20 else ""
        parts.append(f"<h4>Sources</h4><ul>{items}{more}</ul>")
    return "".join(parts)


# ---- widgets --------------------------------------------------------------------------------------


class DropArea(QFrame):
    """A dashed box that takes dropped files/folders and opens a file dialog when clicked."""

    sig_paths_dropped = Signal(list)  # list[Path] of local files and folders
    sig_remote_dropped = Signal()  # URLs that are not local files (e.g. from a browser)
    sig_clicked = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("datasetDropArea")
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setMinimumHeight(110)
        self.setToolTip("Drop .txt files or folders here, or click to choose files (Ctrl+O).")
        self.setAccessibleName("Drop text files here or click to choose")
        icon = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton).pixmap(32, 32))
        text = QLabel(
            "<b>Drop text files or a folder here</b><br>or click to choose files",
            alignment=Qt.AlignmentFlag.AlignCenter,
        )
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(icon)
        layout.addWidget(text)
        layout.addStretch(1)
        self._set_active(False)

    def _set_active(self, active: bool) -> None:
        self._active = active
        self.update()

    def paintEvent(self, event) -> None:
        # painted from the palette at paint time, so a light/dark switch needs nothing else
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        role = QPalette.ColorRole.Highlight if self._active or self.hasFocus() else QPalette.ColorRole.Mid
        painter.setPen(QPen(self.palette().color(role), 2, Qt.PenStyle.DashLine))
        painter.setBrush(self.palette().color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(1, 1, -1, -1), 10, 10)

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.update()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
            self._set_active(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._set_active(False)

    def dropEvent(self, event) -> None:
        self._set_active(False)
        urls = event.mimeData().urls()
        paths = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
        event.acceptProposedAction()
        if len(paths) < len(urls):
            self.sig_remote_dropped.emit()
        if paths:
            self.sig_paths_dropped.emit(paths)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.sig_clicked.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.sig_clicked.emit()
        else:
            super().keyPressEvent(event)


class _SortItem(QTreeWidgetItem):
    """Sorts numeric columns by the raw number stored in UserRole, not by the formatted text."""

    def __lt__(self, other) -> bool:
        col = self.treeWidget().sortColumn() if self.treeWidget() else 0
        a, b = self.data(col, Qt.ItemDataRole.UserRole), other.data(col, Qt.ItemDataRole.UserRole)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return self.text(col).lower() < other.text(col).lower()


LIST_COLUMNS = ("Name", "Tokenizer", "Vocab", "Train tokens", "Val tokens", "Size")


class DatasetTab(QWidget):
    sig_dataset_selected = Signal(str)
    """A usable dataset was selected: the Config tab makes it its dataset."""
    sig_datasets_changed = Signal()
    """A dataset was prepared or deleted: other tabs refresh their lists."""
    sig_show_tab = Signal(str)
    """The guided start asks the window to show another tab ("Config", "Training", "Playground")."""
    sig_status = Signal(str)
    """A short message for the window's status bar."""

    def __init__(self, workspace: Workspace, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.setObjectName("datasetTab")
        self.workspace, self.settings = workspace, settings
        self._inputs: list = []  # TextFileInfo of the accepted input files
        self._name_edited = False  # the user typed a name: stop suggesting one
        self._prepare_worker: JobWorker | None = None
        self._prepare_started = 0.0
        self._prepare_name = ""
        self._entries: dict[str, dict] = {}  # list_datasets() entries by name
        self._details: dict[str, dict] = {}  # loaded details by name (cleared on refresh)
        self._error_box: QMessageBox | None = None
        self._checks = 0  # drop checks running in workers
        self._build()
        self._restore_choices()
        self.refresh()

    # ---- layout -----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("datasetSplitter")
        self.splitter.addWidget(self._build_new_dataset())
        self.splitter.addWidget(self._build_library())
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

    def _build_new_dataset(self) -> QWidget:
        box = QGroupBox("New dataset")
        self.drop_area = DropArea()
        self.drop_area.sig_paths_dropped.connect(self.add_inputs)
        self.drop_area.sig_remote_dropped.connect(
            lambda: self._show_drop_message(
                "Only files on this computer can be imported; save the text to a file first."
            )
        )
        self.drop_area.sig_clicked.connect(self.open_file_dialog)

        self.drop_message = QLabel(objectName="datasetDropMessage", wordWrap=True)
        self.drop_message_row = self._message_row(self.drop_message)

        self.input_list = QTreeWidget(objectName="datasetInputList")
        self.input_list.setHeaderLabels(["File", "Size", "Encoding"])
        self.input_list.setRootIsDecorated(False)
        self.input_list.setMaximumHeight(110)
        self.input_list.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.input_list.header().setStretchLastSection(False)
        self.input_list.currentItemChanged.connect(self._show_preview)
        self.input_summary = QLabel(objectName="datasetInputSummary")
        clear = QPushButton("Clear", objectName="clearInputsButton")
        clear.setToolTip("Remove the dropped files from the list (the files themselves are not touched).")
        clear.clicked.connect(self.clear_inputs)
        self.inputs_box = QWidget()
        inputs_layout = QVBoxLayout(self.inputs_box)
        inputs_layout.setContentsMargins(0, 0, 0, 0)
        inputs_layout.addWidget(self.input_list)
        summary_row = QHBoxLayout()
        summary_row.addWidget(self.input_summary, 1)
        summary_row.addWidget(clear)
        inputs_layout.addLayout(summary_row)
        self.inputs_box.hide()

        self.preview = QPlainTextEdit(objectName="datasetPreview", readOnly=True)
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.preview.setPlaceholderText("The first lines of the dropped file appear here.")

        self.name_edit = QLineEdit(objectName="datasetNameEdit")
        self.name_edit.setPlaceholderText("e.g. shakespeare_char")
        self.name_edit.setToolTip("Folder name of the dataset: letters, digits, '.', '_' or '-'.")
        self.name_edit.textEdited.connect(self._on_name_edited)
        self.tokenizer_combo = QComboBox(objectName="tokenizerCombo")
        for kind in ("char", "gpt2"):
            self.tokenizer_combo.addItem(kind)
            self.tokenizer_combo.setItemData(
                self.tokenizer_combo.count() - 1, TOKENIZER_HELP[kind], Qt.ItemDataRole.ToolTipRole
            )
        self.tokenizer_combo.currentTextChanged.connect(self._on_tokenizer_changed)
        self.val_spin = QDoubleSpinBox(objectName="valFractionSpin")
        self.val_spin.setRange(0.01, 0.5)
        self.val_spin.setSingleStep(0.01)
        self.val_spin.setDecimals(2)
        self.val_spin.setValue(0.1)
        self.val_spin.setToolTip("Share of the text held out to measure validation loss (the end of the text).")
        self.val_spin.valueChanged.connect(lambda v: self.settings.set("dataset.val_fraction", v, save=False))
        form = QFormLayout()
        form.addRow("&Name:", self.name_edit)
        form.addRow("&Tokenizer:", self.tokenizer_combo)
        form.addRow("&Validation share:", self.val_spin)
        self.tokenizer_help = QLabel(wordWrap=True)
        self.tokenizer_help.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # dimmed, theme-aware
        form.addRow("", self.tokenizer_help)

        self.prepare_button = QPushButton("Prepare dataset", objectName="prepareButton")
        self.prepare_button.setDefault(True)
        self.prepare_button.setToolTip("Tokenize the files into train.bin / val.bin (Ctrl+Return).")
        self.prepare_button.setShortcut("Ctrl+Return")
        self.prepare_button.clicked.connect(self.prepare)
        self.cancel_button = QPushButton("Cancel", objectName="cancelPrepareButton", enabled=False)
        self.cancel_button.clicked.connect(self.cancel_prepare)
        self.demo_button = QPushButton("Use demo text", objectName="demoButton")
        self.demo_button.setToolTip(
            f"Prepare the bundled Tiny Shakespeare text (1 MB, public domain) as '{DEMO_NAME}'."
        )
        self.demo_button.clicked.connect(self.use_demo_text)
        buttons = QHBoxLayout()
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.prepare_button)

        self.progress = QProgressBar(objectName="prepareProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        self.progress.setToolTip(
            "Bytes processed. The char tokenizer reads the text twice: once to find its characters, once to encode it."
        )

        self.error_label = QLabel(objectName="datasetError", wordWrap=True)
        self.error_row = self._message_row(self.error_label)

        preview_label = QLabel("&Preview:")
        preview_label.setBuddy(self.preview)
        layout = QVBoxLayout(box)
        layout.addWidget(self.drop_area)
        layout.addWidget(self.drop_message_row)
        layout.addWidget(self.inputs_box)
        layout.addWidget(preview_label)
        layout.addWidget(self.preview, 1)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.error_row)
        return box

    def _message_row(self, label: QLabel) -> QWidget:
        """A hidden row with a warning icon before `label` (shown when the label gets text)."""
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(20, 20))
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(label, 1)
        row.hide()
        return row

    def _build_library(self) -> QWidget:
        self.guide = self._build_guide()

        self.dataset_list = QTreeWidget(objectName="datasetList")
        self.dataset_list.setHeaderLabels(list(LIST_COLUMNS))
        self.dataset_list.setRootIsDecorated(False)
        self.dataset_list.setAlternatingRowColors(True)
        self.dataset_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.dataset_list.setSortingEnabled(True)
        self.dataset_list.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        header = self.dataset_list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        for col in range(1, len(LIST_COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.dataset_list.itemSelectionChanged.connect(self._on_selection_changed)
        self.dataset_list.itemDoubleClicked.connect(lambda *_: self.sig_show_tab.emit("Config"))

        self.reveal_button = QPushButton("Show in folder", objectName="revealDatasetButton", enabled=False)
        self.reveal_button.clicked.connect(self.reveal_selected)
        self.delete_button = QPushButton("Delete…", objectName="deleteDatasetButton", enabled=False)
        self.delete_button.clicked.connect(self.delete_selected)
        refresh = QPushButton("Refresh", objectName="refreshDatasetsButton")
        refresh.setToolTip("Look again for datasets made by the CLI or copied into the workspace (F5).")
        refresh.setShortcut("F5")
        refresh.clicked.connect(self.refresh)
        buttons = QHBoxLayout()
        buttons.addWidget(refresh)
        buttons.addStretch(1)
        buttons.addWidget(self.reveal_button)
        buttons.addWidget(self.delete_button)

        self.empty_label = QLabel(
            "No datasets yet: drop a text file on the left, or use the demo text.",
            objectName="datasetEmptyLabel",
            wordWrap=True,
        )
        lib = QGroupBox("Datasets in this workspace")
        lib_layout = QVBoxLayout(lib)
        lib_layout.addWidget(self.empty_label)
        lib_layout.addWidget(self.dataset_list, 1)
        lib_layout.addLayout(buttons)

        self.stats_view = QTextBrowser(objectName="datasetStatsView")
        self.stats_view.setOpenLinks(False)
        self.stats_view.setOpenExternalLinks(False)
        self.stats_view.highlighted.connect(self._on_token_hovered)
        self.stats_view.setPlaceholderText("Select a dataset to see its statistics and a sample of its tokens.")
        stats = QGroupBox("Details")
        QVBoxLayout(stats).addWidget(self.stats_view)

        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.setObjectName("datasetRightSplitter")
        self.right_splitter.addWidget(lib)
        self.right_splitter.addWidget(stats)
        self.right_splitter.setStretchFactor(0, 2)
        self.right_splitter.setStretchFactor(1, 3)
        self.right_splitter.setChildrenCollapsible(False)

        right = QWidget()
        layout = QVBoxLayout(right)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.guide)
        layout.addWidget(self.right_splitter, 1)
        return right

    def _build_guide(self) -> QWidget:
        """First-run guided start: four steps from a text file to a chat, each with its button."""
        guide = QGroupBox("Get started in four steps", objectName="guidedStart")
        steps = [
            (
                "Drop a text file on the left, or use the bundled demo text.",
                "Use demo text",
                "guideDemoButton",
                self.use_demo_text,
            ),
            (
                "Pick a preset (Tiny is quickest) on the Config tab.",
                "Open Config",
                "guideConfigButton",
                lambda: self.sig_show_tab.emit("Config"),
            ),
            (
                "Press Start on the Training tab and watch the loss fall.",
                "Open Training",
                "guideTrainingButton",
                lambda: self.sig_show_tab.emit("Training"),
            ),
            (
                "Chat with your model in the Playground.",
                "Open Playground",
                "guidePlaygroundButton",
                lambda: self.sig_show_tab.emit("Playground"),
            ),
        ]
        layout = QVBoxLayout(guide)
        for n, (text, label, name, slot) in enumerate(steps, 1):
            row = QHBoxLayout()
            row.addWidget(QLabel(f"<b>{n}</b>&nbsp;&nbsp;{html.escape(text)}", wordWrap=True), 1)
            button = QPushButton(label, objectName=name)
            button.clicked.connect(slot)
            row.addWidget(button)
            layout.addLayout(row)
        hide = QPushButton("Hide this guide", objectName="guideHideButton", flat=True)
        hide.clicked.connect(self._hide_guide)
        layout.addWidget(hide, alignment=Qt.AlignmentFlag.AlignRight)
        return guide

    def sizeHint(self) -> QSize:
        return QSize(1100, 700)

    # ---- remembered choices -----------------------------------------------------------------------

    def _restore_choices(self) -> None:
        kind = self.settings.get("dataset.tokenizer", "char")
        if kind in ("char", "gpt2"):
            self.tokenizer_combo.setCurrentText(kind)
        self._on_tokenizer_changed(self.tokenizer_combo.currentText())
        try:
            self.val_spin.setValue(float(self.settings.get("dataset.val_fraction", 0.1)))
        except (TypeError, ValueError):
            pass
        for splitter, key in ((self.splitter, "dataset.splitter"), (self.right_splitter, "dataset.right_splitter")):
            state = self.settings.get(key)
            if isinstance(state, str):
                splitter.restoreState(QByteArray.fromBase64(state.encode("ascii")))

    def _save_layout(self) -> None:
        for splitter, key in ((self.splitter, "dataset.splitter"), (self.right_splitter, "dataset.right_splitter")):
            self.settings.set(key, bytes(splitter.saveState().toBase64()).decode("ascii"), save=False)

    def _on_tokenizer_changed(self, kind: str) -> None:
        self.tokenizer_help.setText(TOKENIZER_HELP.get(kind, ""))
        self.settings.set("dataset.tokenizer", kind, save=False)

    def _on_name_edited(self, text: str) -> None:
        self._name_edited = bool(text)

    # ---- inputs -----------------------------------------------------------------------------------

    def open_file_dialog(self) -> None:
        start = self.settings.get("dataset.last_dir") or str(Path.home())
        files, _ = QFileDialog.getOpenFileNames(
            self, "Choose text files", start, "Text files (*.txt *.md *.csv *.json *.py *.html *.xml);;All files (*)"
        )
        if files:
            self.add_inputs([Path(f) for f in files])

    def open_folder_dialog(self) -> None:
        start = self.settings.get("dataset.last_dir") or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of text files", start)
        if folder:
            self.add_inputs([Path(folder)])

    def add_inputs(self, paths: list) -> None:
        """Add dropped/chosen files and folders: text files are listed, the others refused with the reason.
        The files are checked in a worker (a big folder takes a while); `is_checking()` tells when done."""
        if self.is_preparing():
            self._show_drop_message("A dataset is being prepared; wait for it or cancel it first.")
            return
        paths = [Path(p) for p in paths]
        if not paths:
            return
        last_dir = paths[0] if paths[0].is_dir() else paths[0].parent
        self.settings.set("dataset.last_dir", str(last_dir), save=False)
        self._show_drop_message(f"Checking {len(paths)} dropped item{'s' if len(paths) != 1 else ''}…")
        worker = JobWorker(check_inputs, paths)
        worker.succeeded.connect(self._on_inputs_checked)
        worker.failed.connect(self._show_drop_message)
        worker.finished.connect(self._on_check_finished)
        self._checks += 1
        self._update_buttons()
        start_worker(worker, self)

    def is_checking(self) -> bool:
        return self._checks > 0

    def _on_inputs_checked(self, result: dict) -> None:
        known = {str(info.path) for info in self._inputs}
        for info in result["accepted"]:
            if str(info.path) not in known:
                self._inputs.append(info)
                known.add(str(info.path))
        self._show_drop_message("\n".join(result["refused"]))
        self._show_inputs()
        paths = result["paths"]
        if self._inputs and not self._name_edited:
            first = paths[0] if len(paths) == 1 and paths[0].is_dir() else Path(self._inputs[0].path)
            self.name_edit.setText(self.workspace.unique_dataset_name(first.name))

    def _on_check_finished(self) -> None:
        self._checks -= 1
        self._update_buttons()

    def clear_inputs(self) -> None:
        self._inputs = []
        self._name_edited = False
        self.name_edit.clear()
        self._show_inputs()
        self._show_drop_message("")

    def _show_inputs(self) -> None:
        self.input_list.clear()
        items = []
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for info in self._inputs:
            path = str(info.path)
            item = QTreeWidgetItem([os.path.basename(path), format_bytes(info.size), info.encoding or ""])
            item.setToolTip(0, path)
            item.setTextAlignment(1, right)
            items.append(item)
        self.input_list.addTopLevelItems(items)  # one insertion: thousands of files stay quick
        total = sum(info.size for info in self._inputs)
        count = len(self._inputs)
        self.input_summary.setText(f"{count} file{'s' if count != 1 else ''}, {format_bytes(total)}")
        self.inputs_box.setVisible(bool(self._inputs))
        if self._inputs:
            self.input_list.setCurrentItem(self.input_list.topLevelItem(0))
        else:
            self.preview.clear()

    def _show_preview(self, item, _previous=None) -> None:
        row = self.input_list.indexOfTopLevelItem(item) if item else -1
        if 0 <= row < len(self._inputs):
            self.preview.setPlainText("\n".join(self._inputs[row].preview_lines))

    def _show_drop_message(self, text: str) -> None:
        self.drop_message.setText(text)
        self.drop_message_row.setVisible(bool(text))

    # ---- prepare ----------------------------------------------------------------------------------

    def is_preparing(self) -> bool:
        return self._prepare_worker is not None

    def use_demo_text(self) -> None:
        """First-run path: prepare the bundled public-domain text, or select it if it already exists."""
        if self.is_preparing():
            return
        if DEMO_NAME in self._entries and not self._entries[DEMO_NAME].get("error"):
            self.select_dataset(DEMO_NAME)
            self.sig_status.emit(f"The demo dataset '{DEMO_NAME}' is ready.")
            return
        self.clear_inputs()
        demo = ds.inspect_text_file(ds.demo_text_path())  # one file we ship: quick to check here
        if not demo.is_text:
            self._set_error(f"The bundled demo text cannot be used: {demo.reason}")
            return
        self._inputs = [demo]
        self._show_inputs()
        self.name_edit.setText(DEMO_NAME)
        self.tokenizer_combo.setCurrentText("char")
        self.prepare()

    def prepare(self) -> None:
        """Tokenize the listed files into a new dataset, in a worker thread."""
        if self.is_preparing() or self.is_checking():
            return
        self._set_error("")
        if not self._inputs:
            self._set_error("Drop a text file (or click the box) first, or use the demo text.")
            return
        name = self.name_edit.text().strip()
        try:
            folder = self.workspace.dataset_dir(name)
        except GPTStudioError as e:
            self._set_error(str(e))
            return
        force = False
        if folder.exists():
            answer = QMessageBox.question(
                self, "Replace dataset?", f"A dataset named '{name}' already exists. Replace it?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
            force = True
        worker = JobWorker(
            ds.prepare_dataset,
            [Path(i.path) for i in self._inputs],
            name,
            tokenizer=self.tokenizer_combo.currentText(),
            val_fraction=self.val_spin.value(),
            home=self.workspace.home,
            force=force,
        )
        worker.progressed.connect(self._on_prepare_progress)
        worker.succeeded.connect(self._on_prepare_succeeded)
        worker.failed.connect(self._on_prepare_failed)
        worker.cancelled.connect(self._on_prepare_cancelled)
        worker.finished.connect(self._on_prepare_finished)
        self._prepare_worker, self._prepare_name = worker, name
        self._prepare_started = time.monotonic()
        self._update_buttons()
        self.progress.setValue(0)
        self.progress.setFormat("Starting…")
        start_worker(worker, self)

    def cancel_prepare(self) -> None:
        if self._prepare_worker is not None:
            self._prepare_worker.cancel()
            self.cancel_button.setEnabled(False)
            self.progress.setFormat("Cancelling…")

    def _update_buttons(self) -> None:
        preparing = self.is_preparing()
        for w in (self.demo_button, self.drop_area, self.name_edit, self.tokenizer_combo, self.val_spin):
            w.setEnabled(not preparing)
        self.prepare_button.setEnabled(not preparing and not self.is_checking())
        self.cancel_button.setEnabled(preparing and not self._prepare_worker.cancel_event.is_set())

    def _on_prepare_progress(self, p) -> None:
        if self._prepare_worker is None or self._prepare_worker.cancel_event.is_set():
            return  # progress still queued after Cancel must not overwrite "Cancelling…"
        done, total = int(getattr(p, "done", 0)), int(getattr(p, "total", 0))
        if total > 0:
            self.progress.setValue(min(1000, int(1000 * done / total)))
            self.progress.setFormat(
                progress_text(done, total, time.monotonic() - self._prepare_started, getattr(p, "phase", ""))
            )

    def _on_prepare_succeeded(self, meta) -> None:
        elapsed = time.monotonic() - self._prepare_started
        name = (meta or {}).get("name") or self._prepare_name
        self.progress.setValue(1000)
        self.progress.setFormat(f"Done: {name} in {format_duration(elapsed)}")
        self.sig_status.emit(
            f"Prepared dataset '{name}': {int(meta.get('train_tokens', 0)):,} train and "
            f"{int(meta.get('val_tokens', 0)):,} validation tokens."
        )
        self.clear_inputs()
        self.refresh()
        self.sig_datasets_changed.emit()  # first, so other tabs know the name when it is selected
        self.select_dataset(name)

    def _on_prepare_failed(self, message: str) -> None:
        self.progress.setValue(0)
        self.progress.setFormat("Failed")
        self._set_error(message)
        self._show_error("Could not prepare the dataset", message)

    def _on_prepare_cancelled(self) -> None:
        self.progress.setValue(0)
        self.progress.setFormat("Cancelled")
        self.sig_status.emit("Preparing the dataset was cancelled; nothing was saved.")

    def _on_prepare_finished(self) -> None:
        self._prepare_worker = None  # it deletes itself; drop our reference
        self._update_buttons()

    def _set_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_row.setVisible(bool(message))

    def _show_error(self, title: str, message: str) -> None:
        """A readable dialog that does not block the event loop (window-modal `open()`)."""
        if self._error_box is not None:
            self._error_box.close()
        box = QMessageBox(QMessageBox.Icon.Critical, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.destroyed.connect(lambda *_: setattr(self, "_error_box", None))
        self._error_box = box
        box.open()

    # ---- library ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the workspace's datasets (also ones made by the CLI or imported from nanoGPT)."""
        keep = self.selected_dataset() or self.settings.get("dataset.selected")
        entries = ds.list_datasets(self.workspace.home)
        self._entries = {e["name"]: e for e in entries}
        self._details.clear()
        self.dataset_list.blockSignals(True)
        self.dataset_list.setSortingEnabled(False)
        self.dataset_list.clear()
        for e in entries:
            self.dataset_list.addTopLevelItem(self._list_item(e))
        self.dataset_list.setSortingEnabled(True)
        self.dataset_list.blockSignals(False)
        self.empty_label.setVisible(not entries)
        self._update_guide()
        if keep in self._entries:
            self.select_dataset(keep, emit=False)
        else:
            self._on_selection_changed()

    def _list_item(self, e: dict) -> QTreeWidgetItem:
        if e.get("error"):
            item = _SortItem([e["name"], "damaged", "", "", "", format_bytes(e.get("size_on_disk", 0))])
            for col in range(len(LIST_COLUMNS)):
                item.setToolTip(col, e["error"])
            item.setIcon(0, self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
            return item
        numbers = [int(e.get("vocab_size", 0)), int(e.get("train_tokens", 0)), int(e.get("val_tokens", 0))]
        item = _SortItem(
            [e["name"], e.get("tokenizer", "?")]
            + [f"{n:,}" for n in numbers]
            + [format_bytes(e.get("size_on_disk", 0))]
        )
        for col, value in zip(range(2, 5), numbers):
            item.setData(col, Qt.ItemDataRole.UserRole, value)
        item.setData(5, Qt.ItemDataRole.UserRole, int(e.get("size_on_disk", 0)))
        for col in range(2, len(LIST_COLUMNS)):
            item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setToolTip(0, str(e.get("path", "")))
        return item

    def selected_dataset(self) -> str | None:
        items = self.dataset_list.selectedItems()
        return items[0].text(0) if items else None

    def select_dataset(self, name: str, emit: bool = True) -> bool:
        for i in range(self.dataset_list.topLevelItemCount()):
            item = self.dataset_list.topLevelItem(i)
            if item.text(0) == name:
                if not emit:
                    self.dataset_list.blockSignals(True)
                self.dataset_list.setCurrentItem(item)
                item.setSelected(True)
                self.dataset_list.blockSignals(False)
                if not emit:
                    self._show_details(name)
                return True
        return False

    def _on_selection_changed(self) -> None:
        name = self.selected_dataset()
        self._show_details(name)
        if name and not self._entries[name].get("error"):
            self.settings.set("dataset.selected", name, save=False)
            self.sig_dataset_selected.emit(name)

    def _show_details(self, name: str | None) -> None:
        entry = self._entries.get(name) if name else None
        self.reveal_button.setEnabled(entry is not None)
        self.delete_button.setEnabled(entry is not None)
        if entry is None:
            self.stats_view.clear()
            return
        if entry.get("error") or name in self._details:
            self._render_stats(name)
            return
        self._render_stats(name)  # numbers now, token sample when loaded
        # bound methods (not lambdas) as slots: Qt then runs them queued in this, the GUI, thread
        worker = JobWorker(load_dataset_details, Path(entry["path"]), name)
        worker.succeeded.connect(self._on_details_loaded)
        worker.failed.connect(self._on_details_failed)
        start_worker(worker, self)

    def _on_details_loaded(self, details: dict) -> None:
        name = details["name"]
        self._details[name] = details
        if self.selected_dataset() == name:
            self._render_stats(name)

    def _on_details_failed(self, message: str) -> None:
        self.stats_view.append(f"<p><b>Could not read a token sample:</b> {html.escape(message)}</p>")

    def _render_stats(self, name: str) -> None:
        self.stats_view.setHtml(stats_html(self._entries[name], self._details.get(name)))

    def _on_token_hovered(self, url: QUrl) -> None:
        text = url.toString()
        if text.startswith("tok:"):
            QToolTip.showText(QCursor.pos(), f"token id {text[4:]}", self.stats_view)
        else:
            QToolTip.hideText()

    def delete_selected(self) -> None:
        name = self.selected_dataset()
        if not name:
            return
        answer = QMessageBox.question(
            self,
            "Delete dataset?",
            f"Delete the dataset '{name}' and its files?\nRuns trained on it keep working; this cannot be undone.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            ds.delete_dataset(name, home=self.workspace.home)
        except GPTStudioError as e:
            self._show_error("Could not delete the dataset", str(e))
            return
        if self.settings.get("dataset.selected") == name:
            self.settings.set("dataset.selected", None, save=False)
        self.refresh()
        self.sig_status.emit(f"Deleted dataset '{name}'.")
        self.sig_datasets_changed.emit()

    def reveal_selected(self) -> None:
        name = self.selected_dataset()
        if name and name in self._entries:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._entries[name]["path"])))

    # ---- guided start -----------------------------------------------------------------------------

    def _update_guide(self) -> None:
        # shown until the first training run exists (or the user hides it)
        self.guide.setVisible(not self.settings.get("guide_hidden", False) and not self.workspace.run_names())

    def _hide_guide(self) -> None:
        self.settings.set("guide_hidden", True, save=False)
        self._update_guide()

    # ---- events and shutdown ----------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._update_guide()  # a run may have been started on another tab meanwhile

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.selected_dataset():
            self._render_stats(self.selected_dataset())  # light/dark switch: re-render the HTML

    def closeEvent(self, event) -> None:
        self.shutdown()  # also when the tab is used on its own, outside the main window
        super().closeEvent(event)

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Cancel running jobs and wait for their threads (the window calls this on close)."""
        self._save_layout()
        for worker, thread in list(getattr(self, "_live_jobs", ())):
            try:
                worker.cancel()
                thread.quit()
                thread.wait(timeout_ms)
            except RuntimeError:
                pass  # already deleted by Qt
