"""MultiNodeDialog: the torchrun lines that run the same job on several machines, ready to copy."""

from __future__ import annotations

from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
)

from gptstudio.core.config import TrainConfig, save_config
from gptstudio.core.launch import multinode_commands
from gptstudio.core.workspace import Workspace


class MultiNodeDialog(QDialog):
    """Shows the torchrun lines that run the same job on several machines; the text can be copied."""

    def __init__(self, workspace: Workspace, cfg: TrainConfig | None, nproc: int, parent=None):
        super().__init__(parent)
        run_name = (cfg.run_name if cfg else "") or workspace.unique_run_name(
            f"{(cfg.dataset if cfg else '') or 'run'}-multinode"
        )
        self.setObjectName("multiNodeDialog")
        self.setWindowTitle("Train on several machines")
        self.cfg, self.run_name = cfg, run_name
        self.nodesSpin = QSpinBox()
        self.nodesSpin.setRange(2, 1024)
        self.nodesSpin.setValue(2)
        self.nprocSpin = QSpinBox()
        self.nprocSpin.setRange(1, 1024)
        self.nprocSpin.setValue(nproc)
        self.addrEdit = QLineEdit("192.168.1.10")
        self.portSpin = QSpinBox()
        self.portSpin.setRange(1024, 65535)
        self.portSpin.setValue(29500)
        form = QFormLayout()
        form.addRow("Machines (nodes):", self.nodesSpin)
        form.addRow("Processes per machine:", self.nprocSpin)
        form.addRow("Address of machine 0:", self.addrEdit)
        form.addRow("Port on machine 0:", self.portSpin)
        self.text = QPlainTextEdit()
        self.text.setObjectName("multiNodeText")
        self.text.setReadOnly(True)
        self.text.setMinimumSize(760, 260)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.TypeWriter)
        self.text.setFont(mono)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        copy = buttons.addButton("Copy", QDialogButtonBox.ActionRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        save = buttons.addButton("Save settings as JSON…", QDialogButtonBox.ActionRole)
        save.setEnabled(cfg is not None)
        save.clicked.connect(self.save_settings)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.text)
        lay.addWidget(buttons)
        for w in (self.nodesSpin, self.nprocSpin, self.portSpin):
            w.valueChanged.connect(self.update_text)
        self.addrEdit.textChanged.connect(self.update_text)
        self.update_text()

    def update_text(self) -> None:
        nodes = self.nodesSpin.value()
        lines = [
            f"# Run '{self.run_name}' on {nodes} machines x {self.nprocSpin.value()} processes.",
            "# 1. Save the settings (button below) as train.json and copy it to every machine.",
            f"# 2. Every machine needs GPT Studio and the dataset "
            f"'{self.cfg.dataset if self.cfg else 'NAME'}' (copy its folder under datasets/).",
            "# 3. Machine 0's address and port must be reachable from the others.",
            "# 4. Run one line per machine; machine 0 (rank 0) writes the checkpoints.",
            "",
        ]
        cmds = multinode_commands(
            nodes,
            self.nprocSpin.value(),
            self.addrEdit.text().strip() or "ADDRESS",
            self.portSpin.value(),
            "train.json",
            self.run_name,
        )
        for rank, cmd in enumerate(cmds):
            lines += [f"# machine {rank}", cmd, ""]
        self.text.setPlainText("\n".join(lines))

    def save_settings(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save settings", "train.json", "JSON (*.json)")
        if path and self.cfg is not None:
            cfg = TrainConfig.from_dict({**self.cfg.to_dict(), "run_name": self.run_name})
            save_config(cfg, path)
