"""Before Qt starts: a Linux desktop without the X11 libraries Qt needs, or without a display, gets one
sentence and exit 1 instead of Qt's abort (exit 134). The library lookup is faked; one test asks this
machine's real Qt plugin."""

import os
import subprocess
import sys

import pytest

from gptstudio import cli
from gptstudio.gui import app
from gptstudio.gui.display_check import (
    XCB_PACKAGES,
    startup_problem,
    unresolved_libraries,
    uses_xcb,
    xcb_plugin,
)

DESKTOP = {"DISPLAY": ":0"}
MISSING = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


def test_missing_xcb_libraries_are_named_with_the_packages_to_install():
    problem = startup_problem(DESKTOP, "Linux", lambda: MISSING)
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4 and libxcb-keysyms.so.1" in problem
    assert "`sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1`" in problem
    assert "`sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms`" in problem
    assert problem.count(". ") == 0 and problem.endswith("then start it again.")  # one sentence


def test_libraries_of_one_package_name_it_once_and_unknown_ones_are_named():
    problem = startup_problem(DESKTOP, "Linux", lambda: ["libxcb-randr.so.0", "libxcb-shape.so.0", "libfoo.so.2"])
    assert "`sudo apt install libxcb-randr0 libxcb-shape0`" in problem and "`sudo dnf install libxcb`" in problem
    assert "plus the packages that provide libfoo.so.2" in problem
    only_unknown = startup_problem(DESKTOP, "Linux", lambda: ["libfoo.so.2"])
    assert "apt-file search libfoo.so.2" in only_unknown and "sudo apt install" not in only_unknown


def test_no_problem_when_qt_will_not_use_xcb_or_has_what_it_needs():
    def must_not_look():
        raise AssertionError("looked for X11 libraries where Qt does not use them")

    assert startup_problem(DESKTOP, "Linux", lambda: []) is None
    assert startup_problem({**DESKTOP, "QT_QPA_PLATFORM": "offscreen"}, "Linux", must_not_look) is None
    assert startup_problem({**DESKTOP, "WAYLAND_DISPLAY": "wayland-0"}, "Linux", must_not_look) is None
    for system in ("Darwin", "Windows"):
        assert startup_problem({}, system, must_not_look) is None
    assert startup_problem({**DESKTOP, "QT_QPA_PLATFORM": "xcb"}, "Linux", lambda: MISSING[:1]) is not None
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb:display=:1"}) and not uses_xcb({"QT_QPA_PLATFORM": "wayland;xcb"})


def test_no_display_says_so():
    problem = startup_problem({}, "Linux", lambda: [])
    assert problem.startswith("There is no display to open the window on") and "gptstudio --help" in problem


def test_cli_prints_one_line_and_exits_1_before_any_window(monkeypatch, capsys):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr("platform.system", lambda: "Linux")
    monkeypatch.setattr("gptstudio.gui.display_check._missing_for_xcb", lambda: MISSING)
    monkeypatch.setattr(app, "run_app", lambda: pytest.fail("the app was started"))
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gptstudio: error: GPT Studio cannot open its window") and err.count("\n") == 1


def test_the_real_plugin_is_found_and_read():
    if sys.platform != "linux":
        pytest.skip("Qt's xcb plugin exists on Linux only")
    plugin = xcb_plugin()
    assert plugin is not None and plugin.name.startswith("libqxcb")
    missing = unresolved_libraries(plugin)  # whatever this machine lacks, each a library name
    assert all(name.startswith("lib") and ".so" in name for name in missing)
    assert set(missing) <= set(XCB_PACKAGES), f"add {set(missing) - set(XCB_PACKAGES)} to XCB_PACKAGES"


def test_a_machine_without_them_gets_the_sentence_not_an_abort(tmp_path):
    """Runs the real command where this machine really lacks an X11 library (else there is nothing to see)."""
    plugin = xcb_plugin() if sys.platform == "linux" else None
    if plugin is None or not unresolved_libraries(plugin):
        pytest.skip("this machine has every library Qt's xcb plugin needs")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":99", GPTSTUDIO_HOME=str(tmp_path))
    res = subprocess.run([sys.executable, "-m", "gptstudio"], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1, res.stderr[-2000:]
    assert (
        res.stderr.startswith("gptstudio: error: GPT Studio cannot open its window")
        and "sudo apt install" in res.stderr
    )
