"""A small padlock drawn with QPainter, for values the user has locked against re-analysis.

The padlock emoji shows as an empty box where no emoji font is installed (minimal Linux desktops,
Xvfb), so the glyph is painted instead and put inline into a label's rich text as a PNG data URL.
"""

from __future__ import annotations

import html
from functools import lru_cache

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap

SCALE = 2  # painted at twice the size shown: sharp on high-density screens too


def lock_pixmap(height: int, color: str) -> QPixmap:
    """A padlock ``height`` pixels high (and about 0.8 of it wide) in ``color``, on transparency."""
    side = max(6, height) * SCALE
    width = round(side * 0.8)
    pixmap = QPixmap(width, side)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    ink = QColor(color)
    stroke = max(1.5, side * 0.12)
    body_top = side * 0.45
    # The shackle: a rounded arch from the body's top, drawn as a thick line.
    shackle = QPainterPath()
    left, right = width * 0.26, width * 0.74
    shackle.moveTo(left, body_top)
    shackle.lineTo(left, side * 0.32)
    shackle.arcTo(QRectF(left, stroke / 2, right - left, (right - left)), 180, -180)
    shackle.lineTo(right, body_top)
    painter.setPen(QPen(ink, stroke, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(shackle)
    # The body: a filled rounded rectangle with a keyhole cut out.
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(ink)
    body = QRectF(width * 0.06, body_top, width * 0.88, side - body_top - side * 0.04)
    painter.drawRoundedRect(body, side * 0.08, side * 0.08)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
    hole = side * 0.13
    painter.drawEllipse(QRectF(width / 2 - hole / 2, body.center().y() - hole / 2, hole, hole))
    painter.end()
    pixmap.setDevicePixelRatio(SCALE)
    return pixmap


@lru_cache(maxsize=16)
def lock_html(height: int, color: str) -> str:
    """The padlock as an ``<img>`` for a QLabel's rich text (a data URL: no file, no resource)."""
    pixmap = lock_pixmap(height, color)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buffer, "PNG")
    buffer.close()
    encoded = bytes(data.toBase64().data()).decode("ascii")
    width = round(pixmap.width() / SCALE)
    return (
        f'<img src="data:image/png;base64,{encoded}" width="{width}" height="{max(6, height)}" '
        'style="vertical-align: middle" alt="locked">'
    )


def locked_text(before: str, after: str, height: int, color: str) -> str:
    """Rich text: ``before``, the padlock, then ``after`` (both plain text, escaped here)."""
    return f"{html.escape(before)}&nbsp;&nbsp;{lock_html(height, color)}&nbsp;{html.escape(after)}"
