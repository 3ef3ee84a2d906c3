"""The installed package passes its self-test; the desktop bundle builds and passes it too (slow)."""

import os
import shutil
import subprocess
import sys
import zipfile
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


SHIPPED = ["demo_shakespeare.txt", "gptstudio.desktop", "icons/gptstudio.svg"] + [
    f"icons/gptstudio-{size}.png" for size in (16, 32, 48, 64, 128, 256, 512)
]


def test_desktop_file_and_icons_exist():
    from gptstudio.core.resources import resource_path

    desktop = resource_path("gptstudio.desktop").read_text()
    assert "Exec=gptstudio" in desktop and "Icon=gptstudio" in desktop
    for name in SHIPPED:
        assert (REPO / "resources" / name).is_file(), name  # the card's layout: resources/ at the top
        assert resource_path(*name.split("/")).is_file(), name


def test_missing_resource_names_the_fix():
    from gptstudio.core.errors import GPTStudioError
    from gptstudio.core.resources import resource_path

    with pytest.raises(GPTStudioError, match="reinstall GPT Studio"):
        resource_path("no-such-file.txt")


def source_packages() -> list[str]:
    return sorted(".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "gptstudio").rglob("__init__.py"))


def test_pyproject_lists_every_package():
    """setuptools installs only the packages pyproject.toml lists (a list, so that resources/ can be mapped
    into the package): a new subpackage must be added there, or wheels and bundles lack it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    missing = [p for p in source_packages() if p not in listed]
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"


def test_wheel_holds_every_package_and_the_resources(tmp_path):
    """A wheel built offline from this checkout installs resources/ inside the package, holds every
    package of the source tree, and the installed copy finds its resources there."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("gptstudio", "resources"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(tmp_path / "installed")
    for name in SHIPPED:
        assert f"gptstudio/resources/{name}" in names, name
    missing = [p for p in source_packages() if f"{p.replace('.', '/')}/__init__.py" not in names]
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"

    probe = "from gptstudio.core.resources import resource_path; print(resource_path('demo_shakespeare.txt'))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "installed")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == tmp_path / "installed" / "gptstudio" / "resources" / "demo_shakespeare.txt"


@pytest.mark.slow
def test_bundle_self_test(tmp_path):
    """Builds dist/GPTStudio with PyInstaller (minutes, ~1 GB) and runs its self-test."""
    res = subprocess.run(
        ["bash", str(REPO / "packaging" / "build_bundle.sh")], cwd=REPO, capture_output=True, text=True, timeout=3600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "self-test passed" in res.stdout
