"""Export from the Training tab's runs list and from the Playground's checkpoint picker."""

import json

import pytest

from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.workspace import Workspace
from gptstudio.gui.playground_tab import PlaygroundTab
from gptstudio.gui.settings import AppSettings
from gptstudio.gui.training_tab import TrainingTab


@pytest.fixture
def run(home):
    chars = list("\n abcdefgh")
    args = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, vocab_size=len(chars), bias=False, dropout=0.0)
    save_checkpoint(
        {
            "model": GPT(GPTConfig(**args)).state_dict(),
            "model_args": args,
            "iter_num": 3,
            "best_val_loss": 2.0,
            "config": {},
            "dataset": "d",
            "tokenizer": {"tokenizer": "char", "vocab_size": len(chars), "chars": chars},
        },
        home / "runs" / "exp" / "ckpt.pt",
    )
    return "exp"


def finish_export(qtbot, dialog, out, fmt_index=0):
    dialog.format_combo.setCurrentIndex(fmt_index)
    dialog.out_edit.setText(str(out))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.status.text().startswith(("Exported", "Export failed")), timeout=30000)
    qtbot.waitUntil(dialog.export_button.isEnabled, timeout=10000)  # the worker is done
    return dialog.status.text()


def test_export_from_runs_list(qtbot, home, run, tmp_path):
    tab = TrainingTab(Workspace.open(home), AppSettings(tmp_path / "s.json"))
    qtbot.addWidget(tab)
    runs = tab.runs  # the runs list panel
    with qtbot.waitSignal(runs.refreshed, timeout=30_000):
        runs.refresh()
    assert not runs.exportRunButton.isEnabled()
    tab.select_runs([run])
    assert runs.exportRunButton.isEnabled()
    dialog = runs.export_selected()
    text = finish_export(qtbot, dialog, tmp_path / "hf")
    assert text.startswith("Exported"), text
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["n_layer"] == 1
    assert (tmp_path / "hf" / "char_vocab.json").is_file()
    # a second export into the same, now non-empty, folder is refused inline
    assert "not empty" in finish_export(qtbot, dialog, tmp_path / "hf")
    dialog.close()


def test_export_from_playground_picker(qtbot, home, run, tmp_path):
    tab = PlaygroundTab(Workspace.open(home), AppSettings(tmp_path / "s.json"))
    qtbot.addWidget(tab)
    tab.refresh_checkpoints()
    qtbot.waitUntil(lambda: not tab.models.is_refreshing(), timeout=30_000)
    assert tab.models.picker.export_button.isEnabled()
    dialog = tab.models.picker.export_checkpoint()
    text = finish_export(qtbot, dialog, tmp_path / "st", fmt_index=1)
    assert text.startswith("Exported"), text
    assert (tmp_path / "st" / "model.safetensors").is_file()
    dialog.close()
    tab.shutdown()


def test_export_dialog_stays_open_until_its_export_ends(qtbot, home, run, tmp_path, monkeypatch):
    """Closing while exporting would drop the thread doing it: the dialog stays and says so when done."""
    import threading

    from gptstudio.gui import export_dialog

    release = threading.Event()
    real = export_dialog.export_run
    monkeypatch.setattr(export_dialog, "export_run", lambda *a, **k: release.wait(30) and real(*a, **k))
    dialog = export_dialog.ExportDialog(run, home)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.out_edit.setText(str(tmp_path / "later"))
    dialog.export_button.click()
    assert not dialog.export_button.isEnabled()
    dialog.reject()  # Esc or Close
    assert dialog.isVisible() and dialog.status.text() == "Exporting…"
    release.set()
    # the result and then the end of the job arrive as two queued signals: wait for both
    qtbot.waitUntil(
        lambda: dialog.status.text().startswith("Exported") and dialog.export_button.isEnabled(), timeout=30_000
    )
    assert dialog.shutdown(10_000)
    dialog.reject()
    assert not dialog.isVisible()


def test_export_gguf_shows_how_to_use_it(qtbot, home, run, tmp_path):
    from pathlib import Path

    import gguf

    from gptstudio.gui.export_dialog import ExportDialog

    dialog = ExportDialog(run, home)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.quant_combo.isVisible() and dialog.out_label.text() == "Folder"
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("gguf"))
    assert dialog.quant_combo.isVisible() and dialog.out_label.text() == "File"
    assert dialog.out_edit.text() == str(Path.home() / "exp-f16.gguf")  # the default follows the choices
    dialog.quant_combo.setCurrentIndex(dialog.quant_combo.findData("q8_0"))
    assert dialog.out_edit.text() == str(Path.home() / "exp-q8_0.gguf")
    text = finish_export(qtbot, dialog, tmp_path / "exp.gguf", fmt_index=dialog.format_combo.findData("gguf"))
    assert text.startswith(f"Exported to {tmp_path / 'exp.gguf'}"), text
    assert f"ollama create exp -f {tmp_path / 'Modelfile'}" in text and "lms import" in text
    assert "llama-server -m" in text
    reader = gguf.GGUFReader(tmp_path / "exp.gguf")
    assert reader.fields["general.file_type"].contents() == int(gguf.LlamaFileType.MOSTLY_Q8_0)
    assert (tmp_path / "Modelfile").is_file()
    dialog.close()
