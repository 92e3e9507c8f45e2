"""The window's player strip and track panel on a real library: selecting a row shows its waveform,
grid and cover; Space plays it; hot cues, BPM corrections and the multi-track tag editor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from audiofactory import write_audio
from PySide6.QtCore import QBuffer, QModelIndex, Qt
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
    assert 'alt="locked"' in area.panel.bpm_label.text()  # the painted padlock, not an emoji
    assert "\U0001f512" not in area.panel.bpm_label.text()
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
    assert window.crates.undo_action.isEnabled() and "genre" in window.crates.undo_action.text()
    with qtbot.waitSignal(window.player_area.tag_edits.finished, timeout=20_000):
        window.crates.undo_action.trigger()
    assert [read_tags(p).genre for p in paths] == ["House", "House"]


def _undo_key(qtbot, window, redo: bool = False) -> None:
    """The real shortcut on the table: Ctrl+Z, or Ctrl+Shift+Z to redo."""
    modifiers = Qt.KeyboardModifier.ControlModifier
    if redo:
        modifiers |= Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window.table, Qt.Key.Key_Z, modifiers)


def test_one_undo_history_for_crate_edits_tag_edits_and_corrections(qtbot, make_window, library, music):
    window = make_window(library)
    area, crates = window.player_area, window.crates.service
    crates.create(None, "Warm-up", "crate")  # 1. a crate edit
    qtbot.waitUntil(lambda: any(n.name == "Warm-up" for n in crates.nodes), timeout=10_000)
    window.crates.sidebar.select_collection()  # the new crate was shown: back to the whole library
    qtbot.waitUntil(lambda: window.model.rowCount() == 2 and not window.model.is_loading, timeout=10_000)
    window.table.setFocus()
    window.table.selectRow(0)
    qtbot.waitUntil(lambda: area.tracks.track is not None and area.tracks.track.id == music[0], timeout=3_000)
    paths = [t.path for t in library.tracks_by_ids(music)]
    with qtbot.waitSignal(area.tag_edits.finished, timeout=20_000):  # 2. a tag edit of both files
        assert area.tag_edits.edit(library.tracks_by_ids(music), {"genre": "Techno"}) is not None
    area.tracks.multiply_bpm(2.0)  # 3. a correction (120 locked -> 240)
    area.tracks.set_rating(4)  # 4. another, which also goes into the file (in the background)
    assert library.track_by_id(music[0]).rating == 4
    qtbot.waitUntil(lambda: read_tags(paths[0]).rating == 4, timeout=10_000)
    assert read_tags(paths[0]).genre == "Techno"  # the rating's write kept the tag edit's

    _undo_key(qtbot, window)  # undoes the rating
    assert library.track_by_id(music[0]).rating is None
    qtbot.waitUntil(lambda: read_tags(paths[0]).rating is None, timeout=10_000)
    _undo_key(qtbot, window)  # the BPM: locked at 120 again, as it was
    record = library.track_by_id(music[0])
    assert (record.bpm, record.bpm_locked, area.tracks.track.bpm) == (120.0, True, 120.0)
    assert window.model.track_at(0).bpm == 120.0  # the table shows it
    with qtbot.waitSignal(area.tag_edits.finished, timeout=20_000):
        _undo_key(qtbot, window)  # the tag edit: the files are as they were
    assert [read_tags(p).genre for p in paths] == ["House", "House"]
    assert {t.genre for t in library.tracks_by_ids(music)} == {"House"}
    _undo_key(qtbot, window)  # the crate
    qtbot.waitUntil(lambda: not any(n.name == "Warm-up" for n in crates.nodes), timeout=10_000)

    _undo_key(qtbot, window, redo=True)  # and back, in order
    qtbot.waitUntil(lambda: any(n.name == "Warm-up" for n in crates.nodes), timeout=10_000)
    with qtbot.waitSignal(area.tag_edits.finished, timeout=20_000):
        _undo_key(qtbot, window, redo=True)
    assert [read_tags(p).genre for p in paths] == ["Techno", "Techno"]
    _undo_key(qtbot, window, redo=True)
    assert library.track_by_id(music[0]).bpm == 240.0


def test_corrections_undo_to_what_they_were_locked_or_not(qtbot, library, music, tmp_path) -> None:
    from crate_app.domain.track import AnalysisResult
    from crate_app.services.jobs import JobRunner
    from crate_app.services.track_service import TrackService

    runner = JobRunner(1)
    service = TrackService(library, runner, tmp_path / "covers")
    stack = service.undo_stack
    track_id = music[1]  # analysed, nothing corrected
    writer.save_analysis(library, [(track_id, AnalysisResult(87.0, 0.6, 5, 0.7, first_beat=0.3))])
    service.select(track_id)
    service.multiply_bpm(2.0)
    service.set_key(None)  # "no key", locked
    for when in (0.0, 0.5, 1.0, 1.5, 1.98, 2.46):  # tap tempo: one undo step however often it changes
        service.tap(when)
    for _ in range(3):  # three nudges: one step
        service.nudge_first_beat(+10)
    service.set_hot_cue(0, 1.0)
    track = library.track_by_id(track_id)
    assert 120.5 < track.bpm < 123 and (track.key, track.key_locked, track.first_beat) == (None, True, 0.33)
    assert stack.count() == 5 and len(cues_of(library, track_id)) == 1

    stack.undo()  # the cue
    assert cues_of(library, track_id) == [] and service.cues == []
    stack.undo()  # the nudges
    assert library.track_by_id(track_id).first_beat == 0.3
    stack.undo()  # the taps: back to x2, still locked
    assert (library.track_by_id(track_id).bpm, library.track_by_id(track_id).bpm_locked) == (174.0, True)
    stack.undo()
    stack.undo()
    track = library.track_by_id(track_id)  # as the analysis left it, nothing locked
    assert (track.bpm, track.bpm_locked, track.key, track.key_locked) == (87.0, False, 5, False)
    assert service.track.bpm == 87.0  # the panel follows
    stack.redo()
    assert library.track_by_id(track_id).bpm == 174.0
    runner.shutdown()


def test_the_thin_waveform_column_shows_loud_and_silent_halves(qtbot, make_window, library, music) -> None:
    from crate_app.gui.track_model import WAVEFORM_COLUMN
    from crate_app.gui.waveform_view import BACKGROUND

    window = make_window(library)
    table, delegate = window.table, window.player_area.waveform_column
    table.scrollTo(window.model.index(0, WAVEFORM_COLUMN))
    qtbot.waitUntil(lambda: len(delegate.images) == 2, timeout=5_000)  # both rows, one query
    assert delegate.queries == 1
    image = table.viewport().grab().toImage()
    for row in range(2):
        cell = table.visualRect(window.model.index(row, WAVEFORM_COLUMN)).adjusted(2, 2, -2, -2)
        middle = cell.center().y()
        loud = image.pixelColor(cell.left() + cell.width() // 4, middle)  # the first 4 s: an 80 Hz tone
        silent = image.pixelColor(cell.left() + cell.width() * 3 // 4, middle)  # then silence
        assert loud.red() > 150 and loud.green() < 120, loud.name()  # the low band's red
        assert silent == BACKGROUND, silent.name()
    table.viewport().repaint()  # painting again reads nothing: the overviews are cached
    assert delegate.queries == 1

    table.horizontalHeader().setSortIndicator(WAVEFORM_COLUMN, Qt.SortOrder.AscendingOrder)  # a click
    assert table.horizontalHeader().sortIndicatorSection() != WAVEFORM_COLUMN  # nothing to sort by


def test_cancel_in_a_tag_editor_cancels_only_its_own_write(qtbot, make_window, library, music) -> None:
    window = make_window(library)
    area = window.player_area
    with qtbot.waitSignal(area.tag_edits.finished, timeout=20_000) as finished:
        area.tag_edits.edit(library.tracks_by_ids(music), {"genre": "Techno"})  # e.g. a Redo, running
        window.table.selectAll()
        dialog = area.edit_tags()
        dialog.buttons.button(dialog.buttons.StandardButton.Cancel).click()  # closes this dialog only
        assert not dialog.isVisible()
    assert not finished.args[0].cancelled and len(finished.args[0].done) == 2


def test_with_no_row_selected_space_still_pauses_and_the_panel_shows_no_old_values(
    qtbot, make_window, library, music
) -> None:
    """A search can clear the selection while a track plays: Space must still pause it, and the panel
    must not show the last track's BPM and key (leaving the BPM box would have locked that value)."""
    window = make_window(library)
    area = window.player_area
    window.table.setFocus()
    window.table.selectRow(0)
    qtbot.waitUntil(lambda: area.tracks.track is not None and area.tracks.track.id == music[0], timeout=3_000)
    assert area.panel.bpm_edit.value() == 120.0
    qtbot.keyClick(window.table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: area.player.is_playing, timeout=5_000)
    window.table.setCurrentIndex(QModelIndex())  # as a search that leaves no row current
    qtbot.waitUntil(lambda: area.tracks.track is None, timeout=3_000)
    assert area.panel.bpm_edit.text() == "" and area.panel.key_picker.currentIndex() == -1
    assert area.strip.waveform.placeholder == "No track selected"
    qtbot.keyClick(window.table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not area.player.is_playing, timeout=3_000)
    window.table.selectRow(1)  # not analysed: an empty BPM box, and leaving it locks nothing
    qtbot.waitUntil(lambda: area.tracks.track is not None and area.tracks.track.id == music[1], timeout=3_000)
    assert area.panel.bpm_edit.text() == ""
    area.panel.bpm_edit.editingFinished.emit()
    assert library.tracks_by_ids(music[1:2])[0].bpm is None
