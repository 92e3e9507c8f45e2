"""The track panel at the right of the table: cover art, tags, file facts, analysis with its
corrections (BPM x2 / /2 / tap / typed, key picker, first-beat nudge), rating, colour and crates.
Talks to the TrackService; the player's position comes in through ``position``."""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.colors import TRACK_COLORS
from crate_app.domain.keys import KeyNotation, all_keys, format_key_code
from crate_app.domain.track import TrackRecord, display_path
from crate_app.gui.lock_icon import locked_text
from crate_app.services.track_service import THUMBNAIL_PIXELS, TrackService

COVER_PIXELS = 200


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def _tool(text: str, tip: str, slot: Callable[[], None]) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.clicked.connect(lambda _checked=False: slot())
    return button


class TrackPanel(QScrollArea):
    """Details of the selected track; emits requests the window carries out."""

    reveal_requested = Signal(str)  # path: show it in the file manager
    edit_tags_requested = Signal()

    def __init__(
        self, tracks: TrackService, position: Callable[[], float], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.tracks = tracks
        self.position = position  # the play position of this track (seconds), for "here"
        self.notation = KeyNotation.CAMELOT
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        self.setWidget(body)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(8, 0, 8, 8)

        self.cover = QLabel()
        self.cover.setFixedSize(COVER_PIXELS, COVER_PIXELS)
        self.cover.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cover.setStyleSheet("background: #202024; color: #888; border-radius: 4px;")
        layout.addWidget(self.cover, 0, Qt.AlignmentFlag.AlignHCenter)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setStyleSheet("font-size: 15px; font-weight: 600;")
        layout.addWidget(self.heading)

        self.tag_labels: dict[str, QLabel] = {}
        tags = QFormLayout()
        for name, title in (("artist", "Artist"), ("album", "Album"), ("albumartist", "Album artist"),
                            ("genre", "Genre"), ("label", "Label"), ("year", "Year"), ("track_no", "Track"),
                            ("comment", "Comment")):  # fmt: skip
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.tag_labels[name] = label
            tags.addRow(title, label)
        self.rating = QComboBox()
        self.rating.addItems(["Unrated", *("\u2605" * n for n in range(1, 6))])
        self.rating.activated.connect(self._on_rating_activated)
        tags.addRow("Rating", self.rating)
        self.color = QComboBox()
        self.color.addItem("None", "")
        for name, hex_value in TRACK_COLORS.items():
            pixmap = QPixmap(12, 12)
            pixmap.fill(hex_value)
            self.color.addItem(pixmap, name.capitalize(), name)
        self.color.activated.connect(self._on_color_activated)
        tags.addRow("Colour", self.color)
        self.crates_label = QLabel()
        self.crates_label.setWordWrap(True)
        tags.addRow("Crates", self.crates_label)
        layout.addLayout(tags)
        self.edit_button = QPushButton("Edit Tags\u2026")
        self.edit_button.setToolTip("Edit the tags of the selected tracks (Ctrl+E)")
        self.edit_button.clicked.connect(self.edit_tags_requested)
        layout.addWidget(self.edit_button)

        layout.addWidget(self._section("Analysis"))
        analysis = QGridLayout()
        self.bpm_label = QLabel()
        self.bpm_label.setTextFormat(Qt.TextFormat.RichText)  # a locked value shows a painted padlock
        analysis.addWidget(QLabel("BPM"), 0, 0)
        analysis.addWidget(self.bpm_label, 0, 1, 1, 3)
        self.bpm_edit = QDoubleSpinBox()
        self.bpm_edit.setRange(20.0, 400.0)
        self.bpm_edit.setDecimals(2)
        self.bpm_edit.setKeyboardTracking(False)
        self.bpm_edit.setToolTip("Type the BPM and press Enter: it is locked against re-analysis")
        self.bpm_edit.editingFinished.connect(self._on_bpm_edit_editing_finished)
        bpm_row = QHBoxLayout()
        bpm_row.addWidget(self.bpm_edit)
        bpm_row.addWidget(_tool("\u00d72", "Double the BPM", lambda: self.tracks.multiply_bpm(2.0)))
        bpm_row.addWidget(_tool("\u00f72", "Halve the BPM", lambda: self.tracks.multiply_bpm(0.5)))
        self.tap_button = _tool("Tap", "Tap along with the beat (four taps set the BPM)", self._tap)
        bpm_row.addWidget(self.tap_button)
        bpm_row.addWidget(
            _tool("\u21ba", "Back to the analysed BPM (unlock)", lambda: self.tracks.set_bpm(None))
        )
        analysis.addLayout(bpm_row, 1, 0, 1, 4)
        self.key_picker = QComboBox()
        self.key_picker.setToolTip("The key in your notation: a choice is locked against re-analysis")
        self.key_picker.activated.connect(self._on_key_picker_activated)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_picker, 1)
        key_row.addWidget(
            _tool(
                "\u21ba", "Back to the analysed key (unlock)", lambda: self.tracks.set_key(None, unlock=True)
            )
        )
        self.key_label = QLabel()
        self.key_label.setTextFormat(Qt.TextFormat.RichText)
        analysis.addWidget(QLabel("Key"), 2, 0)
        analysis.addWidget(self.key_label, 2, 1, 1, 3)
        analysis.addLayout(key_row, 3, 0, 1, 4)
        self.first_beat_label = QLabel()
        self.first_beat_label.setTextFormat(Qt.TextFormat.RichText)
        analysis.addWidget(QLabel("First beat"), 4, 0)
        analysis.addWidget(self.first_beat_label, 4, 1, 1, 3)
        nudge_row = QHBoxLayout()
        for text, ms in (("\u221210", -10), ("\u22121", -1), ("+1", 1), ("+10", 10)):
            nudge_row.addWidget(
                _tool(
                    text, f"Move the first beat by {ms:+d} ms", lambda ms=ms: self.tracks.nudge_first_beat(ms)
                )
            )
        nudge_row.addWidget(_tool("Here", "Put the first beat at the play position", self._first_beat_here))
        nudge_row.addWidget(
            _tool(
                "\u21ba", "Back to the analysed first beat (unlock)", lambda: self.tracks.set_first_beat(None)
            )
        )
        analysis.addLayout(nudge_row, 5, 0, 1, 4)
        layout.addLayout(analysis)

        layout.addWidget(self._section("File"))
        self.file_labels: dict[str, QLabel] = {}
        facts = QFormLayout()
        for name, title in (("format", "Format"), ("bitrate", "Bitrate"), ("sample_rate", "Sample rate"),
                            ("size", "Size"), ("path", "Path")):  # fmt: skip
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.file_labels[name] = label
            facts.addRow(title, label)
        layout.addLayout(facts)
        self.reveal_button = QPushButton("Show in Folder")
        self.reveal_button.clicked.connect(self._on_reveal_button_clicked)
        layout.addWidget(self.reveal_button)
        layout.addStretch(1)

        self._fill_key_picker()
        tracks.track_changed.connect(self._on_tracks_track_changed)
        tracks.cover_changed.connect(self._on_tracks_cover_changed)
        tracks.crates_changed.connect(self._on_tracks_crates_changed)
        self._on_tracks_track_changed(None)

    @staticmethod
    def _section(title: str) -> QLabel:
        label = QLabel(title.upper())
        label.setStyleSheet("color: palette(placeholder-text); font-size: 11px; margin-top: 8px;")
        return label

    def set_key_notation(self, notation: KeyNotation) -> None:
        self.notation = notation
        self._fill_key_picker()
        self._on_tracks_track_changed(self.tracks.track)

    def _fill_key_picker(self) -> None:
        self.key_picker.clear()
        self.key_picker.addItem("No key", None)
        for key in all_keys():
            self.key_picker.addItem(key.format(self.notation), key.code)

    # -- showing -------------------------------------------------------------------------------------------
    def _on_tracks_track_changed(self, track: TrackRecord | None) -> None:
        enabled = track is not None
        for widget in (
            self.edit_button,
            self.reveal_button,
            self.rating,
            self.color,
            self.bpm_edit,
            self.key_picker,
        ):
            widget.setEnabled(enabled)
        if track is None:
            self.heading.setText("No track selected")
            for label in (*self.tag_labels.values(), *self.file_labels.values()):
                label.setText("")
            self.bpm_label.setText("")
            self.key_label.setText("")
            self.first_beat_label.setText("")
            self.bpm_edit.blockSignals(True)
            self.bpm_edit.clear()  # not the last track's values, greyed out
            self.bpm_edit.blockSignals(False)
            self.key_picker.blockSignals(True)
            self.key_picker.setCurrentIndex(-1)
            self.key_picker.blockSignals(False)
            return
        self.heading.setText(track.title or track.filename)
        for name, label in self.tag_labels.items():
            value = getattr(track, name)
            label.setText("" if value is None else str(value))
        self.rating.setCurrentIndex(track.rating or 0)
        self.color.setCurrentIndex(max(0, self.color.findData(track.color or "")))
        self.file_labels["format"].setText(
            f"{track.format.upper()} ({track.codec})" if track.codec else track.format.upper()
        )
        self.file_labels["bitrate"].setText(f"{track.bitrate} kbit/s" if track.bitrate else "")
        rate = f"{track.sample_rate / 1000:g} kHz" if track.sample_rate else ""
        channels = {1: "mono", 2: "stereo"}.get(
            track.channels or 0, f"{track.channels} channels" if track.channels else ""
        )
        self.file_labels["sample_rate"].setText(", ".join(p for p in (rate, channels) if p))
        self.file_labels["size"].setText(_human_size(track.size))
        self.file_labels["path"].setText(display_path(track.path))
        self._show_value(self.bpm_label, *self._bpm_text(track))
        self.bpm_edit.blockSignals(True)
        if track.bpm:
            self.bpm_edit.setValue(track.bpm)
        else:
            self.bpm_edit.clear()  # empty, not the previous track's BPM (which leaving the box would lock)
        self.bpm_edit.blockSignals(False)
        self.key_picker.setCurrentIndex(
            max(0, self.key_picker.findData(track.key)) if track.key is not None else 0
        )
        key_text = format_key_code(track.key, self.notation) or "\u2013"
        if track.key_locked:
            analysed = (
                format_key_code(track.analysis_key, self.notation) if track.analysis_key is not None else None
            )
            self._show_value(
                self.key_label, key_text, "yours" + (f" (analysis: {analysed})" if analysed else "")
            )
        else:
            sure = f"  ({track.key_confidence:.0%} sure)" if track.key_confidence is not None else ""
            self._show_value(self.key_label, key_text + sure)
        if track.first_beat is None:
            self._show_value(self.first_beat_label, "\u2013")
        else:
            first_beat = f"{track.first_beat * 1000:,.1f} ms"
            self._show_value(self.first_beat_label, first_beat, "yours" if track.first_beat_locked else None)

    def _show_value(self, label: QLabel, text: str, locked_note: str | None = None) -> None:
        """``text``, then for a locked value a painted padlock and ``locked_note`` (no emoji font
        needed); the labels take rich text, so plain text is escaped."""
        if locked_note is None:
            label.setText(html.escape(text))
            label.setToolTip("")
            return
        color = label.palette().color(label.foregroundRole()).name()
        label.setText(locked_text(text, locked_note, label.fontMetrics().ascent(), color))
        label.setToolTip(
            "Locked: your correction; re-analysis keeps it (\u21ba goes back to the analysed value)"
        )

    @staticmethod
    def _bpm_text(track: TrackRecord) -> tuple[str, str | None]:
        """The BPM line: (text, note after the padlock, or None when the BPM is not locked)."""
        if not track.bpm:
            return ("\u2013 (not analysed)" if track.analyzed_at is None else "\u2013"), None
        alternative = f"; or {track.bpm_alt:.2f}" if getattr(track, "bpm_alt", None) else ""
        if track.bpm_locked:
            analysed = f" (analysis: {track.analysis_bpm:.2f})" if track.analysis_bpm else ""
            return f"{track.bpm:.2f}", f"yours{analysed}{alternative}"
        sure = f"  ({track.bpm_confidence:.0%} sure)" if track.bpm_confidence is not None else ""
        return f"{track.bpm:.2f}{sure}{alternative}", None

    def _on_tracks_cover_changed(self, image: QImage | None) -> None:
        if image is None or image.isNull():
            self.cover.setPixmap(QPixmap())
            self.cover.setText("No cover")
            return
        side = min(COVER_PIXELS, THUMBNAIL_PIXELS)
        self.cover.setPixmap(
            QPixmap.fromImage(image).scaled(
                side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )

    def _on_tracks_crates_changed(self, names: list[str]) -> None:
        self.crates_label.setText(", ".join(names) if names else "\u2013")

    # -- corrections ---------------------------------------------------------------------------------------
    def _tap(self) -> None:
        bpm = self.tracks.tap()
        self.tap_button.setText(f"{bpm:.1f}" if bpm else "Tap")

    def _first_beat_here(self) -> None:
        self.tracks.set_first_beat(self.position())

    def _on_bpm_edit_editing_finished(self) -> None:
        track = self.tracks.track
        if not self.bpm_edit.text().strip():
            return  # an empty box (no BPM yet) left without typing one
        if track is not None and (track.bpm is None or abs(self.bpm_edit.value() - track.bpm) > 0.004):
            self.tracks.set_bpm(self.bpm_edit.value())

    def _on_key_picker_activated(self, index: int) -> None:
        self.tracks.set_key(self.key_picker.itemData(index))

    def _on_rating_activated(self, index: int) -> None:
        self.tracks.set_rating(index or None)

    def _on_color_activated(self, index: int) -> None:
        self.tracks.set_color(self.color.itemData(index) or "")

    def _on_reveal_button_clicked(self) -> None:
        if self.tracks.track is not None:
            self.reveal_requested.emit(self.tracks.track.path)
