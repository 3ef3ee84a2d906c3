"""The Prepare panel's tokenizer choice: char, gpt2 or a BPE trained on the text, the BPE's vocabulary
size (its default follows the amount of text listed, with the reason), and a line of help."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from gptstudio.core import bpe
from gptstudio.gui.settings import AppSettings

# the choices of the tokenizer combo, in order: what the list shows, and the one-line help below it
TOKENIZER_LABELS = {
    "char": "char: one token per character",
    "gpt2": "gpt2: GPT-2's 50,257 tokens",
    "bpe": "bpe: BPE trained on this text",
}
TOKENIZER_HELP = {
    "char": "One token per character. Small vocabulary, best for a first model on one text.",
    "gpt2": "GPT-2's byte-pair encoding (50,257 tokens): about 4 characters per token; "
    "needed to fine-tune GPT-2 weights.",
    "bpe": "A vocabulary learned from these files: their frequent pieces become single tokens, with far "
    "fewer embedding rows than GPT-2's. Any text still encodes.",
}
TOKENIZER_KEY = "dataset.tokenizer"


class VocabSizeSpin(QSpinBox):
    """The BPE vocabulary size: the arrows and Page Up/Down double or halve it (sizes that matter differ by
    factors, not by one); any number in the range can be typed."""

    def __init__(self, parent=None, **kwargs):
        super().__init__(parent, **kwargs)
        self.setRange(bpe.VOCAB_MIN, bpe.VOCAB_MAX)
        self.setGroupSeparatorShown(True)

    def stepBy(self, steps: int) -> None:
        value = self.value()
        for _ in range(abs(steps)):
            value = value * 2 if steps > 0 else value // 2
        self.setValue(max(self.minimum(), min(self.maximum(), value)))


class TokenizerChoice(QObject):
    """The widgets of the choice, placed by `add_rows(form)` into the panel's form.
    Signals out: `sig_tokenizer_changed(kind)`, `sig_vocab_size_changed(n)`.
    Methods in: set_tokenizer, set_vocab_size, use_default_vocab_size, set_input_bytes, set_enabled;
    read: tokenizer, vocab_size, default_vocab_size."""

    sig_tokenizer_changed = Signal(str)
    sig_vocab_size_changed = Signal(int)

    def __init__(self, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self._vocab_typed = False  # the person chose a vocabulary size: stop following the text's size
        self._input_bytes = 0
        self._form: QFormLayout | None = None
        self.combo = QComboBox(objectName="tokenizerCombo")
        for kind, help_text in TOKENIZER_HELP.items():
            self.combo.addItem(TOKENIZER_LABELS[kind], kind)
            self.combo.setItemData(self.combo.count() - 1, help_text, Qt.ItemDataRole.ToolTipRole)
        self.help = QLabel(objectName="tokenizerHelp", wordWrap=True)
        self.help.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # dimmed, theme-aware
        self.vocab_spin = VocabSizeSpin(objectName="bpeVocabSpin")
        self.vocab_spin.setToolTip(
            f"Ordinary tokens the BPE learns ({bpe.VOCAB_MIN:,} to {bpe.VOCAB_MAX:,}): the 256 bytes, then one "
            "token per merge. The special tokens (end of text, chat turns) come after them."
        )
        self.vocab_default_button = QPushButton("Default", objectName="bpeVocabDefaultButton")
        self.vocab_default_button.setToolTip("The size chosen from the amount of text.")
        self.vocab_default_button.clicked.connect(self.use_default_vocab_size)
        self.vocab_reason = QLabel(objectName="bpeVocabReason", wordWrap=True)
        self.vocab_reason.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.vocab_row = QWidget()
        row = QHBoxLayout(self.vocab_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.vocab_spin)
        row.addWidget(self.vocab_default_button)
        row.addStretch(1)

    def add_rows(self, form: QFormLayout) -> None:
        """Tokenizer, then its help, or for a BPE its vocabulary size and the reason for the default;
        then the remembered choice is restored."""
        self._form = form
        form.addRow("&Tokenizer:", self.combo)
        form.addRow("", self.help)
        form.addRow("&Vocabulary size:", self.vocab_row)
        form.addRow("", self.vocab_reason)
        self.set_tokenizer(self.settings.get(TOKENIZER_KEY, "char"))
        self.use_default_vocab_size()
        self._on_tokenizer_changed(self.tokenizer())
        self.vocab_spin.valueChanged.connect(self._on_vocab_size_changed)
        self.combo.currentIndexChanged.connect(lambda _i: self._on_tokenizer_changed(self.tokenizer()))

    # ---- methods in

    def set_tokenizer(self, kind: str) -> None:
        if kind in TOKENIZER_HELP:
            self.combo.setCurrentIndex(self.combo.findData(kind))

    def set_vocab_size(self, n: int) -> None:
        self.vocab_spin.setValue(n)

    def use_default_vocab_size(self) -> None:
        self._vocab_typed = False
        self.vocab_spin.setValue(self.default_vocab_size()[0])
        self._show_vocab_reason()

    def set_input_bytes(self, total: int) -> None:
        """The size of the files listed: the default vocabulary size follows it until the person picks one."""
        self._input_bytes = int(total)
        if self._vocab_typed:
            self._show_vocab_reason()
        else:
            self.use_default_vocab_size()

    def set_enabled(self, tokenizer: bool, vocab: bool) -> None:
        self.combo.setEnabled(tokenizer)
        self.vocab_row.setEnabled(vocab)

    # ---- read

    def tokenizer(self) -> str:
        return self.combo.currentData()

    def vocab_size(self) -> int:
        """The BPE's vocabulary size (ordinary tokens), when the tokenizer is bpe."""
        return self.vocab_spin.value()

    def default_vocab_size(self) -> tuple[int, str]:
        """The size chosen from the amount of text listed, and why."""
        return bpe.default_vocab_size(self._input_bytes)

    # ---- internals

    def _on_tokenizer_changed(self, kind: str) -> None:
        self.help.setText(TOKENIZER_HELP.get(kind, ""))
        if self._form is not None:
            # for bpe the size's reason takes the help's place (the choice's tooltip still explains it)
            for widget in (self.vocab_row, self.vocab_reason):
                self._form.setRowVisible(widget, kind == "bpe")
            self._form.setRowVisible(self.help, kind != "bpe")
        self.settings.set(TOKENIZER_KEY, kind, save=False)
        self.sig_tokenizer_changed.emit(kind)

    def _on_vocab_size_changed(self, value: int) -> None:
        self._vocab_typed = value != self.default_vocab_size()[0]
        self._show_vocab_reason()
        self.sig_vocab_size_changed.emit(value)

    def _show_vocab_reason(self) -> None:
        reason = self.default_vocab_size()[1]
        self.vocab_reason.setText(reason if not self._vocab_typed else f"Default for this text: {reason}")
        self.vocab_default_button.setEnabled(self._vocab_typed)
