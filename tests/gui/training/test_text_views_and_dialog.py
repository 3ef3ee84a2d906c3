"""The training log, the sample preview and the several-machines dialog."""

from gptstudio.core.events import CheckpointSaved, Eval, Message, SettingsProblem
from gptstudio.core.workspace import Workspace
from gptstudio.gui.training.multinode_dialog import MultiNodeDialog
from gptstudio.gui.training.text_views import SamplePreview, TrainingLog
from tests.core.training_helpers import tiny_config
from tests.gui.training.helpers import started


def test_log_and_sample_show_events(qtbot):
    log, sample = TrainingLog(), SamplePreview()
    qtbot.addWidget(log)
    qtbot.addWidget(sample)
    for ev in (
        started(world_size=2),
        Eval(20, 2.5, 2.75, 2.75, sample="ROMEO: hi"),
        CheckpointSaved(20, "/runs/r/ckpt.pt", best=True),
        SettingsProblem("n_embd (30) must be divisible by n_head (4).", ["n_embd", "n_head"]),
        Message("careful", "warning"),
    ):
        log.show_event(ev)
        if isinstance(ev, Eval):
            sample.show_eval(ev)
    lines = [line.split("] ", 1)[1] for line in log.toPlainText().splitlines()]
    assert lines[0].startswith("Run 'r' on cpu (float32, 2 processes): 0.21M parameters")
    assert lines[1:] == [
        "iteration 20: train loss 2.5000, val loss 2.7500",
        "Saved best checkpoint at iteration 20: /runs/r/ckpt.pt",
        "Error: Settings problem: n_embd (30) must be divisible by n_head (4).",
        "careful",
    ]
    assert sample.toPlainText() == "iteration 20, val loss 2.7500\n\nROMEO: hi"


def test_multinode_dialog_names_the_run_and_follows_its_fields(qtbot, home):
    dialog = MultiNodeDialog(Workspace.open(home), tiny_config(run_name=""), 4)
    qtbot.addWidget(dialog)
    assert dialog.run_name == "tiny-multinode" and "--nproc_per_node=4" in dialog.text.toPlainText()
    dialog.portSpin.setValue(29600)
    assert dialog.text.toPlainText().count("--master_port=29600") == 2
    named = MultiNodeDialog(Workspace.open(home), tiny_config(run_name="big"), 8)
    qtbot.addWidget(named)
    assert "--name big" in named.text.toPlainText()
