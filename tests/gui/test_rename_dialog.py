"""Rename / Move Files from the window, on real audio files in a real library: live preview, template
errors, running a batch (pause, resume, cancel), the table following the files, and the preview model's
laziness at 100,000 rows."""

from __future__ import annotations

import os
import time
from pathlib import Path

from audiofactory import write_audio
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QTableView

from crate_app.domain.keys import KeyNotation
from crate_app.domain.rename import PlanFailure, PlannedMove, RenamePlan, StepKind
from crate_app.domain.track import TrackStatus
from crate_app.gui.main_window import MainWindow
from crate_app.gui.rename_dialog import PreviewFilter, PreviewModel, RenameDialog
from crate_app.library import scanner
from crate_app.rename import fsops
from crate_app.rename.batch import RenameRequest
from crate_app.services.rename_service import PlanPreview
from crate_app.store import journal, writer

# (artist, title, album, track number, format): two titles repeat per artist, so a template without
# the track number collides and the planner adds " (2)".
SONGS = [
    ("Daft Punk", "Da Funk", "Homework", 1, "mp3"),
    ("Daft Punk", "Around the World", "Homework", 2, "flac"),
    ("Daft Punk", "Da Funk", "Homework", 3, "mp3"),
    ("Björk", "Hyperballad", "Post", 1, "flac"),
    ("Björk", "Army of Me", "Post", 2, "m4a"),
    ("Moodymann", "Shades of Jae", "Silent Introduction", 1, "mp3"),
    ("Moodymann", "Shades of Jae", "Silent Introduction", 2, "mp3"),
    ("Moodymann", "Misled", "Silent Introduction", 3, "mp3"),
]


def make_music(library, root: Path, copies: int = 1) -> dict[str, bytes]:
    """Real tagged audio files under ``root`` (one flat folder), scanned into ``library``."""
    for copy in range(copies):
        for number, (artist, title, album, track, fmt) in enumerate(SONGS):
            tags = {"artist": artist, "title": title, "album": album, "track": track, "bpm": 120 + number}
            tags["key"] = "8A"  # A minor
            write_audio(root / f"incoming {copy:02d}-{number:02d}.{fmt}", tags, seconds=0.5)
    summary = scanner.scan_paths(library, [root], workers=0)
    assert summary.added == len(SONGS) * copies
    return layout(root)


def layout(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def wait_for_preview(qtbot, dialog: RenameDialog, template: str | None = None) -> PlanPreview:
    qtbot.waitUntil(lambda: dialog.is_up_to_date, timeout=10_000)
    assert dialog.preview is not None
    if template is not None:
        assert dialog.preview.request.template == template
    return dialog.preview


def table_paths(window: MainWindow) -> list[str]:
    model = window.model
    return [model.track_at(row).path for row in range(model.rowCount())]


def slow_moves(monkeypatch, seconds: float = 0.03) -> None:
    """Make each file move take a while, so that a batch of a few files can be paused part-way."""
    original = fsops.rename_no_replace

    def slow(src: str, dst: str) -> None:
        time.sleep(seconds)
        original(src, dst)

    monkeypatch.setattr(fsops, "rename_no_replace", slow)


def test_typing_a_template_updates_counts_and_the_preview(qtbot, make_window, library, tmp_path) -> None:
    music = tmp_path / "music"
    make_music(library, music)
    window = make_window(library)
    assert window.rename_action.shortcut().toString() == "Ctrl+Shift+R"
    window.rename_action.trigger()  # Edit > Rename / Move Files…
    dialog = window.findChild(RenameDialog)
    assert dialog is not None and dialog.isVisible()
    assert "all 8 shown tracks (nothing is selected)" in dialog.scope_label.text()
    dialog.template_edit.clear()
    plans: list[PlanPreview] = []
    dialog.service.plan_ready.connect(plans.append)
    QTest.keyClicks(dialog.template_edit, "{artist}/{title}")  # one edit per character
    assert not dialog.rename_button.isEnabled()  # while the plan is computed
    preview = wait_for_preview(qtbot, dialog, "{artist}/{title}")
    assert len(plans) <= 2  # debounced: not one plan per keystroke
    assert preview.plan.changed_count == 8
    assert preview.collision_tracks == 2  # the second "Da Funk" and "Shades of Jae"
    counts = dialog.counts_label.text()
    assert "<b>8</b> to rename" in counts and "2 renamed to avoid a collision" in counts
    model = dialog.preview_model
    assert model.rowCount() == 8
    rows = {model.row_texts(r)[0]: model.row_texts(r)[1:3] for r in range(model.rowCount())}
    da_funk = sorted(rows[name] for name in ("incoming 00-00.mp3", "incoming 00-02.mp3"))
    assert da_funk[0] == (os.path.join("Daft Punk", "Da Funk (2).mp3"), da_funk[0][1])
    assert da_funk[0][1] == "renamed to avoid a collision"
    assert da_funk[1] == (os.path.join("Daft Punk", "Da Funk.mp3"), "")
    listed = [model.row_texts(row)[1] for row in range(model.rowCount())]
    assert listed.index(da_funk[0][0]) == listed.index(da_funk[1][0]) + 1  # " (2)" right after
    assert dialog.rename_button.isEnabled() and dialog.rename_button.text() == "Rename 8 Files"

    # Editing again replaces the preview; the filter shows only the collisions.
    dialog.set_template("{albumartist|artist}/{album}/{track:02} {title}")
    preview = wait_for_preview(qtbot, dialog)
    assert preview.collision_tracks == 0
    dialog.filter_combo.setCurrentIndex(dialog.filter_combo.findData(PreviewFilter.COLLISIONS))
    assert model.rowCount() == 0
    dialog.filter_combo.setCurrentIndex(dialog.filter_combo.findData(PreviewFilter.ALL))
    new_paths = [model.row_texts(row)[1] for row in range(model.rowCount())]
    assert new_paths == sorted(new_paths, key=str.casefold)  # listed by new path (no collision here)
    assert new_paths[0] == os.path.join("Björk", "Post", "01 Hyperballad.flac")
    assert sorted(layout(music)) == sorted(f"incoming 00-{n:02d}.{s[4]}" for n, s in enumerate(SONGS))
    assert "no {" not in dialog.counts_label.text()  # every field had a value (or a fallback)

    # A field the files have no value for is named in the counts, with the way out.
    dialog.set_template("{genre}/{title}")
    wait_for_preview(qtbot, dialog, "{genre}/{title}")
    assert "8 tracks have no {genre} (a fallback helps: {genre|Unknown})" in dialog.counts_label.text()


def test_a_bad_template_shows_where_and_disables_rename(qtbot, make_window, library, tmp_path) -> None:
    make_music(library, tmp_path / "music")
    gone = library.track_by_path(str(tmp_path / "music" / "incoming 00-04.m4a"))
    writer.set_status(library, [gone.id], TrackStatus.MISSING)
    window = make_window(library)
    dialog = window.show_rename_dialog()
    preview = wait_for_preview(qtbot, dialog)
    assert preview.track_count == 7 and "1 missing files left out" in dialog.counts_label.text()
    dialog.set_template("{artist} - {titel}")
    assert dialog.template_error is not None
    assert dialog.template_error.position == 12  # the "t" of "titel"
    shown = dialog.error_label.text()
    assert dialog.error_label.isVisible()
    assert "unknown field &#x27;titel&#x27;" in shown and "(at position 13)" in shown
    assert '<span style="background:#c62828; color:white;">t</span>itel' in shown  # the mark
    assert not dialog.rename_button.isEnabled()
    assert "fix the template" in dialog.counts_label.text()
    QTest.keyClick(dialog.template_edit, Qt.Key.Key_Return)  # Return puts the caret on the error
    assert dialog.template_edit.cursorPosition() == 12
    dialog.set_template("{artist} - {title}")
    wait_for_preview(qtbot, dialog, "{artist} - {title}")
    assert not dialog.error_label.isVisible() and dialog.rename_button.isEnabled()


def test_renaming_the_selection_moves_files_and_the_table_follows(
    qtbot, make_window, library, tmp_path
) -> None:
    music = tmp_path / "music"
    before = make_music(library, music)
    (music / "incoming 00-05.cue").write_text('FILE "incoming 00-05.mp3" MP3')
    window = make_window(library)
    selection = window.table.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    moodymann_rows = [
        r for r in range(window.model.rowCount()) if window.model.track_at(r).artist == "Moodymann"
    ]
    for row in moodymann_rows:
        selection.select(window.model.index(row, 0), flags)
    dialog = window.show_rename_dialog()
    assert "3 selected tracks" in dialog.scope_label.text()
    dialog.sidecars_check.setChecked(True)
    dialog.remove_empty_check.setChecked(True)
    dialog.set_template("{artist}/{album}/{track:02} {title}")
    preview = wait_for_preview(qtbot, dialog)
    assert preview.plan.changed_count == 3
    with qtbot.waitSignal(window.rename_service.batch_ended, timeout=20_000) as ended:
        QTest.mouseClick(dialog.rename_button, Qt.MouseButton.LeftButton)
    outcome = ended.args[0]
    assert (outcome.status, outcome.result.moved, outcome.result.sidecars) == ("done", 3, 1)
    assert dialog.progress_panel.status == "done"
    assert "3 files renamed, 1 sidecar files carried along" in dialog.progress_panel.summary_label.text()
    album = music / "Moodymann" / "Silent Introduction"
    assert sorted(p.name for p in album.iterdir()) == [
        "01 Shades of Jae.cue",
        "01 Shades of Jae.mp3",
        "02 Shades of Jae.mp3",
        "03 Misled.mp3",
    ]
    assert (album / "01 Shades of Jae.mp3").read_bytes() == before["incoming 00-05.mp3"]
    # The table shows the new paths, and only the selected tracks moved.
    qtbot.waitUntil(lambda: str(album / "03 Misled.mp3") in table_paths(window), timeout=10_000)
    paths = table_paths(window)
    assert all(os.path.exists(p) for p in paths)
    assert sum(p.startswith(str(album)) for p in paths) == 3
    assert sum(os.path.dirname(p) == str(music) for p in paths) == 5
    dialog.reject()
    assert not dialog.isVisible()

    # The same again: nothing left to change.
    selection.clearSelection()
    for row in range(window.model.rowCount()):
        if window.model.track_at(row).artist == "Moodymann":
            selection.select(window.model.index(row, 0), flags)
    again = window.show_rename_dialog()
    again.set_template("{artist}/{album}/{track:02} {title}")
    preview = wait_for_preview(qtbot, again)
    assert (preview.changed_tracks, preview.plan.unchanged_count) == (0, 3)
    assert not again.rename_button.isEnabled()
    assert again.preview_model.row_texts(0)[2] == "unchanged (already named so)"


def test_a_destination_folder_and_the_key_notation(qtbot, make_window, library, tmp_path) -> None:
    music, crate = tmp_path / "music", tmp_path / "gig crate"
    make_music(library, music)
    window = make_window(library)
    dialog = window.show_rename_dialog()
    dialog.set_template("{key} - {artist} - {title}")
    dialog.notation_combo.setCurrentIndex(dialog.notation_combo.findData(KeyNotation.MUSICAL.value))
    dialog.set_destination(str(crate))
    assert dialog.destination_combo.currentText() == f"Into {crate}"
    preview = wait_for_preview(qtbot, dialog)
    assert preview.request.destination == str(crate)
    assert preview.request.key_notation is KeyNotation.MUSICAL
    new_paths = {dialog.preview_model.row_texts(row)[1] for row in range(8)}
    assert "Am - Björk - Hyperballad.flac" in new_paths  # relative to the destination
    (music / "incoming 00-07.mp3").unlink()  # deleted by someone else after the preview
    with qtbot.waitSignal(window.rename_service.batch_ended, timeout=20_000) as ended:
        dialog.execute()
    assert (ended.args[0].result.moved, ended.args[0].result.failed) == (7, 1)
    assert (crate / "Am - Björk - Hyperballad.flac").is_file()
    panel = dialog.progress_panel
    assert "7 files renamed, 1 could not be renamed (listed below)" in panel.summary_label.text()
    assert panel.errors_view.isVisible()
    listed = panel.errors_view.toPlainText()
    assert str(music / "incoming 00-07.mp3") in listed and "no longer at its old path" in listed
    assert sorted(p.name for p in music.iterdir()) == []
    dialog.set_destination(None)
    assert dialog.destination is None and dialog.destination_combo.currentIndex() == 0


def test_the_table_context_menu_offers_renaming_and_scans_hold_it_back(
    qtbot, make_window, library, tmp_path
) -> None:
    make_music(library, tmp_path / "music")
    window = make_window(library)
    seen: list[list[str]] = []

    def read_and_close_menu() -> None:
        menu = QApplication.activePopupWidget()
        seen.append([action.text() for action in menu.actions()] if menu else [])
        if menu:
            menu.close()

    QTimer.singleShot(200, read_and_close_menu)
    window.table.customContextMenuRequested.emit(QPoint(20, 20))
    assert len(seen) == 1 and "&Rename / Move Files\u2026" in seen[0]
    write_audio(tmp_path / "more" / "new.mp3", {"artist": "New", "title": "Song"}, seconds=0.5)
    stopped = {"check_params_cb": lambda running: not running, "timeout": 20_000}
    with qtbot.waitSignal(window.scan_service.running_changed, **stopped):
        window.add_paths([str(tmp_path / "more")])
        assert not window.rename_action.isEnabled()  # files must not move under a running scan
    assert window.rename_action.isEnabled()


def test_pause_then_resume_finishes_the_batch(qtbot, make_window, library, tmp_path, monkeypatch) -> None:
    music = tmp_path / "music"
    before = make_music(library, music, copies=3)  # 24 files
    slow_moves(monkeypatch)
    window = make_window(library)
    dialog = window.show_rename_dialog()
    dialog.set_template("{artist}/{title}")
    wait_for_preview(qtbot, dialog, "{artist}/{title}")
    panel = dialog.progress_panel
    dialog.execute()
    assert not window.rescan_action.isEnabled()  # no scan while files move
    qtbot.waitUntil(lambda: panel.progress_bar.value() >= 3, timeout=10_000)
    with qtbot.waitSignal(window.rename_service.batch_ended, timeout=10_000) as ended:
        QTest.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert ended.args[0].status == "paused" and panel.status == "paused"
    assert panel.pause_button.text() == "Resume"
    batch = panel.batch_id
    info = journal.batch_info(library, batch)
    assert info.status == "paused" and 0 < info.done < 24
    moved_so_far = sum(1 for name in layout(music) if os.sep in name)
    assert moved_so_far == info.done  # the journal and the disk agree
    dialog.reject()  # closing is allowed while paused
    assert not dialog.isVisible()

    # Resume from the history (the dialog above is gone).
    history = window.show_rename_history()
    assert history.select_batch(batch) and history.resume_button.isEnabled()
    with qtbot.waitSignal(window.rename_service.batch_ended, timeout=20_000) as ended:
        history.resume_selected()
    assert ended.args[0].status == "done"
    assert journal.batch_info(library, batch).status == "done"
    after = layout(music)
    assert len(after) == 24 and all(os.sep in name for name in after)
    assert sorted(after.values()) == sorted(before.values())  # every file there, none changed
    qtbot.waitUntil(lambda: all(os.path.exists(p) for p in table_paths(window)), timeout=10_000)


def test_cancel_keeps_what_was_done_and_undo_moves_it_back(
    qtbot, make_window, library, tmp_path, monkeypatch
) -> None:
    music = tmp_path / "music"
    before = make_music(library, music, copies=3)
    slow_moves(monkeypatch)
    window = make_window(library)
    dialog = window.show_rename_dialog()
    dialog.set_template("{genre|Unsorted}/{artist} - {title}")
    wait_for_preview(qtbot, dialog)
    panel = dialog.progress_panel
    dialog.execute()
    qtbot.waitUntil(lambda: panel.progress_bar.value() >= 2, timeout=10_000)
    assert not dialog.done_button.isEnabled()
    dialog.reject()  # refused while the batch runs: its controls stay on screen
    assert dialog.isVisible() and "Pause or cancel" in panel.detail_label.text()
    with qtbot.waitSignal(window.rename_service.batch_ended, timeout=10_000) as ended:
        QTest.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert ended.args[0].status == "cancelled"
    info = journal.batch_info(library, panel.batch_id)
    assert info.status == "cancelled" and 0 < info.done < 24 and info.pending > 0
    assert panel.undo_button.isVisible()
    with qtbot.waitSignal(window.rename_service.batch_ended, timeout=20_000) as ended:
        QTest.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert (ended.args[0].kind, ended.args[0].status) == ("undo", "done")
    assert layout(music) == before


def test_preview_model_passes_the_model_tester(qtmodeltester, tmp_path) -> None:
    root = str(tmp_path)
    preview = synthetic_preview(root, moves=700, failures=40, unchanged=300)
    model = PreviewModel()
    model.set_preview(preview, [root])
    assert model.rowCount() == 1040
    qtmodeltester.check(model)
    for which in (PreviewFilter.COLLISIONS, PreviewFilter.PROBLEMS, PreviewFilter.UNCHANGED):
        model.set_filter(which)
        qtmodeltester.check(model)
    model.set_filter(PreviewFilter.COLLISIONS)
    assert model.rowCount() == 70
    assert model.row_texts(0)[2].startswith("renamed to avoid a collision")
    model.set_filter(PreviewFilter.PROBLEMS)
    assert model.data(model.index(0, 2)) == "the template gives an empty name"


def test_a_preview_of_100000_moves_opens_without_formatting_rows(qtbot, tmp_path) -> None:
    """The model formats only the rows painted (its speed is measured by tests/benchmarks, not here)."""
    root = str(tmp_path)
    preview = synthetic_preview(root, moves=100_000, failures=0, unchanged=0)
    model = PreviewModel()
    model.set_preview(preview, [root])
    assert model.rowCount() == 100_000
    assert model.rows_formatted == 0
    view = QTableView()
    view.resize(900, 500)
    qtbot.addWidget(view)
    view.setModel(model)
    view.verticalHeader().setDefaultSectionSize(20)
    view.show()
    qtbot.waitExposed(view)
    view.scrollToBottom()
    QTest.qWait(50)
    assert 0 < model.rows_formatted < 200, model.rows_formatted  # only what was painted
    assert model.row_texts(99_999)[1] == os.path.join("new", "track 099999.mp3")


def synthetic_preview(root: str, *, moves: int, failures: int, unchanged: int) -> PlanPreview:
    """A PlanPreview built directly (no planning): every tenth move renamed on collision."""
    planned = tuple(
        PlannedMove(
            i,
            StepKind.MOVE,
            os.path.join(root, f"old {i:06d}.mp3"),
            os.path.join(root, "new", f"track {i:06d}.mp3"),
            os.path.join(root, "new", f"track {i:06d}.mp3" if i % 10 else f"taken {i:06d}.mp3"),
        )
        for i in range(moves)
    )
    failed = tuple(
        PlanFailure(moves + i, os.path.join(root, f"bad {i}.mp3"), "the template gives an empty name")
        for i in range(failures)
    )
    plan = RenamePlan(steps=(), moves=planned, unchanged=tuple(range(unchanged)), failures=failed)
    conflicts = tuple(i for i, move in enumerate(planned) if move.renamed_on_collision)  # already sorted
    return PlanPreview(
        generation=1,
        request=RenameRequest("{title}"),
        plan=plan,
        track_count=moves + failures + unchanged,
        unchanged_paths=tuple(os.path.join(root, f"same {i}.mp3") for i in range(unchanged)),
        move_order=range(moves),
        conflict_rows=conflicts,
        collision_tracks=len(conflicts),
        changed_tracks=moves,
        sidecar_files=0,
        seconds=0.0,
    )
