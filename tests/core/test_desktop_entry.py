"""The applications-menu entry: written into the user's XDG data folder, pointing at this installation, and
removed again without leaving anything of ours behind."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gptstudio.core import desktop_entry
from gptstudio.core.errors import GPTStudioError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop.org menus are Linux's")


def entry_values(path: Path) -> dict:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_install_writes_the_entry_and_every_icon_size_then_uninstall_removes_them(tmp_path):
    command = ["/opt/GPT Studio/GPTStudio"]
    done = desktop_entry.install_desktop_entry(tmp_path, command)

    assert done.desktop_file == tmp_path / "applications" / "gptstudio.desktop"
    values = entry_values(done.desktop_file)
    assert values["Exec"] == '"/opt/GPT Studio/GPTStudio"' and values["TryExec"] == "/opt/GPT Studio/GPTStudio"
    assert values["Icon"] == "gptstudio" and values["Type"] == "Application" and values["Name"] == "GPT Studio"
    for size in (16, 32, 48, 64, 128, 256, 512):
        assert (tmp_path / f"icons/hicolor/{size}x{size}/apps/gptstudio.png").is_file()
    assert (tmp_path / "icons/hicolor/scalable/apps/gptstudio.svg").read_bytes().startswith(b"<")
    assert desktop_entry.is_installed(tmp_path)

    gone = desktop_entry.uninstall_desktop_entry(tmp_path)
    assert sorted(gone.files) == sorted(done.files) and len(gone.files) == 9
    assert not desktop_entry.is_installed(tmp_path)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and "cache" not in p.name]
    assert leftovers == []
    assert desktop_entry.uninstall_desktop_entry(tmp_path).files == []  # nothing to remove is not an error


def test_exec_quotes_and_escapes_as_the_desktop_entry_specification_says():
    assert desktop_entry.exec_line(["/usr/bin/gptstudio"]) == "/usr/bin/gptstudio"
    assert desktop_entry.exec_line(["/a b/python", "-m", "gptstudio"]) == '"/a b/python" -m gptstudio'
    assert desktop_entry.exec_line(["/x/100%/app"]) == "/x/100%%/app"
    # $ and " are escaped inside quotes; a backslash is escaped for the quoting, then again for the file
    assert desktop_entry.exec_line(['/o$d/"q"']) == '"/o\\\\$d/\\\\"q\\\\""'
    assert desktop_entry.exec_line(["/a\\b"]) == '"/a\\\\\\\\b"'


def test_reinstalling_points_the_entry_at_the_new_place(tmp_path):
    desktop_entry.install_desktop_entry(tmp_path, ["/old/GPTStudio"])
    desktop_entry.install_desktop_entry(tmp_path, ["/new/GPTStudio"])
    assert entry_values(desktop_entry.desktop_file(tmp_path))["Exec"] == "/new/GPTStudio"
    assert not [p.name for p in (tmp_path / "applications").iterdir() if p.name.endswith(".tmp")]  # none left


def test_a_folder_that_cannot_be_written_gives_one_sentence(tmp_path):
    (tmp_path / "applications").write_text("a file where the folder should be")
    with pytest.raises(GPTStudioError, match="Could not add GPT Studio to the applications menu"):
        desktop_entry.install_desktop_entry(tmp_path, ["/x/GPTStudio"])


def test_other_systems_are_told_what_to_do_instead(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(GPTStudioError, match="GPTStudio.app into Applications"):
        desktop_entry.install_desktop_entry(tmp_path)


def test_the_command_line_installs_this_installation_into_xdg_data_home(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    run = [sys.executable, "-m", "gptstudio"]
    added = subprocess.run([*run, "--install-desktop"], env=env, capture_output=True, text=True)
    assert added.returncode == 0, added.stderr
    assert "Added GPT Studio to the applications menu" in added.stdout
    exec_value = entry_values(tmp_path / "applications" / "gptstudio.desktop")["Exec"]
    program = exec_value.split('"')[1] if exec_value.startswith('"') else exec_value.split()[0]
    assert Path(program).is_absolute() and os.access(program, os.X_OK)  # runnable without the shell's PATH

    removed = subprocess.run([*run, "--uninstall-desktop"], env=env, capture_output=True, text=True)
    assert removed.returncode == 0 and "Removed GPT Studio from the applications menu: 9 files" in removed.stdout
    again = subprocess.run([*run, "--uninstall-desktop"], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "nothing to remove" in again.stdout
