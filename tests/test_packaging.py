"""The installed package passes its self-test; the desktop bundle builds and passes it too (slow)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def self_test_env(tmp_path):
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GPTSTUDIO_HOME": str(tmp_path / "user-home")}


def test_installed_package_self_test(tmp_path):
    exe = shutil.which("gptstudio")
    cmd = [exe] if exe else [sys.executable, "-m", "gptstudio"]
    res = subprocess.run(
        cmd + ["--self-test"], env=self_test_env(tmp_path), capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "self-test passed" in res.stdout and "trained 20 iterations" in res.stdout
    # the user's workspace was not touched
    assert not (tmp_path / "user-home" / "runs").exists()


def test_version_and_help_list_every_subcommand():
    from gptstudio import __version__
    from gptstudio.cli import COMMAND_MODULES

    out = subprocess.run([sys.executable, "-m", "gptstudio", "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == f"gptstudio {__version__}"
    help_text = subprocess.run([sys.executable, "-m", "gptstudio", "--help"], capture_output=True, text=True).stdout
    for command in (
        "prepare",
        "import-nanogpt-data",
        "datasets",
        "train",
        "runs",
        "import-nanogpt-run",
        "sample",
        "export",
    ):
        assert command in help_text, command
    assert "--self-test" in help_text and len(COMMAND_MODULES) >= 5


def test_desktop_file_and_icons_exist():
    res = REPO / "gptstudio" / "resources"
    desktop = (res / "gptstudio.desktop").read_text()
    assert "Exec=gptstudio" in desktop and "Icon=gptstudio" in desktop
    for size in (16, 32, 48, 64, 128, 256, 512):
        assert (res / "icons" / f"gptstudio-{size}.png").is_file()
    assert (res / "icons" / "gptstudio.svg").is_file()


@pytest.mark.slow
def test_bundle_self_test(tmp_path):
    """Builds dist/GPTStudio with PyInstaller (minutes, ~1 GB) and runs its self-test."""
    res = subprocess.run(
        ["bash", str(REPO / "packaging" / "build_bundle.sh")], cwd=REPO, capture_output=True, text=True, timeout=3600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "self-test passed" in res.stdout
