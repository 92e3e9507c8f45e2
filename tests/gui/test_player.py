"""Real audio through QMediaPlayer offscreen: state changes, the position advances, start points,
jumps along the grid, and notes (never exceptions or dialogs) for bad and vanished files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtMultimedia import QMediaPlayer

from crate_app.domain.track import TrackRecord
from crate_app.services.player_service import PlayerService, StartPoint


def _track(path: Path, **values) -> TrackRecord:
    return TrackRecord(id=values.pop("id", 1), path=str(path), **values)


@pytest.mark.parametrize("name", ["dubstep.mp3", "dubstep.flac", "dubstep.aac"])
def test_real_audio_plays_and_its_position_advances(qtbot, testdata: Path, name: str) -> None:
    player = PlayerService()
    with qtbot.waitSignal(player.playing_changed, timeout=5_000, check_params_cb=lambda playing: playing):
        assert player.load(_track(testdata / "audio" / name, duration=6.9), play=True)
    qtbot.waitUntil(lambda: player.position > 0.4, timeout=5_000)
    assert player.is_playing and "Cannot" not in player.note
    player.toggle()
    assert not player.is_playing
    paused_at = player.position
    qtbot.wait(200)
    assert player.position == pytest.approx(paused_at, abs=0.05)
    player.stop()  # through invokeMethod (GIL released), still synchronous
    assert player.player.playbackState() == QMediaPlayer.PlaybackState.StoppedState


def test_start_points_seek_and_grid_jumps(qtbot, testdata: Path) -> None:
    player = PlayerService()
    player.start_point = StartPoint.THIRTY_PERCENT
    track = _track(testdata / "audio" / "dubstep.flac", duration=6.9, bpm=120.0, first_beat=0.25)
    player.load(track, play=True)
    qtbot.waitUntil(lambda: player.is_playing and player.position >= 2.0, timeout=5_000)
    assert player.position < 3.0  # started at 30 % (2.07 s), not at 0
    player.seek(1.0)
    qtbot.waitUntil(lambda: 1.0 <= player.position < 1.6, timeout=3_000)
    player.player.pause()
    player.seek(1.0)
    qtbot.waitUntil(lambda: abs(player.position - 1.0) < 0.05, timeout=3_000)
    player.jump(+1)  # 8 beats at 120 BPM = 4 s
    qtbot.waitUntil(lambda: abs(player.position - 5.0) < 0.05, timeout=3_000)
    player.update_track(TrackRecord(id=1, path=track.path, duration=6.9))  # no BPM: jumps are 10 s
    player.jump(-1)
    qtbot.waitUntil(lambda: player.position < 0.05, timeout=3_000)
    player.start_point = StartPoint.FIRST_BEAT
    player.load(track, play=True)
    qtbot.waitUntil(lambda: player.is_playing and player.position >= 0.25, timeout=5_000)
    player.stop()


def test_bad_and_vanished_files_become_a_note(qtbot, tmp_path: Path, testdata: Path) -> None:
    player = PlayerService()
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00garbage" * 200)
    player.load(_track(broken), play=True)
    qtbot.waitUntil(lambda: player.note.startswith("Cannot play broken.mp3"), timeout=5_000)
    assert not player.is_playing
    gone = tmp_path / "gone.flac"
    shutil.copy(testdata / "audio" / "dubstep.flac", gone)
    track = _track(gone, id=2)
    gone.unlink()
    assert not player.load(track, play=True)
    assert player.note == "File not found: gone.flac" and not player.is_playing
    player.toggle()  # Space on a missing file: still nothing but the note
    assert not player.is_playing
