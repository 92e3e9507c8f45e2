"""The preview player: QMediaPlayer (FFmpeg backend) + QAudioOutput, driven by track records.

Plays the selected track from a chosen start (its first beat, 30 %, or the start), seeks, jumps along
the beat grid, remembers nothing itself (the strip keeps the preferences).  Problems never raise and
never open dialogs: they become a short ``note`` (no audio device, a vanished or unplayable file).
"""

from __future__ import annotations

import enum
import os

from PySide6.QtCore import QMetaObject, QObject, Qt, QUrl, Signal
from PySide6.QtMultimedia import QAudioDevice, QAudioOutput, QMediaDevices, QMediaPlayer

from crate_app.domain.beatgrid import BeatGrid
from crate_app.domain.track import TrackRecord, display_path

JUMP_BEATS = 8
JUMP_SECONDS = 10.0  # Left/Right without a beat grid


class StartPoint(enum.StrEnum):
    """Where Space starts a newly selected track."""

    FIRST_BEAT = "first_beat"
    THIRTY_PERCENT = "thirty_percent"
    START = "start"


def start_position(track: TrackRecord, start: StartPoint) -> float:
    """Seconds into ``track`` where playback starts for ``start``."""
    if start is StartPoint.FIRST_BEAT and track.first_beat is not None:
        return max(0.0, float(track.first_beat))
    if start is StartPoint.THIRTY_PERCENT and track.duration:
        return 0.3 * float(track.duration)
    return 0.0


def grid_of(track: TrackRecord | None) -> BeatGrid | None:
    """The track's beat grid, or None without a BPM."""
    if track is None or not track.bpm or track.bpm <= 0:
        return None
    return BeatGrid(float(track.bpm), float(track.first_beat or 0.0), track.first_downbeat)


class PlayerService(QObject):
    """One preview player for the window."""

    playing_changed = Signal(bool)
    position_changed = Signal(float)  # seconds
    track_changed = Signal(object)  # TrackRecord | None
    note_changed = Signal(str)  # '' clears it

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.player = QMediaPlayer(self)
        self.audio = QAudioOutput(self)
        self.player.setAudioOutput(self.audio)
        self.devices = QMediaDevices(self)
        self.track: TrackRecord | None = None
        self.start_point = StartPoint.FIRST_BEAT
        self.loop: tuple[float, float] | None = None  # active loop (start, end) in seconds
        self._pending_start: float | None = None
        self._note = ""
        self.player.playbackStateChanged.connect(self._on_player_playback_state_changed)
        self.player.positionChanged.connect(self._on_player_position_changed)
        self.player.mediaStatusChanged.connect(self._on_player_media_status_changed)
        self.player.errorOccurred.connect(self._on_player_error_occurred)
        self.devices.audioOutputsChanged.connect(self._on_devices_audio_outputs_changed)
        self._on_devices_audio_outputs_changed()

    # -- state ------------------------------------------------------------------------------------
    @property
    def is_playing(self) -> bool:
        return self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    @property
    def position(self) -> float:
        return self.player.position() / 1000.0

    @property
    def note(self) -> str:
        return self._note

    def grid(self) -> BeatGrid | None:
        return grid_of(self.track)

    # -- commands -----------------------------------------------------------------------------------
    def load(self, track: TrackRecord, *, play: bool, at: float | None = None) -> bool:
        """Make ``track`` the player's track; ``play`` starts it at ``at`` (default: the start point).
        False (and a note) when the file is not there."""
        self.loop = None
        self.track = track
        self.track_changed.emit(track)
        if not os.path.isfile(track.path):
            self.release()
            self._set_note(f"File not found: {display_path(os.path.basename(track.path))}")
            return False
        self._set_note(self._device_note())
        self._pending_start = start_position(track, self.start_point) if at is None else at
        self.player.setSource(QUrl.fromLocalFile(track.path))
        if play:
            self.player.play()
        return True

    def update_track(self, track: TrackRecord) -> None:
        """The same track with corrected values (BPM, first beat...): keeps playing."""
        if self.track is not None and track.id == self.track.id:
            self.track = track
            self.track_changed.emit(track)

    def toggle(self) -> None:
        if self.track is None:
            return
        if self.is_playing:
            self.player.pause()
        else:
            if self.player.source().isEmpty() and not self.load(self.track, play=False):
                return
            self.player.play()

    def stop(self) -> None:
        """Stop playing.  QMediaPlayer.stop() tears down the FFmpeg playback threads, whose objects
        call back into their Python-made senders (which needs the GIL) while stop() waits for them:
        PySide6 calls stop() holding the GIL, so it is called through invokeMethod, which releases it
        (setSource already does).  A direct call deadlocked the suite once."""
        QMetaObject.invokeMethod(self.player, "stop", Qt.ConnectionType.DirectConnection)

    def release(self) -> None:
        """Stop and drop the source (the playback threads end): for a vanished file and at shutdown."""
        self.stop()
        self.player.setSource(QUrl())

    def seek(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        if self.player.mediaStatus() in (
            QMediaPlayer.MediaStatus.LoadingMedia,
            QMediaPlayer.MediaStatus.NoMedia,
        ):
            self._pending_start = seconds
        else:
            self.player.setPosition(round(seconds * 1000))
        self.position_changed.emit(seconds)

    def jump(self, direction: int) -> None:
        """Left/Right: ``direction`` * 8 beats along the grid, or 10 s without one."""
        grid = self.grid()
        target = (
            grid.jump(self.position, direction * JUMP_BEATS)
            if grid
            else self.position + direction * JUMP_SECONDS
        )
        self.seek(target)

    def set_volume(self, volume: float) -> None:
        self.audio.setVolume(min(1.0, max(0.0, volume)))

    def output_devices(self) -> list[QAudioDevice]:
        return list(QMediaDevices.audioOutputs())

    def set_output_device(self, device_id: bytes) -> bool:
        """Use the output with this id; False when it is not (or no longer) there."""
        for device in QMediaDevices.audioOutputs():
            if bytes(device.id()) == device_id:
                self.audio.setDevice(device)
                return True
        return False

    # -- slots --------------------------------------------------------------------------------------
    def _on_player_media_status_changed(self, status: QMediaPlayer.MediaStatus) -> None:
        if status in (QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferedMedia):
            if self._pending_start is not None:
                start, self._pending_start = self._pending_start, None
                if start > 0:
                    self.player.setPosition(round(start * 1000))
        elif status == QMediaPlayer.MediaStatus.InvalidMedia and self.track is not None:
            self._set_note(f"Cannot play {display_path(os.path.basename(self.track.path))}")

    def _on_player_error_occurred(self, _error: QMediaPlayer.Error, message: str) -> None:
        name = display_path(os.path.basename(self.track.path)) if self.track else "this file"
        self._set_note(f"Cannot play {name}: {message}" if message else f"Cannot play {name}")

    def _on_player_playback_state_changed(self, state: QMediaPlayer.PlaybackState) -> None:
        self.playing_changed.emit(state == QMediaPlayer.PlaybackState.PlayingState)

    def _on_player_position_changed(self, milliseconds: int) -> None:
        seconds = milliseconds / 1000.0
        if self.loop is not None and self.is_playing and seconds >= self.loop[1]:
            self.player.setPosition(round(self.loop[0] * 1000))
            seconds = self.loop[0]
        self.position_changed.emit(seconds)

    def _on_devices_audio_outputs_changed(self) -> None:
        if self.audio.device().isNull() or self.audio.device() not in QMediaDevices.audioOutputs():
            self.audio.setDevice(QMediaDevices.defaultAudioOutput())
        self._set_note(self._device_note())

    def _device_note(self) -> str:
        return "" if QMediaDevices.audioOutputs() else "No audio output device: playing silently"

    def _set_note(self, text: str) -> None:
        if text != self._note:
            self._note = text
            self.note_changed.emit(text)
