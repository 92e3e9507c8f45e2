"""The table's thin waveform column: each row's overview (the same stored bytes the player draws),
RMS of the three bands, read for the visible rows in one query after a paint and kept in a small cache.

A paint never reads the library: a row whose overview is not cached yet is drawn empty and its id
queued; one indexed ``IN`` query after the paint (a screenful of rows) fills the cache and repaints.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QTimer
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from crate_app.domain.waveform import BAND_COUNT, StoredWaveform, parse_waveform
from crate_app.gui.track_model import TrackIdRole
from crate_app.gui.waveform_view import BACKGROUND, BAND_COLORS
from crate_app.store.library import DATABASE_ERRORS, Library
from crate_app.store.waveforms import waveforms_of

CACHED_ROWS = 600  # about 216 x 20 x 4 bytes each: ~10 MB at most
MAX_QUERY_IDS = 500


def column_image(waveform: StoredWaveform, height: int) -> QImage:
    """The RMS of the three bands (low red in front of mid green in front of high blue), one pixel per
    stored column, ``height`` pixels high, scaled to the loudest peak.

    Built a pixel row at a time with ``bytes.translate`` (C speed, and no numpy in the window): a
    column's pixel in a row is lit for a band when its level reaches that row's threshold; the three
    bands are the bits of an indexed colour.
    """
    columns = waveform.columns
    levels = waveform.levels
    rms = [levels[band * 2 + 1 :: BAND_COUNT * 2] for band in range(BAND_COUNT)]
    loudest = max(max(levels[0::2], default=0), 1)  # peaks are the even bytes
    middle = height / 2.0
    stride = (columns + 3) // 4 * 4  # scan lines of an 8-bit image are 4-byte aligned
    padding = bytes(stride - columns)
    lines: list[bytes] = []
    for y in range(height):
        distance = abs(y + 0.5 - middle)
        # lit when level * (middle - 0.5) / loudest > distance
        threshold = math.floor(distance * loudest / max(middle - 0.5, 0.5)) + 1
        bits = 0
        for band in range(BAND_COUNT):
            bits |= int.from_bytes(rms[band].translate(_lit(band, threshold)), "little")
        lines.append(bits.to_bytes(columns, "little") + padding)
    image = QImage(b"".join(lines), columns, height, stride, QImage.Format.Format_Indexed8)
    image.setColorTable(_COLOR_TABLE)
    return image.copy()  # owns its pixels (the bytes above are temporary)


@functools.cache
def _lit(band: int, threshold: int) -> bytes:
    """A translate table: a level byte -> the band's bit when it reaches ``threshold``."""
    return bytes((1 << band) if level >= threshold else 0 for level in range(256))


def _color_of(bits: int) -> int:
    """The lowest lit band's colour: the bass (red) in front, mids and highs around it."""
    if bits == 0:
        return BACKGROUND.rgba()
    return BAND_COLORS[(bits & -bits).bit_length() - 1].rgba()


_COLOR_TABLE = [_color_of(bits) for bits in range(1 << BAND_COUNT)]


class WaveformColumnDelegate(QStyledItemDelegate):
    """Draws the waveform column of a track table whose model answers ``TrackIdRole``."""

    def __init__(
        self, view: QAbstractItemView, library: Callable[[], Library], parent: QObject | None = None
    ) -> None:
        super().__init__(parent or view)
        self.view = view
        self.library = library
        self.images: OrderedDict[tuple[int, int], QImage | None] = OrderedDict()  # (id, height) -> image
        self.queries = 0  # library reads so far (tests, benchmarks)
        self._wanted: dict[int, int] = {}  # id -> height, to read after this paint
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._read_wanted)

    def forget(self, track_ids: list[int] | None = None) -> None:
        """Drop cached overviews (all, or these tracks' after a new analysis)."""
        if track_ids is None:
            self.images.clear()
            return
        for key in [key for key in self.images if key[0] in set(track_ids)]:
            del self.images[key]

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:  # Qt override
        style = option.widget.style() if option.widget is not None else self.view.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget)
        track_id = index.data(TrackIdRole)
        if track_id is None:
            return
        rect: QRect = option.rect.adjusted(2, 2, -2, -2)
        key = (track_id, rect.height())
        if key not in self.images:
            self._wanted[track_id] = rect.height()
            self._timer.start()
            return
        self.images.move_to_end(key)
        image = self.images[key]
        if image is not None:
            painter.drawImage(rect, image)

    def _read_wanted(self) -> None:
        wanted, self._wanted = self._wanted, {}
        ids = list(wanted)[-MAX_QUERY_IDS:]
        if not ids:
            return
        try:
            found = waveforms_of(self.library(), ids)
        except DATABASE_ERRORS:
            return  # a busy library: drawn empty, asked again at the next paint
        self.queries += 1
        for track_id in ids:
            image = None
            data = found.get(track_id)
            if data:
                try:
                    image = column_image(parse_waveform(data), wanted[track_id])
                except ValueError:
                    image = None
            self.images[(track_id, wanted[track_id])] = image
        while len(self.images) > CACHED_ROWS:
            self.images.popitem(last=False)
        self.view.viewport().update()
