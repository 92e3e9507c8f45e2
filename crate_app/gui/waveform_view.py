"""The overview waveform: three bands (low red, mid green, high blue) drawn as peak and RMS, with the
beat grid (downbeats stronger), the first beat, cues and the play position.  Click or drag to seek.

The bands are rendered once per size into a pixmap; a repaint draws that pixmap, the grid lines and
the play head (well under 5 ms).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from crate_app.domain.beatgrid import BeatGrid
from crate_app.domain.cues import CuePoint
from crate_app.domain.waveform import StoredWaveform

BACKGROUND = QColor(22, 22, 26)
BAND_COLORS = (QColor(230, 50, 40), QColor(80, 200, 70), QColor(60, 140, 255))  # low, mid, high
HOT_CUE_COLOR = QColor(60, 220, 120)
MEMORY_CUE_COLOR = QColor(230, 60, 60)
LOOP_COLOR = QColor(255, 160, 40, 70)
MIN_BEAT_SPACING = 3.0  # pixels: closer beats are not drawn (bars still are)


def band_image(waveform: StoredWaveform, height: int, background: QColor = BACKGROUND) -> QImage:
    """The three bands (peak faint, RMS solid) at one pixel per stored column, ``height`` pixels high:
    stretched to the width it is drawn at (the player's overview and the table's thin column)."""
    middle = height // 2
    loudest = max(max(waveform.levels[0::2], default=0), 1)  # peaks are the even bytes
    scale = (middle - 1) / loudest
    bands = QImage(waveform.columns, height, QImage.Format.Format_ARGB32_Premultiplied)
    bands.fill(background)
    painter = QPainter(bands)
    painter.setPen(Qt.PenStyle.NoPen)
    for band in range(3):
        for kind, alpha in (("peak", 110), ("rms", 255)):
            color = QColor(BAND_COLORS[band])
            color.setAlpha(alpha)
            level = getattr(waveform, kind)
            rects = []
            for column in range(waveform.columns):
                half = round(level(column, band) * scale)
                if half > 0:
                    rects.append(QRect(column, middle - half, 1, 2 * half))
            painter.setBrush(color)
            if rects:
                painter.drawRects(rects)
    painter.end()
    return bands


NO_WAVEFORM = "No waveform yet: analyse the track (Ctrl+B)"


class WaveformView(QWidget):
    """Paints a StoredWaveform over ``duration`` seconds; emits ``seek_requested`` on click/drag."""

    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(56)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.waveform: StoredWaveform | None = None
        self.duration = 0.0
        self.grid: BeatGrid | None = None
        self.cues: list[CuePoint] = []
        self.position = 0.0
        self.placeholder = NO_WAVEFORM
        self._pixmap: QPixmap | None = None

    def sizeHint(self) -> QSize:
        return QSize(600, 64)

    # -- data ------------------------------------------------------------------------------------------
    def set_track(self, waveform: StoredWaveform | None, duration: float | None) -> None:
        self.waveform = waveform
        self.duration = float(duration or (waveform.seconds if waveform else 0.0))
        self._pixmap = None
        self.update()

    def set_grid(self, grid: BeatGrid | None) -> None:
        self.grid = grid
        self.update()

    def set_cues(self, cues: list[CuePoint]) -> None:
        self.cues = list(cues)
        self.update()

    def set_position(self, seconds: float) -> None:
        old = self._x_of(self.position)
        self.position = seconds
        new = self._x_of(seconds)
        if abs(new - old) >= 1:
            left, right = sorted((old, new))
            self.update(int(left) - 2, 0, int(right - left) + 5, self.height())

    # -- geometry --------------------------------------------------------------------------------------
    def _x_of(self, seconds: float) -> float:
        return seconds / self.duration * self.width() if self.duration > 0 else 0.0

    def seconds_at(self, x: float) -> float:
        return max(0.0, min(self.duration, x / max(1, self.width()) * self.duration))

    # -- painting --------------------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        self._pixmap = None
        super().resizeEvent(event)

    def _render_bands(self) -> QPixmap:
        """The bands at one pixel per column, stretched to the widget's width (smoothly) in one blit."""
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(self.size() * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(BACKGROUND)
        waveform = self.waveform
        if waveform is None or waveform.columns == 0 or self.duration <= 0:
            return pixmap
        bands = band_image(waveform, max(2, round(self.height() * ratio)))
        span = waveform.seconds / self.duration * self.width()  # the part of the track the overview covers
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(QRectF(0, 0, span, self.height()), bands)
        painter.end()
        return pixmap

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self._pixmap is None or self._pixmap.size() != self.size() * self.devicePixelRatioF():
            self._pixmap = self._render_bands()
        painter.drawPixmap(0, 0, self._pixmap)
        height = self.height()
        if self.waveform is None:
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        if self.duration > 0:
            self._paint_grid(painter, event.rect().left(), event.rect().right() + 1)
            self._paint_cues(painter)
            x = self._x_of(self.position)
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.drawLine(QPointF(x, 0), QPointF(x, height))
        painter.end()

    def _paint_grid(self, painter: QPainter, left: int, right: int) -> None:
        grid = self.grid
        if grid is None:
            return
        pixels_per_beat = grid.period / self.duration * self.width()
        show_beats = pixels_per_beat >= MIN_BEAT_SPACING
        if not show_beats and pixels_per_beat * 4 < 2.0:
            return
        beats = grid.beats_between(self.seconds_at(left - 1), self.seconds_at(right + 1))
        height = self.height()
        bar_pen = QPen(QColor(255, 255, 255, 150), 1)
        beat_pen = QPen(QColor(255, 255, 255, 60), 1)
        for seconds, bar in beats:
            if bar or show_beats:
                painter.setPen(bar_pen if bar else beat_pen)
                x = round(self._x_of(seconds)) + 0.5
                painter.drawLine(QPointF(x, 0), QPointF(x, height * (1.0 if bar else 0.25)))
        x = self._x_of(grid.first_beat)  # the first beat: a marker at the top
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 220, 0))
        painter.drawPolygon(QPolygonF([QPointF(x - 4, 0), QPointF(x + 4, 0), QPointF(x, 6)]))

    def _paint_cues(self, painter: QPainter) -> None:
        height = self.height()
        for cue in self.cues:
            x = self._x_of(cue.start)
            if cue.kind == "loop" and cue.end is not None:
                painter.fillRect(QRectF(x, 0, self._x_of(cue.end) - x, height), LOOP_COLOR)
                continue
            color = (
                QColor(cue.color) if cue.color else (HOT_CUE_COLOR if cue.kind == "hot" else MEMORY_CUE_COLOR)
            )
            painter.setPen(QPen(color, 1))
            painter.drawLine(QPointF(x, 0), QPointF(x, height))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawPolygon(
                QPolygonF([QPointF(x - 5, height), QPointF(x + 5, height), QPointF(x, height - 7)])
            )
            if cue.kind == "hot":
                painter.setPen(QColor(0, 0, 0))
                painter.drawText(
                    QRectF(x + 1, height - 15, 14, 14), Qt.AlignmentFlag.AlignCenter, cue.label[:1]
                )

    # -- seeking ---------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.duration > 0:
            self.seek_requested.emit(self.seconds_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton and self.duration > 0:
            self.seek_requested.emit(self.seconds_at(event.position().x()))
