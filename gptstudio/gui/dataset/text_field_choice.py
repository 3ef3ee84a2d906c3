"""Which field of JSON Lines/JSON records (or column of CSV/TSV files) holds the text: detected for each
file, or one chosen for all. Shown only while such files are in the list."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from gptstudio.core.documents import RECORD_KINDS
from gptstudio.core.textfiles import TextFileInfo

DETECTED = "Detected for each file"


class TextFieldChoice(QWidget):
    """Signals out: `sig_changed(str | None)` (None: detected). Methods in: set_files(files), set_field(name);
    read: field()."""

    sig_changed = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.combo = QComboBox(objectName="textFieldCombo")
        self.combo.setToolTip(
            "The field of each JSON record (or the CSV column) that holds the text to train on. Detected: "
            "a field named text, content, body, … or else the one with the most text."
        )
        self.detected = QLabel(objectName="textFieldDetected")
        label = QLabel("Te&xt field:")
        label.setBuddy(self.combo)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.detected)
        self.combo.currentIndexChanged.connect(lambda _i: self.sig_changed.emit(self.field()))
        self.hide()

    def set_files(self, files: list[TextFileInfo]) -> None:
        """Offer the text fields of the record files among these (keeping the choice if still offered)."""
        records = [info for info in files if info.kind in RECORD_KINDS]
        fields: list[str] = []
        for info in records:
            fields += [f for f in info.fields if f not in fields]
        current = self.field()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(DETECTED, None)
        for name in fields:
            self.combo.addItem(name, name)
        index = self.combo.findData(current) if current else 0
        self.combo.setCurrentIndex(max(0, index))
        self.combo.blockSignals(False)
        found = sorted({info.text_field for info in records if info.text_field})
        self.detected.setText(f"(detected: {', '.join(found)})" if found else "")
        self.setVisible(bool(records))
        if self.field() != current:
            self.sig_changed.emit(self.field())

    def field(self) -> str | None:
        return self.combo.currentData()

    def set_field(self, name: str | None) -> bool:
        """Choose a field (None: detected for each file); False if it is not offered."""
        index = self.combo.findData(name) if name else 0
        if index < 0:
            return False
        self.combo.setCurrentIndex(index)
        return True
