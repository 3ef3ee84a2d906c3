"""Can Qt open a window here? Checked before the QApplication exists, because Qt cannot say it politely.

On Linux, Qt's X11 platform plugin (xcb) needs a dozen system libraries that a fresh desktop may lack
(Qt 6.5+ needs libxcb-cursor0, which many do not have). Without them Qt prints "could not load the Qt
platform plugin xcb" and aborts the process (exit 134, a core dump). Without any display at all it
aborts too. `startup_problem` finds both first and says, in one sentence, what to install or do.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

# library -> (Debian/Ubuntu package, Fedora/RHEL package): what Qt's xcb plugin links against
XCB_PACKAGES = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
}


def xcb_plugin() -> Path | None:
    """Qt's xcb platform plugin, where this Qt installation keeps it (None if it has none)."""
    from PySide6.QtCore import QLibraryInfo  # QtCore only: no QApplication, no platform plugin yet

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    found = sorted((plugins / "platforms").glob("libqxcb*.so"))
    return found[0] if found else None


def unresolved_libraries(library: Path) -> list[str]:
    """The shared libraries `library` needs, directly or not, that the loader cannot find (ldd's
    'not found'). Empty when ldd itself is missing: then Qt has the last word."""
    try:
        out = subprocess.run(["ldd", str(library)], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line})


def uses_xcb(env: Mapping[str, str]) -> bool:
    """Will Qt pick its X11 plugin? Yes when asked to, or when nothing is asked and no Wayland session
    runs (Qt tries Wayland first there, and falls back to xcb only if that fails)."""
    asked = env.get("QT_QPA_PLATFORM", "").strip()
    if asked:
        return asked.split(";")[0].split(":")[0] == "xcb"
    return not env.get("WAYLAND_DISPLAY")


def startup_problem(
    env: Mapping[str, str] | None = None,
    system: str | None = None,
    find_missing: Callable[[], list[str]] | None = None,
) -> str | None:
    """One sentence saying why the window cannot open here and what to do, or None when it can
    (or when we cannot tell: Qt then tries, as it always did). The arguments stand in for the real
    environment, OS and library lookup in tests."""
    env = os.environ if env is None else env
    if (system or platform.system()) != "Linux" or not uses_xcb(env):
        return None
    if not env.get("DISPLAY"):
        return (
            "There is no display to open the window on (DISPLAY is not set): start GPT Studio from a desktop "
            "session, or use its commands, which need no window (gptstudio --help)."
        )
    missing = (find_missing or _missing_for_xcb)()
    return missing_libraries_message(missing) if missing else None


def _missing_for_xcb() -> list[str]:
    plugin = xcb_plugin()
    return unresolved_libraries(plugin) if plugin is not None else []


def missing_libraries_message(missing: list[str]) -> str:
    """'The window cannot open: Qt's X11 plugin needs A and B, missing here; install them with ...'."""
    known = [XCB_PACKAGES[lib] for lib in missing if lib in XCB_PACKAGES]
    apt = " ".join(dict.fromkeys(deb for deb, _ in known))
    dnf = " ".join(dict.fromkeys(rpm for _, rpm in known))
    unknown = [lib for lib in missing if lib not in XCB_PACKAGES]
    how = f"install them with `sudo apt install {apt}` (Debian, Ubuntu) or `sudo dnf install {dnf}` (Fedora)"
    if unknown and known:
        how += f", plus the packages that provide {_and(unknown)}"
    elif unknown:
        how = f"install the packages that provide them (`apt-file search {unknown[0]}` names one)"
    return (
        f"GPT Studio cannot open its window: Qt's X11 (xcb) platform plugin needs {_and(missing)}, "
        f"which this system lacks; {how}, then start it again."
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
