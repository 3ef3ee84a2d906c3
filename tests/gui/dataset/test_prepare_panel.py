"""Preparing a dataset from the panel: a worker thread, progress, cancel, errors, remembered choices."""

import json
import re
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from gptstudio.core import dataset as ds
from gptstudio.core.workspace import Workspace
from gptstudio.gui.dataset.messages import ERROR_BOX_NAME
from gptstudio.gui.dataset.prepare_panel import PreparePanel
from gptstudio.gui.settings import AppSettings

from .helpers import WAIT_MS, Gate, LoopProbe, find


@pytest.fixture
def settings():
    return AppSettings()


@pytest.fixture
def panel(qtbot, home, settings):
    p = PreparePanel(Workspace.open(home), settings)
    qtbot.addWidget(p)
    p.show()
    yield p
    p.shutdown()


def big_text(path: Path, megabytes: int) -> Path:
    line = "It was the best of times, it was the worst of times, line {:08d}.\n"
    lines = (megabytes * 1024 * 1024) // len(line.format(0))
    path.write_text("".join(line.format(i) for i in range(lines)), encoding="utf-8")
    return path


def hold_at_first_progress(monkeypatch, gate: Gate):
    """The preparation waits in its thread at its first progress report until the gate opens."""
    real = ds.prepare_dataset

    def held(*args, report, **kwargs):
        return real(*args, report=gate.hold(report), **kwargs)

    monkeypatch.setattr(ds, "prepare_dataset", held)


def test_prepare_makes_the_dataset(qtbot, panel, poem, home):
    panel.set_name("my_poem")
    busy = []
    panel.sig_busy_changed.connect(busy.append)
    with qtbot.waitSignal(panel.sig_prepared, timeout=WAIT_MS) as prepared:
        assert panel.prepare([poem])
        assert panel.is_preparing() and not find(panel, "prepareButton").isEnabled()
    qtbot.waitUntil(lambda: not panel.is_preparing(), timeout=WAIT_MS)
    meta = json.loads((home / "datasets" / "my_poem" / "meta.json").read_text())
    assert prepared.args[0]["name"] == "my_poem" and prepared.args[0]["train_tokens"] == meta["train_tokens"]
    assert meta["train_tokens"] + meta["val_tokens"] == 40_000 and meta["tokenizer"] == "char"
    progress = find(panel, "prepareProgress")
    assert progress.value() == 1000 and progress.format().startswith("Done: my_poem in ")
    assert busy == [True, False] and find(panel, "prepareButton").isEnabled() and panel.error() == ""


def test_nothing_to_prepare_or_a_bad_name_is_said_in_the_panel(qtbot, panel, poem):
    assert not panel.prepare([])
    assert "Drop a text file" in panel.error() and find(panel, "datasetError").isVisible()
    panel.set_name("no spaces please")
    assert not panel.prepare([poem])
    assert panel.error().startswith("Invalid dataset name 'no spaces please'")
    assert not panel.is_preparing()


def test_an_existing_name_asks_before_replacing(qtbot, panel, poem, home, monkeypatch):
    ds.prepare_dataset([poem], "taken", home=home)
    old = json.loads((home / "datasets" / "taken" / "meta.json").read_text())
    panel.set_name("taken")
    find(panel, "valFractionSpin").setValue(0.25)
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    assert not panel.prepare([poem])  # "No": nothing started
    assert not panel.is_preparing()
    assert panel.prepare([poem])
    qtbot.waitUntil(lambda: not panel.is_preparing(), timeout=WAIT_MS)
    new = json.loads((home / "datasets" / "taken" / "meta.json").read_text())
    assert old["val_tokens"] == 4000 and new["val_tokens"] == 10_000


def test_cancel_leaves_nothing(qtbot, panel, home, tmp_path, monkeypatch):
    gate = Gate()
    hold_at_first_progress(monkeypatch, gate)
    panel.set_name("big")
    assert panel.prepare([big_text(tmp_path / "big.txt", 30)])
    qtbot.waitUntil(gate.entered.is_set, timeout=WAIT_MS)
    progress = find(panel, "prepareProgress")
    t0 = time.monotonic()
    with qtbot.waitSignal(panel.sig_status, timeout=WAIT_MS) as status:
        qtbot.mouseClick(find(panel, "cancelPrepareButton"), Qt.MouseButton.LeftButton)
        assert progress.format() == "Cancelling…" and not find(panel, "cancelPrepareButton").isEnabled()
        gate.open()
    qtbot.waitUntil(lambda: not panel.is_preparing(), timeout=WAIT_MS)
    assert time.monotonic() - t0 < 10
    assert progress.format() == "Cancelled" and status.args == [
        "Preparing the dataset was cancelled; nothing was saved."
    ]
    assert list((home / "datasets").iterdir()) == []  # no dataset, no temp folder
    assert find(panel, "prepareButton").isEnabled()


def test_progress_shows_an_eta_and_the_event_loop_keeps_turning(qtbot, panel, tmp_path, monkeypatch):
    """Held in its thread on purpose, the preparation must leave the event loop turning; then the real
    24 MB preparation runs to the end with the probe watching (a generous limit for a loaded machine)."""
    gate = Gate()
    hold_at_first_progress(monkeypatch, gate)
    panel.set_name("three")
    progress = find(panel, "prepareProgress")
    formats = []
    progress.valueChanged.connect(lambda _v: formats.append(progress.format()))
    with LoopProbe(qtbot) as probe:
        assert panel.prepare([big_text(tmp_path / "three.txt", 24)])
        qtbot.waitUntil(gate.entered.is_set, timeout=WAIT_MS)
        ticks = len(probe.gaps)
        qtbot.waitUntil(lambda: len(probe.gaps) >= ticks + 10, timeout=WAIT_MS)
        gate.open()
        qtbot.waitUntil(lambda: not panel.is_preparing(), timeout=WAIT_MS)
    assert progress.format().startswith("Done: three")
    assert any(re.search(r"\d+\.\d MiB / \d+\.\d MiB · ETA", f) for f in formats), formats
    assert probe.worst() < 2.0, f"the event loop stalled for {probe.worst() * 1000:.0f} ms"


def test_a_failure_reads_like_the_cli(qtbot, panel, poem, home):
    poem.unlink()  # gone between drop and prepare
    with pytest.raises(Exception) as cli_error:
        ds.prepare_dataset([poem], "other", home=home)
    panel.set_name("poem")
    assert panel.prepare([poem])
    qtbot.waitUntil(lambda: not panel.is_preparing(), timeout=WAIT_MS)
    assert panel.error() == str(cli_error.value)
    assert find(panel, "prepareProgress").format() == "Failed"
    box = panel.findChild(QMessageBox, ERROR_BOX_NAME)
    assert box is not None and box.isVisible() and box.text() == str(cli_error.value)
    box.close()


def test_choices_are_remembered_and_a_typed_name_kept(qtbot, home, settings, panel):
    with qtbot.waitSignal(panel.sig_tokenizer_changed) as changed:
        combo = find(panel, "tokenizerCombo")
        combo.setCurrentIndex(combo.findData("gpt2"))
    assert changed.args == ["gpt2"]
    find(panel, "valFractionSpin").setValue(0.2)
    assert "byte-pair" in find(panel, "tokenizerHelp").text()
    again = PreparePanel(Workspace.open(home), settings)
    qtbot.addWidget(again)
    assert again.tokenizer() == "gpt2" and again.val_fraction() == pytest.approx(0.2)

    panel.suggest_name("poem")
    assert panel.name() == "poem"
    find(panel, "datasetNameEdit").clear()
    qtbot.keyClicks(find(panel, "datasetNameEdit"), "mine")
    panel.suggest_name("letters")  # the person typed a name: suggestions no longer replace it
    assert panel.name() == "mine"
    panel.reset_name()
    panel.suggest_name("letters")
    assert panel.name() == "letters"


def test_bpe_choice_with_a_vocabulary_size_chosen_from_the_text(qtbot, home, panel, tmp_path):
    vocab_row = [find(panel, n) for n in ("bpeVocabSpin", "bpeVocabDefaultButton", "bpeVocabReason")]
    panel.set_tokenizer("char")
    assert not any(w.isVisible() for w in vocab_row)  # only for the BPE
    panel.set_tokenizer("bpe")
    assert all(w.isVisible() for w in vocab_row) and not find(panel, "tokenizerHelp").isVisible()
    assert find(panel, "tokenizerCombo").currentText() == "bpe: BPE trained on this text"
    # the default follows the size of the files listed, and says why
    panel.set_input_bytes(1_115_394)
    spin, default, reason = vocab_row
    assert spin.value() == 2048 and "2,048 for 1.1 MiB of text" in reason.text() and not default.isEnabled()
    panel.set_input_bytes(50_000_000)
    assert spin.value() == 32768
    # a size the person picks stays; the arrows double and halve; Default goes back
    sizes = []
    panel.sig_vocab_size_changed.connect(sizes.append)
    spin.setValue(1000)
    spin.stepBy(1)
    assert spin.value() == 2000 and sizes == [1000, 2000] and default.isEnabled()
    panel.set_input_bytes(1_115_394)
    assert spin.value() == 2000 and reason.text().startswith("Default for this text: 2,048")
    qtbot.mouseClick(default, Qt.MouseButton.LeftButton)
    assert spin.value() == 2048 and not default.isEnabled()
    spin.setValue(100)
    assert spin.value() == 256  # the smallest: the byte alphabet
    # prepared with the size shown
    spin.setValue(300)
    text = tmp_path / "demo.txt"
    text.write_text(ds.demo_text_path().read_text(encoding="utf-8")[:60_000], encoding="utf-8")
    panel.set_name("learned")
    with qtbot.waitSignal(panel.sig_prepared, timeout=WAIT_MS) as prepared:
        assert panel.prepare([text])
    meta = prepared.args[0]
    assert meta["tokenizer"] == "bpe" and meta["vocab_size"] <= 300 + 5
    assert (home / "datasets" / "learned" / "tokenizer.json").is_file()
