"""The Dataset tab: drop text files and documents, clean and tokenize them into a dataset, browse the
workspace's datasets and their import reports.

An assembler of the panels in gptstudio/gui/dataset/ (one concern each); it lays them out and passes
data between them. The engine does the work: gptstudio.core.input_check (checking dropped files),
core.text_import (the cleanup preview), core.dataset (preparing), core.dataset_sample (the token
sample), each run by the panel's job runner.

Public API (used by the main window and tests):
    signals  sig_dataset_selected(str), sig_datasets_changed(), sig_show_tab(str), sig_status(str)
    methods  add_inputs(paths), clear_inputs(), open_file_dialog(), open_folder_dialog(),
             cleanup_options(), set_cleanup_options(options), text_field(), set_text_field(name),
             use_demo_text(), use_demo_chat(), prepare(), cancel_prepare(), is_preparing(), is_checking(),
             refresh(), select_dataset(name), selected_dataset(), delete_selected(), reveal_selected(),
             set_model_width(n_embd) (the Config tab's width, for the tokenizer comparison), shutdown()

Chat data: the chat panel (gui/dataset/chat_panel.py) says whether the files are conversations and for
which run; then Prepare checks them first (core.chat_dataset.survey_chat_inputs), asks about bad records
or unknown characters in the chat panel, and prepares a chat dataset (core.chat_dataset).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QGroupBox, QScrollArea, QSplitter, QVBoxLayout, QWidget

from gptstudio.core import dataset as ds
from gptstudio.core.cleanup import CleanupOptions
from gptstudio.core.runs import list_runs
from gptstudio.core.workspace import Workspace
from gptstudio.gui.dataset.chat_panel import DEMO_CHAT_NAME, ChatPanel
from gptstudio.gui.dataset.cleanup_panel import CleanupPanel
from gptstudio.gui.dataset.compare_panel import TokenizerComparePanel
from gptstudio.gui.dataset.details_panel import DatasetDetails
from gptstudio.gui.dataset.drop_area import DropArea
from gptstudio.gui.dataset.guided_start import GuidedStart
from gptstudio.gui.dataset.input_panel import InputPanel
from gptstudio.gui.dataset.library_panel import DatasetLibrary
from gptstudio.gui.dataset.prepare_panel import DEMO_NAME, PreparePanel
from gptstudio.gui.dataset.text_field_choice import TextFieldChoice
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.state.chat_choice import NEW_MODEL

SELECTED_KEY = "dataset.selected"  # a workspace preference: the dataset chosen last
SPLITTER_KEYS = ("dataset.splitter", "dataset.right_splitter", "dataset.left_splitter")


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
        self.prefs = settings.for_workspace(workspace.home)
        self.drop_area = DropArea(settings)
        self.input_panel = InputPanel()
        self.input_panel.set_preview_shown(False)  # the cleanup panel previews the file, before and after
        self.field_choice = TextFieldChoice()
        self.cleanup = CleanupPanel(settings)
        self.chat_panel = ChatPanel()
        self.prepare_panel = PreparePanel(workspace, settings)
        self.compare_panel = TokenizerComparePanel()
        self.guide = GuidedStart(settings)
        self.library = DatasetLibrary(workspace)
        self.details = DatasetDetails()
        self._lay_out()
        self._connect()
        self.refresh()

    def _lay_out(self) -> None:
        new = QGroupBox("New dataset")
        left = QVBoxLayout(new)
        files = QWidget()
        files_column = QVBoxLayout(files)
        files_column.setContentsMargins(0, 0, 0, 0)
        files_column.addWidget(self.input_panel, 1)
        files_column.addWidget(self.field_choice)
        files_column.addWidget(self.chat_panel)
        files_column.addWidget(self.compare_panel)
        self.left_splitter = QSplitter(Qt.Orientation.Vertical, objectName="datasetLeftSplitter")
        self.left_splitter.addWidget(files)
        self.left_splitter.addWidget(self.cleanup)
        # what comes in scrolls when the window is too short for it (a 768-pixel screen); Prepare stays
        middle = QWidget()
        middle_column = QVBoxLayout(middle)
        middle_column.setContentsMargins(0, 0, 0, 0)
        middle_column.addWidget(self.drop_area)
        middle_column.addWidget(self.left_splitter, 1)
        self.new_scroll = scroll = QScrollArea(
            objectName="datasetNewScroll", widgetResizable=True, frameShape=QFrame.Shape.NoFrame
        )
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(middle)
        scroll.setMinimumSize(middle.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width(), 160)
        left.addWidget(scroll, 1)
        left.addWidget(self.prepare_panel)
        self.right_splitter = QSplitter(Qt.Orientation.Vertical, objectName="datasetRightSplitter")
        self.right_splitter.addWidget(self.library)
        self.right_splitter.addWidget(self.details)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.guide)
        column.addWidget(self.right_splitter, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self, objectName="datasetSplitter")
        self.splitter.addWidget(new)
        self.splitter.addWidget(right)
        splitters = (self.splitter, self.right_splitter, self.left_splitter)
        for splitter, stretches, key in zip(splitters, ((2, 3), (2, 3), (2, 3)), SPLITTER_KEYS):
            splitter.setChildrenCollapsible(False)
            for i, stretch in enumerate(stretches):
                splitter.setStretchFactor(i, stretch)
            state = self.settings.get(key)
            if isinstance(state, str):
                splitter.restoreState(QByteArray.fromBase64(state.encode("ascii")))
        QVBoxLayout(self).addWidget(self.splitter)

    def _connect(self) -> None:
        self.drop_area.sig_paths_chosen.connect(self.add_inputs)
        self.drop_area.sig_remote_dropped.connect(
            lambda: self.input_panel.show_message(
                "Only files on this computer can be imported; save the text to a file first."
            )
        )
        self.input_panel.sig_checked.connect(
            lambda check: self.prepare_panel.suggest_name(self.input_panel.inputs.suggested_name(check, self.workspace))
        )
        self.input_panel.sig_checked.connect(lambda _check: self._inputs_changed())
        self.input_panel.sig_checking_changed.connect(self.prepare_panel.set_checking)
        self.input_panel.sig_cleared.connect(self.prepare_panel.reset_name)
        self.input_panel.sig_cleared.connect(self._inputs_changed)
        # the comparison measures the BPE size chosen, marks the tokenizer chosen, and a click chooses one
        self.compare_panel.set_bpe_vocab_size(self.prepare_panel.vocab_size())
        self.compare_panel.set_chosen(self.prepare_panel.tokenizer())
        self.prepare_panel.sig_vocab_size_changed.connect(self.compare_panel.set_bpe_vocab_size)
        self.prepare_panel.sig_tokenizer_changed.connect(self.compare_panel.set_chosen)
        self.compare_panel.sig_tokenizer_chosen.connect(self.prepare_panel.set_tokenizer)
        self.input_panel.sig_file_selected.connect(
            lambda info: self.cleanup.preview_file(info, self.field_choice.field())
        )
        self.field_choice.sig_changed.connect(
            lambda field: self.cleanup.preview_file(self.input_panel.selected_file(), field)
        )
        self.chat_panel.chat_check.toggled.connect(self._update_tokenizer_choice)
        self.chat_panel.model_combo.currentIndexChanged.connect(self._update_tokenizer_choice)
        self.chat_panel.sig_demo_requested.connect(self.use_demo_chat)
        self.chat_panel.sig_answered.connect(lambda: self.prepare_panel.continue_chat(self._chat_choice()))
        self.chat_panel.sig_review_cancelled.connect(self.prepare_panel.abandon_chat)
        self.prepare_panel.sig_chat_checked.connect(self._show_chat_survey)
        self.prepare_panel.sig_prepare_requested.connect(self.prepare)
        self.prepare_panel.sig_demo_requested.connect(self.use_demo_text)
        self.prepare_panel.sig_prepared.connect(self._on_prepared)
        self.prepare_panel.sig_status.connect(self.sig_status)
        self.prepare_panel.sig_busy_changed.connect(lambda busy: self.drop_area.setEnabled(not busy))
        self.guide.sig_demo_requested.connect(self.use_demo_text)
        self.guide.sig_show_tab.connect(self.sig_show_tab)
        self.library.sig_selection_changed.connect(self._on_selection_changed)
        self.library.sig_refreshed.connect(self._on_refreshed)
        self.library.sig_activated.connect(lambda _name: self.sig_show_tab.emit("Config"))
        self.library.sig_deleted.connect(self._on_deleted)

    def sizeHint(self) -> QSize:
        return QSize(1100, 700)

    # ---- inputs

    def open_file_dialog(self) -> None:
        self.drop_area.choose_files()

    def open_folder_dialog(self) -> None:
        self.drop_area.choose_folder()

    def add_inputs(self, paths: list) -> None:
        """Add dropped/chosen files and folders (checked in the background; `is_checking()` says when done)."""
        if self.is_preparing():
            self.input_panel.show_message("A dataset is being prepared; wait for it or cancel it first.")
            return
        self.input_panel.add([Path(p) for p in paths])

    def clear_inputs(self) -> None:
        self.input_panel.clear()

    def _inputs_changed(self) -> None:
        inputs = self.input_panel.inputs
        self.prepare_panel.set_input_bytes(inputs.total_bytes)
        self.compare_panel.set_inputs(inputs.paths)
        self.field_choice.set_files(inputs.files)
        self._show_input_kind()

    def set_model_width(self, n_embd: int) -> None:
        """The model width the Config tab shows: the tokenizer comparison gives embedding sizes for it."""
        self.compare_panel.set_model_width(n_embd)

    def is_checking(self) -> bool:
        return self.input_panel.is_checking()

    def cleanup_options(self) -> CleanupOptions:
        return self.cleanup.options()

    def set_cleanup_options(self, options: CleanupOptions) -> None:
        self.cleanup.set_options(options)

    def text_field(self) -> str | None:
        """The field read from JSON/CSV records (None: detected for each file)."""
        return self.field_choice.field()

    def set_text_field(self, name: str | None) -> bool:
        """Read this field of every JSON/CSV file (None: detect it); False if no listed file has it."""
        return self.field_choice.set_field(name)

    # ---- prepare

    def is_preparing(self) -> bool:
        return self.prepare_panel.is_preparing()

    def use_demo_text(self) -> None:
        """First-run path: prepare the bundled public-domain text, or select it if it already exists."""
        if self.is_preparing():
            return
        demo_entry = self.library.entry(DEMO_NAME)
        if demo_entry is not None and not demo_entry.get("error"):
            self.select_dataset(DEMO_NAME)
            self.sig_status.emit(f"The demo dataset '{DEMO_NAME}' is ready.")
            return
        self.clear_inputs()
        demo = ds.inspect_text_file(ds.demo_text_path())  # one file we ship: quick to check here
        if not demo.is_text:
            self.prepare_panel.show_error(f"The bundled demo text cannot be used: {demo.reason}")
            return
        self.input_panel.set_files([demo])
        self._inputs_changed()
        self.prepare_panel.set_name(DEMO_NAME)
        self.prepare_panel.set_tokenizer("char")
        self.prepare()

    def use_demo_chat(self) -> None:
        """Conversations made from the bundled play, for the run chosen in the chat panel (a new char model
        when there is none): pretrain on the demo text, fine-tune on these, chat."""
        if self.is_preparing():
            return
        self.clear_inputs()
        self.chat_panel.chat_check.setChecked(True)
        self.prepare_panel.set_name(DEMO_CHAT_NAME)
        if self.chat_panel.model_run() == NEW_MODEL:
            self.prepare_panel.set_tokenizer("char")
        self.chat_panel.clear_review()
        self.prepare_panel.prepare_chat([], self._chat_choice(demo=True))

    def prepare(self) -> None:
        """Clean and tokenize the listed files into a new dataset (a chat dataset for conversations), in the
        background."""
        if self.is_checking():
            return
        if self.chat_panel.is_chat():
            self.chat_panel.clear_review()
            self.prepare_panel.prepare_chat(self.input_panel.inputs.paths, self._chat_choice())
        else:
            self.prepare_panel.prepare(
                self.input_panel.inputs.paths, cleanup=self.cleanup.options(), text_field=self.field_choice.field()
            )

    def _chat_choice(self, demo: bool = False):
        return self.chat_panel.choice(self.prepare_panel.tokenizer(), self.input_panel.inputs.chat_kind(), demo)

    def _show_input_kind(self) -> None:
        inputs = self.input_panel.inputs
        self.chat_panel.set_inputs(inputs.chat_kind(), inputs.chat_format_names())

    def _update_tokenizer_choice(self) -> None:
        """Chat data for an existing run uses that run's tokenizer: the Tokenizer choice is then off."""
        self.prepare_panel.set_tokenizer_enabled(
            not self.chat_panel.is_chat() or self.chat_panel.model_run() == NEW_MODEL
        )

    def _show_chat_survey(self, survey, questions: list[str]) -> None:
        """The check's questions appear in the chat panel, scrolled into view on a short window once
        the layout has made room for them."""
        self.chat_panel.show_survey(survey, questions)
        QTimer.singleShot(0, lambda: self.new_scroll.ensureWidgetVisible(self.chat_panel.review, 0, 0))

    def cancel_prepare(self) -> None:
        self.prepare_panel.cancel()

    def _on_prepared(self, meta: dict) -> None:
        self.clear_inputs()
        self.chat_panel.clear_review()
        self.refresh()
        self.sig_datasets_changed.emit()  # first, so other tabs know the name when it is selected
        self.select_dataset(meta["name"])

    # ---- library

    def refresh(self) -> None:
        """Re-read the workspace's datasets (also ones made by the CLI or imported from nanoGPT), and the
        runs chat data can be made for."""
        self.library.refresh(keep=self.library.selected() or self.prefs.get(SELECTED_KEY))
        self.refresh_runs()

    def refresh_runs(self) -> None:
        """List the runs once: the guide shows while there is none, chat data can be made for those with a
        checkpoint."""
        runs = list_runs(self.workspace.home)
        self.guide.update_visibility(bool(runs))
        self.chat_panel.set_runs([r for r in runs if r.get("checkpoints")])

    def selected_dataset(self) -> str | None:
        return self.library.selected()

    def select_dataset(self, name: str, emit: bool = True) -> bool:
        """Select a dataset; `emit=False` shows it without telling the other tabs."""
        if not self.library.select(name, emit=emit):
            return False
        if not emit:
            self.details.show_dataset(self.library.entry(name))
        return True

    def delete_selected(self) -> None:
        self.library.delete_selected()

    def reveal_selected(self) -> None:
        self.library.reveal_selected()

    def _on_selection_changed(self, entry: dict | None) -> None:
        self.details.show_dataset(entry)
        if entry is not None and not entry.get("error"):
            self.prefs.set(SELECTED_KEY, entry["name"], save=False)
            self.sig_dataset_selected.emit(entry["name"])

    def _on_refreshed(self) -> None:
        self.details.forget()  # a dataset may have been prepared again under the same name
        self.details.show_dataset(self.library.entry(self.library.selected()))

    def _on_deleted(self, name: str) -> None:
        if self.prefs.get(SELECTED_KEY) == name:
            self.prefs.set(SELECTED_KEY, None, save=False)
        self.sig_status.emit(f"Deleted dataset '{name}'.")
        self.sig_datasets_changed.emit()

    # ---- events and shutdown

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh_runs()  # a run may have started meanwhile

    def closeEvent(self, event) -> None:
        self.shutdown()  # also when the tab is used on its own, outside the main window
        super().closeEvent(event)

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Remember the layout, cancel the panels' jobs and wait for them (the window calls this on close)."""
        for splitter, key in zip((self.splitter, self.right_splitter, self.left_splitter), SPLITTER_KEYS):
            self.settings.set(key, bytes(splitter.saveState().toBase64()).decode("ascii"), save=False)
        for panel in (self.input_panel, self.cleanup, self.prepare_panel, self.compare_panel, self.details):
            panel.shutdown(timeout_ms)
