"""The painted padlock shown beside locked values (no emoji font needed)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QLabel

from crate_app.gui.lock_icon import lock_pixmap, locked_text


def _inked(image: QImage, x0: int, x1: int, y0: int, y1: int) -> int:
    return sum(1 for x in range(x0, x1) for y in range(y0, y1) if image.pixelColor(x, y).alpha() > 128)


def test_the_padlock_has_a_shackle_over_a_body_with_a_keyhole(qapp) -> None:
    image = lock_pixmap(12, "#202020").toImage()
    width, height = image.width(), image.height()
    assert (width, height) == (19, 24)  # 12 px shown, painted at twice the size
    assert image.pixelColor(0, 0).alpha() == 0  # the corners stay transparent
    body = _inked(image, 0, width, height // 2, height)
    shackle_top = _inked(image, 0, width, 0, height // 4)
    shackle_middle = _inked(image, width // 3, 2 * width // 3, height // 4, height * 4 // 10)
    assert body > 0.6 * width * (height // 2)  # a mostly filled body
    assert shackle_top > 0 and shackle_middle == 0  # an arch, open in the middle
    keyhole = image.pixelColor(width // 2, round(height * 0.72))
    assert keyhole.alpha() == 0  # cut through the body
    assert image.pixelColor(2, height - 4) == QColor("#202020")


def test_a_label_shows_the_padlock_inline_with_its_text(qtbot) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    label.setText(locked_text("128.00 <b>", "yours", 12, "#ff0000"))
    label.adjustSize()
    image = label.grab().toImage()
    red = sum(
        1
        for x in range(image.width())
        for y in range(image.height())
        if image.pixelColor(x, y).red() > 200 and image.pixelColor(x, y).green() < 60
    )
    assert red > 40  # the padlock is drawn (an unloaded image would leave no red at all)
    assert "&lt;b&gt;" in label.text()  # the plain text around it is escaped
