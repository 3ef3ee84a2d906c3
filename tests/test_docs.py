"""docs/ARCHITECTURE.md lists every module of the engine, the CLI and the GUI (the card asks it to match
the code): a module added without its line fails here, with the names to add."""

import re
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_architecture_lists_every_module():
    doc = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    modules = [
        p
        for package in ("core", "commands", "gui")
        for p in (REPO / "gptstudio" / package).rglob("*.py")
        if p.name != "__init__.py"
    ]
    # a module is named as `name.py` or `.../name.py`; a name that several packages use is named that often
    needed = Counter(p.name for p in modules)
    missing = sorted(
        str(p.relative_to(REPO / "gptstudio"))
        for p in modules
        if len(re.findall(rf"[`/]{re.escape(p.name)}`", doc)) < needed[p.name]
    )
    assert not missing, f"add a line for each of {missing} to docs/ARCHITECTURE.md"
