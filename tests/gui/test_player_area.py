"""The window's player strip and track panel on a real library: selecting a row shows its waveform,
grid and cover; Space plays it; hot cues, BPM corrections and the multi-track tag editor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from audiofactory import write_audio
from PySide6.QtCore import QBuffer, Qt
from PySide6.QtGui import QColor, QImage

from crate_app.analysis import waveform
from crate_app.gui.tag_editor import VARIOUS
from crate_app.library.scanner import scan_paths
from crate_app.library.tags import read_tags
from crate_app.store import writer
from crate_app.store.cues import cues_of
from crate_app.store.waveforms import save_waveform


def _jpeg(color: str) -> bytes:
    image = QImage(300, 300, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    buffer = QBuffer()
    buffer.open(QBuffer.OpenModeFlag.WriteOnly)
    image.save(buffer, "JPEG")
    return bytes(buffer.data())


@pytest.fixture
def music(tmp_path: Path, library):
    rate = 22050
    t = np.arange(8 * rate, dtype=np.float32) / rate
    mono = (0.4 * np.sin(2 * np.pi * 80 * t) * (t < 4)).astype(np.float32)
    for i, fmt in enumerate(("mp3", "flac")):
        write_audio(
            tmp_path / "music" / f"{i}.{fmt}",
            {"title": f"Song {i}", "artist": "Someone", "genre": "House"},
            samples=np.stack([mono, mono]),
            rate=rate,
            cover=_jpeg("#ff0000"),
        )
    scan_paths(library, [str(tmp_path / "music")])
    ids = list(library.iter_track_ids(sort="path"))
    data = waveform.encode(waveform.overview(mono, rate))
    for track_id in ids:
        save_waveform(library, track_id, data)
    writer.correct_bpm(library, ids[:1], 120.0)
    return ids


def test_selecting_playing_and_correcting(qtbot, make_window, library, music) -> None:
    window = make_window(library)
    area = window.player_area
    table = window.table
    table.setFocus()
    table.selectRow(0)
    qtbot.waitUntil(lambda: area.tracks.track is not None and area.tracks.track.id == music[0], timeout=3_000)
    assert area.strip.waveform.waveform is not None and area.strip.waveform.grid is not None
    assert area.panel.heading.text() == "Song 0"
    qtbot.waitUntil(lambda: not area.panel.cover.pixmap().isNull(), timeout=5_000)
    assert area.panel.cover.pixmap().toImage().pixelColor(100, 100).red() > 200  # the red cover

    qtbot.keyClick(table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: area.player.is_playing and area.player.position > 0.2, timeout=5_000)
    qtbot.keyClick(table, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)  # hot cue A, snapped to the grid
    cues = cues_of(library, music[0])
    assert [(c.kind, c.number) for c in cues] == [("hot", 0)]
    assert (cues[0].start * 2) == pytest.approx(round(cues[0].start * 2))  # on a beat of 120 BPM
    qtbot.keyClick(table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not area.player.is_playing, timeout=3_000)
    area.tracks.edit_cue(cues[0], replace(cues[0], name="Drop", color="#e0301e"))  # the pad's menu does this
    assert [(c.name, c.color) for c in cues_of(library, music[0])] == [("Drop", "#e0301e")]
    assert "#e0301e" in area.strip.cue_buttons[0].styleSheet()

    area.tracks.multiply_bpm(2.0)
    record = library.tracks_by_ids(music[:1])[0]
    assert (record.bpm, record.bpm_locked) == (240.0, True)
    assert "yours" in area.panel.bpm_label.text()
    assert window.model.track_at(0).bpm == 240.0


def test_multi_track_editor_shows_various_and_writes_only_what_was_touched(
    qtbot, make_window, library, music
):
    window = make_window(library)
    window.table.selectAll()
    dialog = window.player_area.edit_tags()
    assert dialog is not None
    assert dialog.edits["title"].placeholderText() == VARIOUS and dialog.edits["title"].text() == ""
    assert dialog.edits["genre"].text() == "House"
    qtbot.keyClicks(dialog.edits["genre"], " Music")
    with qtbot.waitSignal(dialog.finished, timeout=20_000):
        dialog.save()
    paths = [t.path for t in library.tracks_by_ids(music)]
    assert [read_tags(p).genre for p in paths] == ["House Music", "House Music"]
    assert [read_tags(p).title for p in paths] == ["Song 0", "Song 1"]
    assert window.player_area.undo_action.isEnabled()
    with qtbot.waitSignal(window.player_area.tag_edits.finished, timeout=20_000):
        window.player_area.undo_action.trigger()
    assert [read_tags(p).genre for p in paths] == ["House", "House"]
