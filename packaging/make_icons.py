"""Render the app icon SVG into the PNG sizes desktops and installers want (16-512 px).

Run from the repository root after changing resources/icons/gptstudio.svg:
    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py
The PNGs are committed, so building or running the app never needs this script.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's resources/, not an installed copy

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from gptstudio.core.resources import resource_path

ROOT = Path(__file__).resolve().parent.parent
ICON_DIR = resource_path("icons")
SIZES = (16, 32, 48, 64, 128, 256, 512)


def render(svg: Path, size: int) -> QImage:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG file.")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv)
    svg = ICON_DIR / "gptstudio.svg"
    for size in SIZES:
        out = ICON_DIR / f"gptstudio-{size}.png"
        if not render(svg, size).save(str(out)):
            raise SystemExit(f"Could not write {out}.")
        print(out.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
