"""The workspace's datasets as the Config tab sees them, and the problems of a config on them (Qt-free)."""

from gptstudio.core.config import TrainConfig
from gptstudio.core.workspace import Workspace
from gptstudio.gui.state.config_checks import WorkspaceDatasets

from .helpers import make_dataset


def test_usable_damaged_and_missing(home):
    make_dataset(home, "tiny")
    broken = make_dataset(home, "broken")
    (broken / "val.bin").unlink()
    datasets = WorkspaceDatasets(Workspace.open(home))
    assert datasets.usable == {} and datasets.problems(TrainConfig(dataset="tiny"))  # not read yet
    datasets.reload()
    assert list(datasets.usable) == ["tiny"] and list(datasets.damaged) == ["broken"]
    assert datasets.choices() == [("tiny — 5.60 k tokens, char (40)", "tiny")]
    assert datasets.meta("tiny")["vocab_size"] == 40 and datasets.meta("broken") is None
    assert datasets.problems(TrainConfig(dataset="tiny", n_layer=2, n_head=2, n_embd=32, block_size=16)) == []
    damaged = datasets.problems(TrainConfig(dataset="broken"))
    assert any("val.bin is missing" in str(p) and p.fields == ("dataset",) for p in damaged)
    missing = datasets.problems(TrainConfig(dataset="elsewhere"))
    assert [p.fields for p in missing if "'elsewhere' is not in this workspace" in str(p)] == [("dataset",)]
