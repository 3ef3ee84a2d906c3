"""Compare tokenizers on the files listed, before choosing one: char, gpt2 and a BPE of the chosen size.

For each: tokens per byte of text (and so for the whole text), the vocabulary, and the embedding parameters it
costs a model as wide as the Config tab's. The engine measures them on a sample of the files
(core/tokenizer_compare.py), in this panel's job runner, a moment after the files or the BPE size change.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from gptstudio.core.special_tokens import SPECIAL_TOKENS
from gptstudio.core.tokenizer_compare import TokenizerComparison, compare_tokenizers
from gptstudio.core.units import format_bytes, format_count
from gptstudio.gui.jobs import JobRunner

DEBOUNCE_MS = 400  # after the last change of files or size: typing a size does not start a job per key
DEFAULT_WIDTH = 384  # until the Config tab says (nanoGPT's baby GPT)
COLUMNS = ["Tokenizer", "Tokens per byte", "Tokens in all", "Vocabulary", "Embedding"]


def comparison_rows(comparison: TokenizerComparison, n_embd: int) -> list[list[str]]:
    """The table's texts: one row per tokenizer, in the comparison's order."""
    rows = []
    for s in comparison.stats:
        name = f"bpe {s.vocab_size - len(SPECIAL_TOKENS):,}" if s.kind == "bpe" else s.kind
        rows.append(
            [
                name,
                f"{s.tokens_per_byte:.3f}",
                format_count(s.tokens_per_byte * comparison.input_bytes),
                f"{s.vocab_size:,}",
                format_count(s.embedding_params(n_embd)),
            ]
        )
    return rows


class TokenizerComparePanel(QGroupBox):
    """Signal out: `sig_tokenizer_chosen(kind)` (a row was clicked). Methods in: set_inputs(paths),
    set_bpe_vocab_size(n), set_model_width(n_embd), set_chosen(kind), shutdown; read: comparison(),
    rows(), is_measuring()."""

    sig_tokenizer_chosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__("Compare tokenizers on this text", parent)
        self.setObjectName("tokenizerComparePanel")
        self._paths: list[Path] = []
        self._bpe_size = 2048
        self._n_embd = DEFAULT_WIDTH
        self._chosen = ""
        self._comparison: TokenizerComparison | None = None
        self._job = JobRunner(self)
        self._job.progressed.connect(lambda phase: self.caption.setText(f"Measuring ({phase})…"))
        self._job.succeeded.connect(self._on_measured)
        self._job.failed.connect(self._on_failed)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS, timeout=self._measure)

        self.table = QTableWidget(0, len(COLUMNS), objectName="tokenizerCompareTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)  # compact rows
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip(
            "Fewer tokens per byte: more text fits the context, and each iteration sees more of it. "
            "Click a row to choose that tokenizer."
        )
        self.table.cellClicked.connect(self._on_clicked)
        self.caption = QLabel(objectName="tokenizerCompareCaption", wordWrap=True)
        self.caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addWidget(self.table)
        layout.addWidget(self.caption)
        self._set_header()
        self.hide()  # until there are files to compare on

    # ---- methods in

    def set_inputs(self, paths: list[Path]) -> None:
        self._paths = [Path(p) for p in paths]
        self.setVisible(bool(self._paths))
        self._schedule()

    def set_bpe_vocab_size(self, n: int) -> None:
        if n != self._bpe_size:
            self._bpe_size = n
            self._schedule()

    def set_model_width(self, n_embd: int) -> None:
        """The embedding column follows the model width (no new measurement needed)."""
        self._n_embd = int(n_embd)
        self._set_header()
        self._show()

    def set_chosen(self, kind: str) -> None:
        """Mark the tokenizer chosen in the prepare form."""
        self._chosen = kind
        self._show()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        self._timer.stop()
        self._job.shutdown(timeout_ms)

    # ---- reading

    def comparison(self) -> TokenizerComparison | None:
        return self._comparison

    def rows(self) -> list[list[str]]:
        """The table's texts, row by row."""
        return [
            [self.table.item(r, c).text() for c in range(self.table.columnCount())]
            for r in range(self.table.rowCount())
        ]

    def is_measuring(self) -> bool:
        return self._timer.isActive() or self._job.is_running()

    # ----

    def _schedule(self) -> None:
        self._comparison = None
        if not self._paths:
            self._timer.stop()
            self._job.cancel()
            self._show()
            return
        self.caption.setText("Measuring…")
        self._timer.start()

    def _measure(self) -> None:
        self._job.start(compare_tokenizers, list(self._paths), self._bpe_size)

    def _on_measured(self, comparison: TokenizerComparison) -> None:
        self._comparison = comparison
        self._show()

    def _on_failed(self, message: str) -> None:
        self._comparison = None
        self._show()
        self.caption.setText(f"Cannot compare the tokenizers: {message}")

    def _on_clicked(self, row: int, _column: int) -> None:
        if self._comparison is not None and 0 <= row < len(self._comparison.stats):
            self.sig_tokenizer_chosen.emit(self._comparison.stats[row].kind)

    def _set_header(self) -> None:
        item = QTableWidgetItem(f"Embedding ({self._n_embd} wide)")
        item.setToolTip(
            "Parameters of the token embedding (shared with the output layer) for a model as wide as the "
            "Config tab's n_embd: vocabulary rows × width."
        )
        self.table.setHorizontalHeaderItem(COLUMNS.index("Embedding"), item)

    def _show(self) -> None:
        c = self._comparison
        rows = comparison_rows(c, self._n_embd) if c is not None else []
        self.table.setRowCount(len(rows))
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r, texts in enumerate(rows):
            chosen = c is not None and c.stats[r].kind == self._chosen
            for col, text in enumerate(texts):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(right)
                if chosen:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                if c is not None and c.stats[r].note:
                    item.setToolTip(c.stats[r].note)
                self.table.setItem(r, col, item)
        self.table.setFixedHeight(
            self.table.horizontalHeader().height() + sum(self.table.rowHeight(r) for r in range(len(rows))) + 4
        )
        if c is not None:
            sampled = c.sample_bytes < c.input_bytes
            where = f"a {format_bytes(c.sample_bytes)} sample of the" if sampled else "all"
            self.caption.setText(f"Measured on {where} {format_bytes(c.input_bytes)} of text.")
