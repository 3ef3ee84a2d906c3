"""Files the app ships (icons, the .desktop file, the demo text), found however GPT Studio was installed.

They live in the repository's top-level `resources/` folder. A built wheel and the desktop bundle put
them inside the package, as `gptstudio/resources/`; a source checkout on PYTHONPATH or an editable
install finds them beside the package. `resource_path` is the one place that knows both.
"""

from __future__ import annotations

from pathlib import Path

from gptstudio.core.errors import GPTStudioError

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # .../gptstudio
# installed (wheel, bundle) first, then the source tree
RESOURCE_DIRS = (PACKAGE_DIR / "resources", PACKAGE_DIR.parent / "resources")


def resource_path(*parts: str) -> Path:
    """The path of a shipped file or folder, e.g. resource_path("icons", "gptstudio.svg")."""
    for folder in RESOURCE_DIRS:
        path = folder.joinpath(*parts)
        if path.exists():
            return path
    name = "/".join(parts) or "resources"
    raise GPTStudioError(
        f"The file {name} that GPT Studio ships is missing (looked in {' and '.join(map(str, RESOURCE_DIRS))}): "
        "reinstall GPT Studio."
    )
