"""The text the benchmarks read: ../shared/data/tinyshakespeare.txt beside the checkout when it is there,
else the demo text the package ships (the same file), so a lone clone runs every benchmark."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_TEXT = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"


def shakespeare_path() -> Path:
    if SHARED_TEXT.is_file():
        return SHARED_TEXT
    sys.path.insert(0, str(REPO))
    from gptstudio.core.dataset import demo_text_path

    return demo_text_path()
