"""The chosen input files of a new dataset (Qt-free)."""

from pathlib import Path

from gptstudio.core.input_check import InputCheck
from gptstudio.core.textfiles import TextFileInfo
from gptstudio.core.workspace import Workspace
from gptstudio.gui.state.dataset_inputs import DatasetInputs


def info(path, size=1000):
    return TextFileInfo(Path(path), size, "utf-8", True)


def test_accept_keeps_order_and_each_file_once(tmp_path):
    inputs = DatasetInputs()
    assert inputs.add_pending([tmp_path / "a.txt"]) == [tmp_path / "a.txt"]
    # a second drop while the first is checked: both are checked together
    assert inputs.add_pending([tmp_path / "b.txt", tmp_path / "a.txt"]) == [tmp_path / "a.txt", tmp_path / "b.txt"]
    new = inputs.accept(InputCheck([tmp_path / "a.txt", tmp_path / "b.txt"], [info(tmp_path / "a.txt")]))
    assert [i.path.name for i in new] == ["a.txt"] and inputs.pending == []
    again = inputs.accept(InputCheck([tmp_path / "c"], [info(tmp_path / "a.txt"), info(tmp_path / "c" / "d.txt")]))
    assert [i.path.name for i in again] == ["d.txt"]
    assert [p.name for p in inputs.paths] == ["a.txt", "d.txt"]
    assert inputs.total_bytes == 2000 and inputs.summary() == "2 files, 2.0 KiB"
    inputs.clear()
    assert inputs.files == [] and inputs.summary() == "0 files, 0 B"


def test_suggested_name_from_folder_or_first_file(tmp_path):
    ws = Workspace.open(tmp_path / "home")
    folder = tmp_path / "my letters"
    folder.mkdir()
    inputs = DatasetInputs()
    check = InputCheck([folder], [info(folder / "one.txt")])
    assert inputs.suggested_name(check, ws) is None  # nothing accepted yet
    inputs.accept(check)
    assert inputs.suggested_name(check, ws) == "my_letters"
    two = InputCheck([tmp_path / "my poem.txt", folder], [info(tmp_path / "my poem.txt")])
    inputs.clear()
    inputs.accept(two)
    assert inputs.suggested_name(two, ws) == "my_poem"
    (ws.datasets_dir / "my_poem").mkdir(parents=True)
    assert inputs.suggested_name(two, ws) == "my_poem-2"  # a free name
