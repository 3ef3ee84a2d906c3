"""The Playground tab: talk to a checkpoint, or let it continue a text, and watch the tokens come.

Thin by design: checkpoints are described by core.catalog, prompts built by core.chat, tokens made by
core.sampler (in a QThread, see generation_worker), conversations saved by core.conversation. This
module only arranges widgets and routes pieces of text to the right bubble.

Modes. Chat: the conversation so far becomes a "User: … / Model:" transcript that the model continues
(a base model continuing a dialogue, see core.chat); the reply stops where the model starts the next
turn. Complete: the prompt is continued as is, several samples side by side.
Compare: a second checkpoint answers the same prompt with the same seed and settings, side by side.
"""

from __future__ import annotations

import html
import random
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from gptstudio.core.catalog import CheckpointInfo, describe_checkpoint, list_checkpoints
from gptstudio.core.chat import chat_prompt, chat_stops, cut_reply
from gptstudio.core.conversation import Conversation, load_conversation, parse_stop_sequences, save_conversation
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.sampler import SampleSettings
from gptstudio.gui.chat_widgets import ChatView, ReplyRow, UserBubble
from gptstudio.gui.generation_worker import GenerationWorker, LoadWorker
from gptstudio.gui.sampling_panel import RANDOM_SEED, SamplingPanel
from gptstudio.gui.workers import start_worker

SETTINGS_KEY = "playground"
MODES = (("Chat", "chat"), ("Complete", "complete"))
ERROR_STYLE = "color: #d9534f;"
WARNING_STYLE = "color: #e67e22;"


class _EnterSends(QObject):
    """Enter in the prompt box sends; Shift+Enter makes a new line."""

    def __init__(self, send, parent):
        super().__init__(parent)
        self._send = send

    def eventFilter(self, obj, event):
        if (
            event.type() == QEvent.KeyPress
            and event.key() in (Qt.Key_Return, Qt.Key_Enter)
            and not event.modifiers() & Qt.ShiftModifier
        ):
            self._send()
            return True
        return False


def _chars_list(chars: list[str], limit: int = 12) -> str:
    shown = ", ".join(repr(c) for c in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


class PlaygroundTab(QWidget):
    sig_status = Signal(str)  # one-line messages for the main window's status bar
    sig_reply_finished = Signal()  # every answer of the last prompt is complete (or stopped/failed)

    def __init__(self, workspace, settings, parent=None):
        super().__init__(parent)
        self.setObjectName("playgroundTab")
        self.workspace, self.settings = workspace, settings
        self.conversation = Conversation()
        self._checkpoints: list[CheckpointInfo] = []  # the runs' checkpoints, then files opened by hand
        self._external: list[CheckpointInfo] = []
        self._samplers: dict[str, object] = {}  # CheckpointInfo.key -> loaded Sampler
        self._loads: dict[str, LoadWorker] = {}  # CheckpointInfo.key -> loading now
        self._load_errors: dict[str, str] = {}  # CheckpointInfo.key -> why it could not load
        self._pending_send = False  # send once the models have loaded
        self._workers: dict[int, GenerationWorker] = {}  # tag -> generation running now
        self._reply: dict | None = None  # the reply being generated (row, sources, stats...)
        self.update_count = 0  # streamed UI updates so far (diagnostics, tests)
        self._build()
        self._restore_settings()
        self.refresh_checkpoints()
        self._update_controls()

    # =========================================================================================== UI
    def _build(self) -> None:
        self.checkpoint_combo = QComboBox(objectName="checkpointCombo")
        self.checkpoint_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.checkpoint_combo.setMinimumContentsLength(30)
        self.open_checkpoint_button = QPushButton(
            "Open checkpoint file…",
            objectName="openCheckpointButton",
            toolTip="Use a nanoGPT ckpt.pt or a GPT Studio checkpoint from anywhere on disk.",
        )
        self.export_checkpoint_button = QPushButton(
            "Export…",
            objectName="exportCheckpointButton",
            toolTip="Export the selected checkpoint as a Hugging Face folder or safetensors.",
        )
        self.mode_combo = QComboBox(objectName="modeCombo")
        for text, mode in MODES:
            self.mode_combo.addItem(text, mode)
        self.mode_combo.setToolTip(
            "Chat: the model continues a User/Model transcript (it is a base model, "
            "not an assistant). Complete: it continues your text as is."
        )
        self.compare_check = QCheckBox(
            "Compare with",
            objectName="compareCheck",
            toolTip="A second checkpoint answers the same prompt with the same seed and settings, side by side.",
        )
        self.compare_combo = QComboBox(objectName="compareCheckpointCombo")
        self.compare_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.compare_combo.setMinimumContentsLength(20)
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.checkpoint_combo, 3)
        top.addWidget(self.open_checkpoint_button)
        top.addWidget(self.export_checkpoint_button)
        top.addSpacing(12)
        top.addWidget(QLabel("Mode:"))
        top.addWidget(self.mode_combo)
        top.addSpacing(12)
        top.addWidget(self.compare_check)
        top.addWidget(self.compare_combo, 2)
        self.model_status = QLabel("", objectName="modelStatus", wordWrap=True)
        self.model_status.setTextInteractionFlags(Qt.TextSelectableByMouse)

        splitter = QSplitter(Qt.Horizontal, objectName="playgroundSplitter")
        splitter.addWidget(self._build_chat_column())
        splitter.addWidget(self._build_side_panel())
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([900, 300])

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.model_status)
        lay.addWidget(splitter, 1)
        self._connect()

    def _build_chat_column(self) -> QWidget:
        self.chat_view = ChatView()
        self.chat_view.setObjectName("chatView")
        self.prompt_warning = QLabel("", objectName="promptWarning", wordWrap=True)
        self.prompt_warning.setStyleSheet(WARNING_STYLE)
        self.drop_unknown_check = QCheckBox(
            "Drop unknown characters",
            objectName="dropUnknownCheck",
            toolTip="Send the prompt without the characters this model cannot read.",
        )
        warn_row = QHBoxLayout()
        warn_row.addWidget(self.prompt_warning, 1)
        warn_row.addWidget(self.drop_unknown_check)
        self.prompt_input = QPlainTextEdit(objectName="promptInput")
        self.prompt_input.setPlaceholderText("Type a message. Enter sends, Shift+Enter starts a new line.")
        self.prompt_input.setFixedHeight(84)
        self.prompt_input.installEventFilter(_EnterSends(self.send, self.prompt_input))
        self.send_button = QPushButton("Send", objectName="sendButton", toolTip="Send (Enter)")
        self.send_button.setDefault(True)
        self.stop_button = QPushButton(
            "Stop", objectName="stopGenerationButton", toolTip="Stop generating; what came so far is kept."
        )
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        input_row = QHBoxLayout()
        input_row.addWidget(self.prompt_input, 1)
        input_row.addLayout(buttons)

        self.regenerate_button = QPushButton(
            "Regenerate",
            objectName="regenerateButton",
            toolTip="Answer the last message again (a new seed if the seed is random).",
        )
        self.clear_button = QPushButton("Clear", objectName="clearButton", toolTip="Start a new conversation.")
        self.save_button = QPushButton(
            "Save…", objectName="saveConversationButton", toolTip="Save the conversation as JSON or Markdown."
        )
        self.open_button = QPushButton(
            "Open…", objectName="openConversationButton", toolTip="Open a conversation saved as JSON or Markdown."
        )
        self.token_view_check = QCheckBox(
            "Token view",
            objectName="tokenViewCheck",
            toolTip="Show replies token by token, shaded by probability "
            "(red = the model found it unlikely, green = near certain). Hover or click "
            "a token to see the alternatives.",
        )
        self.generation_stats = QLabel("", objectName="generationStats", wordWrap=True)
        self.message = QLabel("", objectName="playgroundMessage", wordWrap=True)
        self.message.hide()
        actions = QHBoxLayout()
        for w in (self.regenerate_button, self.clear_button, self.save_button, self.open_button):
            actions.addWidget(w)
        actions.addSpacing(12)
        actions.addWidget(self.token_view_check)
        actions.addStretch(1)
        status = QVBoxLayout()
        status.addWidget(self.generation_stats)
        status.addWidget(self.message)

        column = QWidget()
        lay = QVBoxLayout(column)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.chat_view, 1)
        lay.addLayout(warn_row)
        lay.addLayout(input_row)
        lay.addLayout(actions)
        lay.addLayout(status)
        return column

    def _build_side_panel(self) -> QWidget:
        self.sampling = SamplingPanel()
        self.token_details = QLabel(
            "Turn on Token view, then hover over or click a token of a reply to see "
            "the five tokens the model found most likely there.",
            objectName="tokenDetails",
            wordWrap=True,
        )
        self.token_details.setTextFormat(Qt.RichText)
        self.token_details.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.token_details.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)
        self.token_details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        panel = QWidget()
        lay = QVBoxLayout(panel)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.sampling)
        lay.addWidget(QLabel("<b>Token</b>"))
        lay.addWidget(self.token_details, 1)
        panel.setMinimumWidth(240)
        return panel

    def _connect(self) -> None:
        self.checkpoint_combo.currentIndexChanged.connect(self._on_model_choice)
        self.compare_combo.currentIndexChanged.connect(self._on_model_choice)
        self.compare_check.toggled.connect(self._on_model_choice)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_changed)
        self.open_checkpoint_button.clicked.connect(self.open_checkpoint_dialog)
        self.export_checkpoint_button.clicked.connect(self.export_checkpoint)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.regenerate_button.clicked.connect(self.regenerate)
        self.clear_button.clicked.connect(self.clear)
        self.save_button.clicked.connect(self.save_conversation_dialog)
        self.open_button.clicked.connect(self.open_conversation_dialog)
        self.token_view_check.toggled.connect(self._on_token_view)
        self.prompt_input.textChanged.connect(self._check_prompt)
        self.drop_unknown_check.toggled.connect(self._check_prompt)
        self.sampling.changed.connect(self._save_settings_soon)
        self._save_timer = QTimer(self, singleShot=True, interval=400)
        self._save_timer.timeout.connect(self._save_settings)

    # ================================================================================ checkpoints
    def refresh_checkpoints(self, *_args) -> None:
        """Re-read the workspace's runs (after training saved a checkpoint, or when the tab is shown)."""
        found, problems = list_checkpoints(self.workspace)
        self._external = [c for c in self._external if Path(c.path).is_file()]
        self._checkpoints = found + self._external
        self._fill_combo(self.checkpoint_combo, self._wanted_path(self.checkpoint_combo, "checkpoint"))
        self._fill_combo(self.compare_combo, self._wanted_path(self.compare_combo, "compare_checkpoint"))
        if problems:
            self._say("Some checkpoints could not be read: " + "; ".join(problems), error=True)
        self._on_model_choice()

    def _wanted_path(self, combo: QComboBox, settings_key: str):
        """What the combo should show after a refill: its current choice, else last session's."""
        info = self._info_at(combo)
        if info is not None:
            return str(info.path)
        saved = self.settings.get(SETTINGS_KEY)
        return saved.get(settings_key) if isinstance(saved, dict) else None

    def _fill_combo(self, combo: QComboBox, select_path) -> None:
        combo.blockSignals(True)
        combo.clear()
        for i, info in enumerate(self._checkpoints):
            combo.addItem(info.describe(), i)
            combo.setItemData(combo.count() - 1, str(info.path), Qt.ToolTipRole)
        if not self._checkpoints:
            combo.addItem("No checkpoints yet: train a model, or open a checkpoint file", None)
        paths = [str(c.path) for c in self._checkpoints]
        if select_path in paths:
            combo.setCurrentIndex(paths.index(select_path))
        elif combo is self.compare_combo and len(paths) > 1:
            combo.setCurrentIndex(1)  # compare with something other than the first by default
        combo.blockSignals(False)

    def _info_at(self, combo: QComboBox) -> CheckpointInfo | None:
        i = combo.currentData()
        return self._checkpoints[i] if isinstance(i, int) and 0 <= i < len(self._checkpoints) else None

    def selected_checkpoints(self) -> list[CheckpointInfo]:
        """The checkpoints that will answer: the chosen one, plus the compared one in compare mode."""
        chosen = [self._info_at(self.checkpoint_combo)]
        if self.compare_check.isChecked():
            chosen.append(self._info_at(self.compare_combo))
        return [c for c in chosen if c is not None]

    def export_checkpoint(self):
        """Open the export dialog for the chosen checkpoint file (non-modal; returned for tests)."""
        from gptstudio.gui.export_dialog import ExportDialog

        info = self._info_at(self.checkpoint_combo)
        if info is None:
            return None
        dialog = ExportDialog(str(info.path), self.workspace.home, self, is_file=True)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def open_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a checkpoint", str(self.workspace.home), "Checkpoints (*.pt *.pth *.ckpt);;All files (*)"
        )
        if path:
            self.add_checkpoint_file(path)

    def add_checkpoint_file(self, path) -> CheckpointInfo | None:
        """Add a checkpoint file from anywhere to the lists and select it."""
        try:
            info = describe_checkpoint(path)
        except GPTStudioError as e:
            self._say(str(e), error=True)
            return None
        self._external = [c for c in self._external if c.path != info.path] + [info]
        self._checkpoints = [c for c in self._checkpoints if c.path != info.path] + [info]
        self._fill_combo(self.checkpoint_combo, str(info.path))
        self._fill_combo(self.compare_combo, self._wanted_path(self.compare_combo, "compare_checkpoint"))
        self._on_model_choice()
        return info

    # ================================================================================ model loading
    def _on_model_choice(self, *_args) -> None:
        keep = {c.key for c in self.selected_checkpoints()}
        # one model per selected checkpoint stays in memory; a rewritten file has a new key
        for key in [k for k in self._samplers if k not in keep]:
            del self._samplers[key]
        self._load_errors = {k: v for k, v in self._load_errors.items() if k in keep}
        self._ensure_loaded()
        self._save_settings_soon()
        self._update_controls()

    def _ensure_loaded(self) -> bool:
        """Start loading what is selected and not loaded yet; True when everything is ready."""
        ready = True
        for info in self.selected_checkpoints():
            if info.key in self._samplers:
                continue
            ready = False
            if info.key not in self._loads and info.key not in self._load_errors:
                worker = LoadWorker(info, self.workspace.home)
                worker.sig_loaded.connect(self._on_loaded)
                worker.sig_failed.connect(self._on_load_failed)
                worker.sig_finished.connect(self._on_load_finished)
                self._loads[info.key] = worker
                start_worker(worker, self)
        self._show_model_status()
        return ready

    def _on_loaded(self, info: CheckpointInfo, sampler) -> None:
        if info.key in {c.key for c in self.selected_checkpoints()}:
            self._samplers[info.key] = sampler
        self._show_model_status()
        self._check_prompt()
        if self._pending_send and self.models_ready():
            self._pending_send = False
            self.send()
        self._update_controls()

    def _on_load_failed(self, info: CheckpointInfo, message: str) -> None:
        self._pending_send = False
        self._load_errors[info.key] = message
        self._show_model_status()
        self._update_controls()

    def _on_load_finished(self, info: CheckpointInfo) -> None:
        self._loads.pop(info.key, None)

    def _show_model_status(self) -> None:
        parts, failed = [], False
        for info in self.selected_checkpoints():
            sampler = self._samplers.get(info.key)
            if info.key in self._load_errors:
                failed = True
                parts.append(f"Could not load {info.short_name}: {self._load_errors[info.key]}")
            elif sampler is None:
                parts.append(f"Loading {info.short_name}…")
            else:
                n = sum(p.numel() for p in sampler.model.parameters()) / 1e6
                parts.append(
                    f"{info.short_name}: {n:.2f}M parameters, {sampler.tokenizer.kind} tokenizer, "
                    f"context {sampler.block_size}, on {sampler.device}"
                )
        self.model_status.setStyleSheet(ERROR_STYLE if failed else "")
        self.model_status.setText("  |  ".join(parts))

    def models_ready(self) -> bool:
        """Every selected checkpoint's model is loaded."""
        chosen = self.selected_checkpoints()
        return bool(chosen) and all(c.key in self._samplers for c in chosen)

    def _selected_samplers(self) -> list:
        return [self._samplers[c.key] for c in self.selected_checkpoints() if c.key in self._samplers]

    # ================================================================================== prompt check
    def mode(self) -> str:
        return self.mode_combo.currentData()

    def build_prompt(self, text: str, history: bool = True) -> str:
        """What the model continues: the transcript (chat) or the text itself (complete)."""
        if self.mode() == "chat":
            return chat_prompt((self.conversation.turns() if history else []) + [("user", text)])
        return text

    def unknown_chars(self, prompt: str) -> list[str]:
        """Characters of the prompt that a selected (char-level) model has never seen."""
        unknown = set()
        for sampler in self._selected_samplers():
            unknown.update(sampler.unknown_chars(prompt))
        return sorted(unknown)

    def _check_prompt(self) -> bool:
        """Show which characters the model cannot read; True if the prompt can be sent as it is."""
        # only the new message counts: characters of earlier turns were already dropped once accepted
        unknown = self.unknown_chars(self.build_prompt(self.prompt_input.toPlainText(), history=False))
        if not unknown:
            self.prompt_warning.clear()
        elif self.drop_unknown_check.isChecked():
            self.prompt_warning.setText(
                f"These characters will be left out (the model never saw them): {_chars_list(unknown)}."
            )
        else:
            self.prompt_warning.setText(
                f"The model never saw these characters: {_chars_list(unknown)}. "
                "Edit them out, or tick “Drop unknown characters” to send without them."
            )
        visible = bool(unknown)
        self.prompt_warning.setVisible(visible)
        self.drop_unknown_check.setVisible(visible or self.drop_unknown_check.isChecked())
        self._update_controls()
        return not unknown or self.drop_unknown_check.isChecked()

    # ====================================================================================== sending
    def generating(self) -> bool:
        return bool(self._workers)

    def sample_settings(self, seed: int, drop_unknown: bool = False) -> SampleSettings:
        """The engine settings for the next reply, from the form (raises SamplerError if invalid)."""
        v = self.sampling.values()
        stops = parse_stop_sequences(v["stop_text"])
        if self.mode() == "chat":
            stops = tuple(dict.fromkeys(stops + chat_stops()))
        return SampleSettings(
            max_new_tokens=v["max_new_tokens"],
            temperature=v["temperature"],
            top_k=v["top_k"] or None,
            top_p=v["top_p"],
            repetition_penalty=v["repetition_penalty"],
            seed=seed,
            stop=stops,
            num_samples=v["num_samples"] if self.mode() == "complete" else 1,
            drop_unknown=drop_unknown,
            slide="fast",
        )

    def send(self) -> bool:
        """Send the prompt box's text; True if a reply started (False: nothing to send, a model is
        still loading and will answer when ready, or the prompt needs fixing first)."""
        if self.generating():
            return False
        text = self.prompt_input.toPlainText()
        if self.mode() == "chat" and not text.strip():
            self._say("Type a message first.")
            return False
        if not self.selected_checkpoints():
            self._say(
                "Choose a checkpoint first: train a model in the Training tab, or open a checkpoint file.", error=True
            )
            return False
        if not self._ensure_loaded():
            self._pending_send = True
            self._say("Loading the model; your message goes out as soon as it is ready.")
            return False
        if not self._check_prompt():
            self._say("The message was not sent: it has characters the model cannot read.", error=True)
            return False
        seed = self.sampling.values()["seed"]
        seed = random.randrange(2**31) if seed == RANDOM_SEED else seed
        prompt = self.build_prompt(text)
        try:
            settings = self.sample_settings(seed, drop_unknown=bool(self.unknown_chars(prompt)))
        except GPTStudioError as e:
            self._say(str(e), error=True)
            return False
        self._start_reply(text, prompt, settings)
        return True

    def _start_reply(self, text: str, prompt: str, settings: SampleSettings) -> None:
        sources = self.selected_checkpoints()
        self.conversation.add("user", text)
        self.chat_view.add_user(text)
        self.prompt_input.clear()
        group = self.conversation.next_group()
        titles = self._pane_titles(sources, settings.num_samples)
        row = self.chat_view.add_reply(titles, group)
        for pane in row.panes:
            pane.tokenHovered.connect(self._on_token_hovered)
            pane.tokenClicked.connect(self._on_token_clicked)
            pane.token_view = self.token_view_check.isChecked()
        self._reply = {
            "row": row,
            "sources": sources,
            "group": group,
            "settings": settings,
            "mode": self.mode(),
            "stats": {},
            "errors": {},
            "start": time.perf_counter(),
            "received": 0,
        }
        for tag, info in enumerate(sources):
            worker = GenerationWorker(self._samplers[info.key], prompt, settings, tag)
            worker.sig_pieces.connect(self._on_pieces)
            worker.sig_done.connect(self._on_stream_done)
            worker.sig_failed.connect(self._on_stream_failed)
            worker.sig_finished.connect(self._on_worker_finished)
            self._workers[tag] = worker
            start_worker(worker, self)
        self._say("")
        self._update_controls()

    @staticmethod
    def _pane_titles(sources: list[CheckpointInfo], n: int) -> list[str]:
        titles = []
        for info in sources:
            name = info.short_name if len(sources) > 1 or n == 1 else ""
            for j in range(n):
                titles.append(" · ".join(t for t in (name, f"sample {j + 1}" if n > 1 else "") if t))
        return titles

    # ==================================================================================== streaming
    def _pane(self, tag: int, sample: int):
        n = self._reply["settings"].num_samples
        return self._reply["row"].panes[tag * n + sample]

    def _on_pieces(self, tag: int, batch: list) -> None:
        if self._reply is None:
            return
        by_pane: dict = {}
        for piece in batch:
            by_pane.setdefault(self._pane(tag, piece.sample), []).append(piece)
        for pane, pieces in by_pane.items():
            pane.append(pieces)
        self.update_count += 1
        self._reply["received"] += len(batch)
        elapsed = time.perf_counter() - self._reply["start"]
        rate = self._reply["received"] / elapsed if elapsed > 0 else 0.0
        self.generation_stats.setText(f"Generating… {self._reply['received']} tokens · {rate:.0f} tokens/s")

    def _on_stream_done(self, tag: int, stats: dict) -> None:
        self._reply["stats"][tag] = stats

    def _on_stream_failed(self, tag: int, message: str) -> None:
        self._reply["errors"][tag] = message

    def _on_worker_finished(self, tag: int) -> None:
        self._workers.pop(tag, None)
        if not self._workers and self._reply is not None:
            self._finish_reply()

    def _finish_reply(self) -> None:
        """Every answer is in: cut chat replies at the next turn, record them, show the numbers."""
        reply, self._reply = self._reply, None
        n = reply["settings"].num_samples
        summary = []
        for tag, info in enumerate(reply["sources"]):
            stats, error = reply["stats"].get(tag, {}), reply["errors"].get(tag)
            for j in range(n):
                pane = reply["row"].panes[tag * n + j]
                self._finish_pane(pane, info, stats, error, reply)
            if stats:
                summary.append(self._stats_text(stats, len(reply["sources"]) > 1 and info.short_name))
        self.generation_stats.setText("  |  ".join(summary))
        self._update_controls()
        self.sig_reply_finished.emit()

    def _finish_pane(self, pane, info: CheckpointInfo, stats: dict, error, reply: dict) -> None:
        if error:
            pane.show_error(f"Generation failed: {error}")
            return
        stopped = " · stopped" if stats.get("stopped") else ""
        pane.set_footer(
            f"{len(pane.pieces)} tokens · {stats.get('tokens_per_sec', 0):.0f} tokens/s · "
            f"seed {reply['settings'].seed}{stopped}"
        )
        if reply["mode"] == "chat":
            pane.set_final_text(cut_reply(pane.text))
        elif not pane.pieces:
            pane.render()  # nothing came: clear the "…"
        self.conversation.add(
            "model",
            pane.reply_text,
            label=pane.title or info.short_name,
            group=reply["group"],
            meta={
                "checkpoint": info.short_name,
                "seed": reply["settings"].seed,
                "tokens": len(pane.pieces),
                "stopped": bool(stats.get("stopped")),
                "tokens_per_sec": round(stats.get("tokens_per_sec", 0.0), 1),
            },
        )

    @staticmethod
    def _stats_text(stats: dict, name) -> str:
        text = f"{stats['tokens']} tokens · {stats['tokens_per_sec']:.0f} tokens/s"
        if name:  # side by side: keep it to one line
            return f"{name}: {text}"
        first = stats.get("first_token_s")
        return text + f" · {stats['seconds']:.2f} s" + (f" · first token {first * 1000:.0f} ms" if first else "")

    def stop(self) -> None:
        """Stop every running generation; each stops before its next token."""
        for worker in self._workers.values():
            worker.cancel()

    # ========================================================================== conversation actions
    def regenerate(self) -> bool:
        """Answer the last user message again."""
        if self.generating():
            return False
        messages = self.conversation.messages
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        if last_user is None:
            self._say("Nothing to regenerate yet.")
            return False
        text = messages[last_user].text
        del messages[last_user:]
        rows = self.chat_view.rows()
        while rows and isinstance(rows[-1], ReplyRow):
            self.chat_view.remove(rows.pop())
        if rows and isinstance(rows[-1], UserBubble):
            self.chat_view.remove(rows.pop())
        self.prompt_input.setPlainText(text)
        return self.send()

    def clear(self) -> None:
        if self.generating():
            return  # the reply being written belongs to this conversation: stop it first
        self.conversation = Conversation(mode=self.mode())
        self.chat_view.clear()
        self.generation_stats.clear()
        self._check_prompt()
        self._update_controls()

    def save_conversation_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the conversation", str(self.workspace.home), "JSON (*.json);;Markdown (*.md)"
        )
        if path:
            self.save_conversation_to(path)

    def save_conversation_to(self, path) -> bool:
        conv = self.conversation
        conv.mode = self.mode()
        info = self._info_at(self.checkpoint_combo)
        conv.checkpoint = info.short_name if info else ""
        conv.settings = self.sampling.values()
        try:
            save_conversation(conv, path)
        except GPTStudioError as e:
            self._say(str(e), error=True)
            return False
        self._say(f"Saved the conversation to {path}.")
        return True

    def open_conversation_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a conversation",
            str(self.workspace.home),
            "Conversations (*.json *.md *.markdown);;All files (*)",
        )
        if path:
            self.open_conversation_from(path)

    def open_conversation_from(self, path) -> bool:
        if self.generating():
            self._say("Stop the reply being generated before opening a conversation.", error=True)
            return False
        try:
            conv = load_conversation(path)
        except GPTStudioError as e:
            self._say(str(e), error=True)
            return False
        self.chat_view.clear()
        self.conversation = conv
        self.mode_combo.setCurrentIndex(max(0, self.mode_combo.findData(conv.mode)))
        self._show_messages(conv)
        self._say(f"Opened {Path(path).name}: {len(conv.messages)} messages.")
        self._check_prompt()
        self._update_controls()
        return True

    def _show_messages(self, conv: Conversation) -> None:
        i, messages = 0, conv.messages
        while i < len(messages):
            m = messages[i]
            if m.role == "user":
                self.chat_view.add_user(m.text)
                i += 1
                continue
            side = [m]  # model messages of one group answered side by side
            while (
                i + len(side) < len(messages)
                and messages[i + len(side)].role == "model"
                and messages[i + len(side)].group == m.group
            ):
                side.append(messages[i + len(side)])
            row = self.chat_view.add_reply([s.label for s in side], m.group)
            for pane, msg in zip(row.panes, side):
                meta = msg.meta
                pane.set_footer(f"{meta['tokens']} tokens · seed {meta.get('seed', '?')}" if "tokens" in meta else " ")
                pane.set_final_text(msg.text)
            i += len(side)

    # ===================================================================================== token view
    def _on_token_view(self, on: bool) -> None:
        for row in self.chat_view.rows():
            for pane in getattr(row, "panes", []):
                pane.set_token_view(on)
        self._save_settings_soon()

    def _on_token_hovered(self, pane, index: int) -> None:
        if not 0 <= index < len(pane.pieces):
            QToolTip.hideText()
            return
        text = self.token_html(pane, index)
        self.token_details.setText(text)
        QToolTip.showText(QCursor.pos(), text, pane.body)

    def _on_token_clicked(self, pane, index: int) -> None:
        if 0 <= index < len(pane.pieces):
            self.token_details.setText(self.token_html(pane, index))

    @staticmethod
    def token_html(pane, index: int) -> str:
        """The chosen token, its probability, and the top alternatives, as a small table."""
        piece = pane.pieces[index]
        rows = []
        for token, prob in piece.top:
            mark = "<b>" if token == piece.token else ""
            end = "</b>" if mark else ""
            rows.append(
                f"<tr><td><code>{mark}{html.escape(repr(token))}{end}</code></td>"
                f"<td align='right'>{mark}{prob * 100:.1f}%{end}</td></tr>"
            )
        return (
            f"Token {index + 1}: <code>{html.escape(repr(piece.token or piece.text))}</code> "
            f"— probability {piece.prob * 100:.1f}%<br><br>Most likely at this point:"
            f"<table cellspacing='6'>{''.join(rows)}</table>"
        )

    # ============================================================================== state & settings
    def _on_mode_changed(self) -> None:
        self.sampling.num_samples.setEnabled(self.mode() == "complete")
        placeholder = (
            "Type a message. Enter sends, Shift+Enter starts a new line."
            if self.mode() == "chat"
            else "Type the start of a text for the model to continue (Enter sends)."
        )
        self.prompt_input.setPlaceholderText(placeholder)
        self._check_prompt()
        self._save_settings_soon()

    def _update_controls(self) -> None:
        busy = self.generating()
        can_send = bool(self.selected_checkpoints()) and not busy and not self._load_failed()
        self.send_button.setEnabled(can_send)
        self.stop_button.setEnabled(busy)
        self.regenerate_button.setEnabled(not busy and any(m.role == "user" for m in self.conversation.messages))
        self.open_button.setEnabled(not busy)
        self.clear_button.setEnabled(not busy)
        self.export_checkpoint_button.setEnabled(self._info_at(self.checkpoint_combo) is not None)
        self.compare_combo.setEnabled(self.compare_check.isChecked())
        has_runs = bool(self._checkpoints)
        self.chat_view.set_placeholder(
            ""
            if has_runs
            else "No checkpoints yet. Train a model in the Training tab, or open a "
            "checkpoint file, then talk to it here."
        )

    def _load_failed(self) -> bool:
        return any(c.key in self._load_errors for c in self.selected_checkpoints())

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(ERROR_STYLE if error else "")
        self.message.setText(text)
        self.message.setVisible(bool(text))
        if text:
            self.sig_status.emit(text)

    def _restore_settings(self) -> None:
        saved = self.settings.get(SETTINGS_KEY, {})
        saved = saved if isinstance(saved, dict) else {}
        self.sampling.set_values(saved.get("sampling", {}))
        self.mode_combo.setCurrentIndex(max(0, self.mode_combo.findData(saved.get("mode", "chat"))))
        self.token_view_check.setChecked(bool(saved.get("token_view", False)))
        self.drop_unknown_check.setChecked(bool(saved.get("drop_unknown", False)))
        for path in (
            saved.get("external_checkpoints", []) if isinstance(saved.get("external_checkpoints"), list) else []
        ):
            try:
                self._external.append(describe_checkpoint(path))
            except (GPTStudioError, TypeError):
                continue  # a file that moved away is simply no longer offered
        self._on_mode_changed()

    def _save_settings_soon(self) -> None:
        self._save_timer.start()

    def _save_settings(self) -> None:
        primary, compare = self._info_at(self.checkpoint_combo), self._info_at(self.compare_combo)
        self.settings.set(
            SETTINGS_KEY,
            {
                "sampling": self.sampling.values(),
                "mode": self.mode(),
                "token_view": self.token_view_check.isChecked(),
                "drop_unknown": self.drop_unknown_check.isChecked(),
                "checkpoint": str(primary.path) if primary else None,
                "compare_checkpoint": str(compare.path) if compare else None,
                "external_checkpoints": [str(c.path) for c in self._external],
            },
        )

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self.generating():
            self.refresh_checkpoints()

    def shutdown(self) -> None:
        """Stop generating and wait for the worker threads (the window calls this before closing)."""
        self.stop()
        for worker in list(self._loads.values()):
            worker.cancel()
        if self._save_timer.isActive():
            self._save_timer.stop()
            self._save_settings()
        deadline = time.monotonic() + 15
        for _worker, thread in list(getattr(self, "_live_jobs", ())):
            try:
                # the job ends within a token; its thread's event loop starts after the job returns, so
                # keep asking it to quit (and let queued signals through) until it has stopped
                while thread.isRunning() and time.monotonic() < deadline:
                    thread.quit()
                    QApplication.processEvents()
                    thread.wait(20)
            except RuntimeError:
                pass  # Qt already deleted it: it had finished
