"""Which models answer: the checkpoint picker, compare mode, and a line saying what is loaded.

Composes `CheckpointPicker` and `ComparePicker` over the Qt-free `CheckpointChoices`, and keeps the
answering checkpoints' models loaded with a `ModelLoader`. The workspace's checkpoints are listed on a
JobRunner (`refresh`, `is_refreshing`; reading hundreds of them takes seconds), so the window never
waits for them. Another panel's control can sit between the two pickers (`insert`), as the tab's mode
choice does.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gptstudio.core.catalog import CheckpointInfo, list_checkpoints
from gptstudio.core.errors import GPTStudioError
from gptstudio.gui.jobs import JobRunner
from gptstudio.gui.playground.checkpoint_picker import CheckpointPicker
from gptstudio.gui.playground.compare_picker import ComparePicker
from gptstudio.gui.playground.model_loader import ModelLoader
from gptstudio.gui.playground.style import ERROR_STYLE
from gptstudio.gui.state.checkpoint_choices import CheckpointChoices, Pairing


def _path(info) -> str | None:
    return str(info.path) if info is not None else None


class ModelBar(QWidget):
    changed = Signal()  # other checkpoints answer, or their models loaded (or failed to)
    problem = Signal(str)  # a checkpoint could not be read or opened: one sentence

    def __init__(self, workspace, parent=None):
        super().__init__(parent)
        self.workspace = workspace
        self.choices = CheckpointChoices()
        self.loader = ModelLoader(workspace.home, self)
        self._lister = JobRunner(self)
        self._listed = None  # what the last listing found, offered once it has finished
        self._lister.succeeded.connect(lambda listed: setattr(self, "_listed", listed))
        self._lister.failed.connect(self.problem)
        self._lister.finished.connect(self._on_listed)
        self.picker = CheckpointPicker(workspace.home)
        self.compare = ComparePicker()
        self.status = QLabel("", objectName="modelStatus", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._remembered: tuple[str | None, str | None] = (None, None)
        self._row = QHBoxLayout()
        self._row.addWidget(self.picker, 3)
        self._row.addSpacing(12)
        self._row.addWidget(self.compare, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(self._row)
        lay.addWidget(self.status)
        self.picker.changed.connect(self._on_choice)
        self.compare.changed.connect(self._on_choice)
        self.picker.fileChosen.connect(self.add_file)
        self.picker.pretrainedChosen.connect(self.add_pretrained)
        self.loader.changed.connect(self._on_loaded)

    def insert(self, widget: QWidget) -> None:
        """Place another control between the checkpoint picker and compare mode."""
        self._row.insertWidget(2, widget)
        self._row.insertSpacing(3, 12)

    def remember(self, primary: str | None, compare: str | None, files: list[str], pretrained=()) -> None:
        """Last session's choices: its opened files and pretrained models are offered again, its choices
        taken until the user chooses."""
        self._remembered = (primary, compare)
        self.choices.restore_files(files)
        self.choices.restore_pretrained(list(pretrained), self.workspace.home)

    def remembered(self) -> tuple[str | None, str | None, list[str], list[str]]:
        """What `remember` takes back next session."""
        return (
            _path(self.picker.current()),
            _path(self.compare.choice()),
            self.choices.file_paths(),
            self.choices.pretrained_names(),
        )

    # ------------------------------------------------------------------------------------ choices
    def refresh(self) -> None:
        """Re-read the workspace's runs (after training saved a checkpoint, or when the tab is shown), in
        the background: the choices follow, then `changed` (and `problem` for unreadable checkpoints)."""
        self._lister.start(list_checkpoints, self.workspace)

    def is_refreshing(self) -> bool:
        return self._lister.is_running()

    def _on_listed(self) -> None:
        if self._listed is None:
            return
        (found, problems), self._listed = self._listed, None
        self.choices.set_runs(found)
        self._offer()
        if problems:
            self.problem.emit("Some checkpoints could not be read: " + "; ".join(problems))

    def add_file(self, path) -> CheckpointInfo | None:
        """Offer a checkpoint file from anywhere and choose it; None (and `problem`) if it is not one."""
        try:
            info = self.choices.add_file(path)
        except GPTStudioError as e:
            self.problem.emit(str(e))
            return None
        self._offer(primary=info.path)
        return info

    def add_pretrained(self, init_from: str) -> CheckpointInfo | None:
        """Offer a pretrained GPT-2 (a name or a Hugging Face folder) and choose it; None (and `problem`)
        if there is no such model. Its weights load (or download, when not here) like any checkpoint's."""
        try:
            info = self.choices.add_pretrained(init_from, self.workspace.home)
        except GPTStudioError as e:
            self.problem.emit(str(e))
            return None
        self._offer(primary=info.path)
        return info

    def _offer(self, primary=None) -> None:
        infos = self.choices.all()
        self.picker.set_choices(infos, primary or _path(self.picker.current()) or self._remembered[0])
        self.compare.set_choices(infos, _path(self.compare.choice()) or self._remembered[1])
        self._on_choice()

    def pairing(self) -> Pairing:
        return Pairing(self.picker.current(), self.compare.current())

    def has_checkpoints(self) -> bool:
        return bool(self.choices.all())

    # ------------------------------------------------------------------------------------- models
    def _on_choice(self, *_args) -> None:
        self.loader.want(self.pairing().answering())
        self._on_loaded()

    def _on_loaded(self) -> None:
        text, failed = self.loader.status()
        self.status.setStyleSheet(ERROR_STYLE if failed else "")
        self.status.setText(text)
        self.changed.emit()

    def ready(self) -> bool:
        """Every answering checkpoint's model is loaded."""
        return self.loader.ready()

    def failed(self) -> bool:
        return self.loader.failed()

    def samplers(self) -> list:
        """The answering models, in answer order."""
        return self.loader.samplers()

    def shutdown(self) -> None:
        self._lister.shutdown(15_000)
        self.picker.shutdown()
        self.loader.shutdown(15_000)
