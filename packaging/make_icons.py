"""Render ``resources/crate.svg`` into the icons the installers use (run after editing the SVG).

    .venv/bin/python packaging/make_icons.py

Writes ``resources/icons/crate-<size>.png`` (Linux hicolor theme sizes), ``crate.ico`` (Windows) and
``crate.icns`` (macOS).  The SVG is rendered by Qt (QtSvg); the .ico and .icns are written by Pillow
(``pip install pillow``: needed only here, the generated icons are committed).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "crate.svg"
ICONS = ROOT / "resources" / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZE = 1024  # Pillow derives the smaller ICNS members from the largest image


def render(size: int, target: Path) -> None:
    """Render the SVG to a square transparent PNG of ``size`` pixels."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SVG}")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(target)):
        raise SystemExit(f"cannot write {target}")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication(sys.argv[:1])
    ICONS.mkdir(parents=True, exist_ok=True)
    for size in PNG_SIZES:
        render(size, ICONS / f"crate-{size}.png")
    big = ICONS / f"crate-{ICNS_SIZE}.png"
    render(ICNS_SIZE, big)
    with Image.open(big) as image:
        image.save(ICONS / "crate.icns")
        image.save(ICONS / "crate.ico", sizes=[(s, s) for s in ICO_SIZES])
    big.unlink()
    print("\n".join(sorted(p.name for p in ICONS.iterdir())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
