"""The player strip above the table: play/pause, the track, time, the overview waveform, hot cues A-H,
memory cue, loop in/out, volume, and a menu for the start point, "keep playing while browsing" and the
audio output.  Talks to the PlayerService and the TrackService only."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.colors import TRACK_COLORS
from crate_app.domain.cues import HOT_CUE_COUNT, HOT_CUE_LETTERS, CuePoint
from crate_app.domain.progress import format_position
from crate_app.domain.track import TrackRecord
from crate_app.domain.waveform import StoredWaveform
from crate_app.gui.elided_label import ElidedLabel
from crate_app.gui.waveform_view import NO_WAVEFORM, WaveformView
from crate_app.services.player_service import PlayerService, StartPoint, grid_of
from crate_app.services.track_service import TrackService

PREPARE_DELAY_MS = 150  # a selection that stays this long is loaded into the player, ready for Space

_START_LABELS = {
    StartPoint.FIRST_BEAT: "Start at the First Beat",
    StartPoint.THIRTY_PERCENT: "Start at 30 %",
    StartPoint.START: "Start at the Beginning",
}


class PlayerStrip(QWidget):
    """The preview player's controls.  Preferences live under ``player/`` in ``settings``."""

    def __init__(
        self, player: PlayerService, tracks: TrackService, settings: QSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.player = player
        self.tracks = tracks
        self.settings = settings
        self.keep_playing = bool(settings.value("player/keep_playing", False, type=bool))
        self.loop_in: float | None = None
        self._prepare_timer = QTimer(self)
        self._prepare_timer.setSingleShot(True)
        self._prepare_timer.setInterval(PREPARE_DELAY_MS)
        self._prepare_timer.timeout.connect(self._on_prepare_timer_timeout)

        self.play_button = QToolButton(self)
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setToolTip("Play / pause the selected track (Space)")
        self.play_button.setFixedWidth(36)
        # Long titles and notes end in "…" instead of widening the window or being clipped.
        self.title_label = ElidedLabel("No track", self)
        self.title_label.setStyleSheet("font-weight: 600;")
        self.time_label = QLabel("0:00 / 0:00", self)
        self.note_label = ElidedLabel("", self)
        self.note_label.setStyleSheet("color: #d08020;")
        self.note_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.waveform = WaveformView(self)
        self.cue_buttons: list[QToolButton] = []
        cue_row = QHBoxLayout()
        cue_row.setSpacing(2)
        for number in range(HOT_CUE_COUNT):
            button = QToolButton(self)
            button.setText(HOT_CUE_LETTERS[number])
            button.setToolTip(f"Hot cue {HOT_CUE_LETTERS[number]}: jump ({number + 1}), set when empty "
                              f"(Ctrl+{number + 1} sets it at the play position); right-click to name, "
                              "colour or delete it")  # fmt: skip
            button.clicked.connect(lambda _checked=False, n=number: self.hot_cue_pressed(n))
            button.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            button.customContextMenuRequested.connect(lambda _pos, n=number: self._show_cue_menu(n))
            cue_row.addWidget(button)
            self.cue_buttons.append(button)
        self.memory_button = QToolButton(self)
        self.memory_button.setText("Memo")
        self.memory_button.setToolTip("Add a memory cue at the play position (M)")
        self.loop_in_button = QToolButton(self)
        self.loop_in_button.setText("In")
        self.loop_in_button.setToolTip("Loop in at the play position (I)")
        self.loop_out_button = QToolButton(self)
        self.loop_out_button.setText("Out")
        self.loop_out_button.setToolTip("Loop out: stores the loop and plays it (O); again: leave the loop")
        for button in (self.memory_button, self.loop_in_button, self.loop_out_button):
            cue_row.addWidget(button)
        self.volume = QSlider(Qt.Orientation.Horizontal, self)
        self.volume.setRange(0, 100)
        self.volume.setFixedWidth(90)
        self.volume.setToolTip("Volume")
        self.volume.setValue(int(settings.value("player/volume", 80, type=int)))
        self.menu_button = QToolButton(self)
        self.menu_button.setText("\u22ef")
        self.menu_button.setToolTip("Start point, keep playing while browsing, audio output")
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self)
        self.menu.aboutToShow.connect(self._on_menu_about_to_show)
        self.menu_button.setMenu(self.menu)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.play_button)
        top.addWidget(self.title_label, 1)
        top.addWidget(self.note_label, 1)
        top.addWidget(self.time_label)
        top.addLayout(cue_row)
        top.addWidget(self.volume)
        top.addWidget(self.menu_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.waveform)

        start = settings.value("player/start_point", StartPoint.FIRST_BEAT.value)
        self.player.start_point = (
            StartPoint(start) if start in StartPoint._value2member_map_ else StartPoint.FIRST_BEAT
        )
        self.player.set_volume(self.volume.value() / 100)
        device = settings.value("player/output_device", b"")
        if device:
            self.player.set_output_device(bytes(device))

        self.play_button.clicked.connect(self._on_play_button_clicked)
        self.memory_button.clicked.connect(self._on_memory_button_clicked)
        self.loop_in_button.clicked.connect(self._on_loop_in_button_clicked)
        self.loop_out_button.clicked.connect(self._on_loop_out_button_clicked)
        self.volume.valueChanged.connect(self._on_volume_value_changed)
        self.waveform.seek_requested.connect(self._on_waveform_seek_requested)
        self.player.playing_changed.connect(self._on_player_playing_changed)
        self.player.position_changed.connect(self._on_player_position_changed)
        self.player.track_changed.connect(self._on_player_track_changed)
        self.player.note_changed.connect(self._on_player_note_changed)
        self.tracks.waveform_changed.connect(self._on_tracks_waveform_changed)
        self.tracks.cues_changed.connect(self._on_tracks_cues_changed)
        self.tracks.track_changed.connect(self._on_tracks_track_changed)
        self.tracks.note.connect(self._on_player_note_changed)
        self._on_player_note_changed(self.player.note)

    # -- commands (the window's shortcuts call these) -------------------------------------------------
    def play_pause(self) -> None:
        """Space: the selected track plays from the start point, or the playing one pauses/resumes (also
        when no row is selected: a search can clear the selection while music plays)."""
        selected = self.tracks.track
        if selected is None:
            if self.player.track is not None:
                self.player.toggle()
            return
        self._prepare_timer.stop()
        if self.player.track is not None and self.player.track.id == selected.id:
            self.player.toggle()
        else:
            self.player.load(selected, play=True)

    def selection_changed(self) -> None:
        """A new row is selected: preview it when "keep playing while browsing" is on and music plays;
        when nothing plays, prepare it (after a short pause in browsing) so that Space starts at once."""
        selected = self.tracks.track
        if selected is None or (self.player.track is not None and self.player.track.id == selected.id):
            return
        if self.player.is_playing:
            if self.keep_playing:
                self.player.load(selected, play=True)
            return
        self._prepare_timer.start()

    def _on_prepare_timer_timeout(self) -> None:
        selected = self.tracks.track
        if (
            selected is not None
            and not self.player.is_playing
            and (self.player.track is None or self.player.track.id != selected.id)
        ):
            self.player.load(selected, play=False)

    def hot_cue_pressed(self, number: int) -> None:
        """1-8 and the pads: jump to hot cue ``number`` (setting it first when the pad is empty)."""
        if not self._is_current():
            return
        cue = self.tracks.hot_cue(number)
        if cue is None:
            self.tracks.set_hot_cue(number, self.player.position)
        else:
            self.player.seek(cue.start)

    def set_hot_cue(self, number: int) -> None:
        if self._is_current():
            self.tracks.set_hot_cue(number, self.player.position)

    def jump(self, direction: int) -> None:
        if self._is_current():
            self.player.jump(direction)

    def _is_current(self) -> bool:
        """The strip's track is the one playing (or paused) in the player."""
        return (
            self.tracks.track is not None
            and self.player.track is not None
            and self.player.track.id == self.tracks.track.id
        )

    # -- slots -------------------------------------------------------------------------------------------
    def _on_play_button_clicked(self) -> None:
        self.play_pause()

    def _on_memory_button_clicked(self) -> None:
        if self._is_current():
            self.tracks.add_memory_cue(self.player.position)

    def _on_loop_in_button_clicked(self) -> None:
        if self._is_current():
            self.loop_in = self.tracks.snap(self.player.position)
            self.loop_in_button.setDown(True)

    def _on_loop_out_button_clicked(self) -> None:
        if self.player.loop is not None:
            self.player.loop = None
            return
        if self._is_current() and self.loop_in is not None:
            loop = self.tracks.add_loop(self.loop_in, self.player.position)
            if loop is not None and loop.end is not None:
                self.player.loop = (loop.start, loop.end)
            self.loop_in = None
            self.loop_in_button.setDown(False)

    def _on_volume_value_changed(self, value: int) -> None:
        self.player.set_volume(value / 100)
        self.settings.setValue("player/volume", value)

    def _on_waveform_seek_requested(self, seconds: float) -> None:
        if self.tracks.track is None:
            return
        if not self._is_current():
            self.player.load(self.tracks.track, play=False, at=seconds)
        self.player.seek(seconds)

    def _on_player_playing_changed(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def _on_player_position_changed(self, seconds: float) -> None:
        if self._is_current():
            self.waveform.set_position(seconds)
            duration = self.tracks.track.duration if self.tracks.track else None
            self.time_label.setText(f"{format_position(seconds)} / {format_position(duration or 0)}")

    def _on_player_track_changed(self, _track: TrackRecord | None) -> None:
        self.waveform.set_grid(grid_of(self.tracks.track))

    def _on_player_note_changed(self, text: str) -> None:
        self.note_label.setText(text)
        self.note_label.setToolTip(text)
        self.note_label.setVisible(bool(text))

    def _on_tracks_track_changed(self, track: TrackRecord | None) -> None:
        if track is None:
            self.title_label.setText("No track")
            self.time_label.setText("0:00 / 0:00")
            return
        title = " \u2013 ".join(part for part in (track.artist, track.title) if part) or track.filename
        self.title_label.setText(title)
        self.waveform.set_grid(grid_of(track))
        self.waveform.duration = float(track.duration or self.waveform.duration)
        self.player.update_track(track)
        position = self.player.position if self._is_current() else 0.0
        self.waveform.set_position(position)
        self.time_label.setText(f"{format_position(position)} / {format_position(track.duration or 0)}")

    def _on_tracks_waveform_changed(self, waveform: StoredWaveform | None) -> None:
        track = self.tracks.track
        self.waveform.placeholder = NO_WAVEFORM if track is not None else "No track selected"
        self.waveform.set_track(waveform, track.duration if track else None)
        self.waveform.set_grid(grid_of(track))

    def _on_tracks_cues_changed(self, cues: list[CuePoint]) -> None:
        self.waveform.set_cues(cues)
        for number, button in enumerate(self.cue_buttons):
            cue = next((c for c in cues if c.kind == "hot" and c.number == number), None)
            button.setStyleSheet(f"background: {cue.color or '#3cdc78'}; color: black;" if cue else "")

    def _show_cue_menu(self, number: int) -> None:
        """Right-click on a pad: name, colour or delete its hot cue."""
        cue = self.tracks.hot_cue(number)
        if cue is None:
            return
        menu = QMenu(self)
        rename = menu.addAction("Name\u2026")
        colors = menu.addMenu("Colour")
        for name, hex_value in TRACK_COLORS.items():
            action = colors.addAction(name.capitalize())
            action.setData(hex_value)
        delete = menu.addAction("Delete")
        chosen = menu.exec(self.cue_buttons[number].mapToGlobal(self.cue_buttons[number].rect().bottomLeft()))
        if chosen is None:
            return
        if chosen is delete:
            self.tracks.edit_cue(cue, None)
        elif chosen is rename:
            text, ok = QInputDialog.getText(
                self, f"Hot Cue {HOT_CUE_LETTERS[number]}", "Name:", text=cue.name
            )
            if ok:
                self.tracks.edit_cue(cue, replace(cue, name=text.strip()))
        elif chosen.data():
            self.tracks.edit_cue(cue, replace(cue, color=chosen.data()))

    def _on_menu_about_to_show(self) -> None:
        self.menu.clear()
        starts = QActionGroup(self.menu)
        for point, label in _START_LABELS.items():
            action = self.menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(self.player.start_point is point)
            action.triggered.connect(lambda _c=False, p=point: self._choose_start(p))
            starts.addAction(action)
        self.menu.addSeparator()
        keep = self.menu.addAction("Keep Playing While Browsing")
        keep.setCheckable(True)
        keep.setChecked(self.keep_playing)
        keep.toggled.connect(self._choose_keep_playing)
        self.menu.addSeparator()
        outputs = self.menu.addMenu("Audio Output")
        devices = self.player.output_devices()
        if not devices:
            outputs.addAction("No audio output device").setEnabled(False)
        current = bytes(self.player.audio.device().id())
        for device in devices:
            action: QAction = outputs.addAction(device.description())
            action.setCheckable(True)
            action.setChecked(bytes(device.id()) == current)
            device_id = bytes(device.id())
            action.triggered.connect(lambda _c=False, d=device_id: self._choose_device(d))

    def _choose_start(self, point: StartPoint) -> None:
        self.player.start_point = point
        self.settings.setValue("player/start_point", point.value)

    def _choose_keep_playing(self, on: bool) -> None:
        self.keep_playing = on
        self.settings.setValue("player/keep_playing", on)

    def _choose_device(self, device_id: bytes) -> None:
        if self.player.set_output_device(device_id):
            self.settings.setValue("player/output_device", device_id)
