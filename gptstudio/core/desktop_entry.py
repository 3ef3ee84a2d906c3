"""Put GPT Studio into the Linux desktop's application launcher, and take it out again.

`install_desktop_entry()` writes the freedesktop.org menu entry `applications/gptstudio.desktop`, whose
Exec= runs this installation (the desktop bundle's program, or the pip-installed `gptstudio` command), and
the icons `icons/hicolor/<N>x<N>/apps/gptstudio.png` and `.../scalable/apps/gptstudio.svg`, in the user's
data folder ($XDG_DATA_HOME, by default ~/.local/share): no root rights, nothing outside that folder.
`uninstall_desktop_entry()` removes exactly those files. Used by `gptstudio --install-desktop` /
`--uninstall-desktop` and by the app's File menu.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gptstudio.core.atomic import write_bytes_atomic, write_text_atomic
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.resources import resource_path

APP_ID = "gptstudio"  # the .desktop file's and the icon's name; the app sets it as its desktop file name


@dataclass(frozen=True)
class DesktopEntryResult:
    desktop_file: Path
    command: list[str]  # what the launcher runs
    files: list[Path]  # every file written (install) or removed (uninstall)


def data_home() -> Path:
    """The user's data folder, where launchers look for applications and icons."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def desktop_file(home: Path | None = None) -> Path:
    return (home or data_home()) / "applications" / f"{APP_ID}.desktop"


def is_installed(home: Path | None = None) -> bool:
    return desktop_file(home).is_file()


def launch_command() -> list[str]:
    """How a launcher starts this installation, by absolute path (a desktop session's PATH may lack it)."""
    if getattr(sys, "frozen", False):  # the desktop bundle
        return [str(Path(sys.executable).resolve())]
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == APP_ID and script.is_file():  # the pip-installed command
        return [str(script.resolve())]
    found = shutil.which(APP_ID)
    return [str(Path(found).resolve())] if found else [sys.executable, "-m", APP_ID]


def exec_line(argv: list[str]) -> str:
    """argv as the value of Exec=, quoted and escaped as the Desktop Entry Specification says."""

    def quote(arg: str) -> str:
        arg = arg.replace("%", "%%")  # % starts a field code
        if not re.search(r"[\s\"'\\><~|&;$*?#()`]", arg):
            return arg
        return '"' + re.sub(r'(["`$\\])', r"\\\1", arg) + '"'

    # the value is also a string of the .desktop file, whose own escape doubles each backslash
    return " ".join(quote(a) for a in argv).replace("\\", "\\\\")


def icon_files() -> dict[str, Path]:
    """The shipped icons by their place under icons/hicolor/ (one per size, and the scalable SVG)."""
    icons = resource_path("icons")
    placed = {}
    for png in sorted(icons.glob(f"{APP_ID}-*.png")):
        size = png.stem.rsplit("-", 1)[1]
        if size.isdigit():
            placed[f"{size}x{size}/apps/{APP_ID}.png"] = png
    if (icons / f"{APP_ID}.svg").is_file():
        placed[f"scalable/apps/{APP_ID}.svg"] = icons / f"{APP_ID}.svg"
    return placed


def entry_text(command: list[str]) -> str:
    """The shipped .desktop file with Exec= (and TryExec=, which hides the entry once the program is gone)
    pointing at `command`."""
    template = resource_path(f"{APP_ID}.desktop").read_text(encoding="utf-8")
    lines = [line for line in template.splitlines() if not line.startswith(("Exec=", "TryExec="))]
    at = next(i for i, line in enumerate(lines) if line.startswith("Name=")) + 1
    program = command[0].replace("\\", "\\\\")
    lines[at:at] = [f"TryExec={program}", f"Exec={exec_line(command)}"]
    return "\n".join(lines) + "\n"


def _check_platform() -> None:
    if not sys.platform.startswith("linux"):
        raise GPTStudioError(
            "Adding GPT Studio to the applications menu is for Linux desktops: on macOS move GPTStudio.app into "
            "Applications, on Windows pin GPTStudio.exe to Start."
        )


def install_desktop_entry(
    home: Path | None = None, command: list[str] | None = None, *, report=None, cancel=None
) -> DesktopEntryResult:
    """Add GPT Studio to the launcher of the user whose data folder is `home` (default: data_home())."""
    _check_platform()
    home = home or data_home()
    command = command or launch_command()
    written = []
    try:
        for place, icon in icon_files().items():
            target = home / "icons" / "hicolor" / place
            write_bytes_atomic(target, icon.read_bytes())
            written.append(target)
        entry = desktop_file(home)
        write_text_atomic(entry, entry_text(command))  # last: the entry appears once its icons are there
        written.append(entry)
    except OSError as e:
        raise GPTStudioError(f"Could not add GPT Studio to the applications menu in {home}: {e}.") from e
    _refresh_caches(home)
    return DesktopEntryResult(entry, command, written)


def uninstall_desktop_entry(home: Path | None = None, *, report=None, cancel=None) -> DesktopEntryResult:
    """Remove what install_desktop_entry wrote (the entry first, so the launcher never shows it iconless)."""
    _check_platform()
    home = home or data_home()
    removed = []
    for target in [desktop_file(home)] + [home / "icons" / "hicolor" / place for place in icon_files()]:
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            raise GPTStudioError(f"Could not remove {target}: {e.strerror or e}.") from e
        removed.append(target)
        with contextlib.suppress(OSError):  # the icon's size folders, once empty (never the shared folders above)
            if target.parent.name == "apps":
                target.parent.rmdir()
                target.parent.parent.rmdir()
    if removed:
        _refresh_caches(home)
    return DesktopEntryResult(desktop_file(home), [], removed)


def _refresh_caches(home: Path) -> None:
    """Tell the desktop at once, where its cache tools exist (launchers also notice on their own)."""
    for tool, folder, options in (
        ("update-desktop-database", "applications", ["-q"]),
        ("gtk-update-icon-cache", "icons/hicolor", ["-q", "-t"]),  # -t: a user's hicolor has no index.theme
    ):
        if shutil.which(tool) and (home / folder).is_dir():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run([tool, *options, str(home / folder)], capture_output=True, timeout=30)
