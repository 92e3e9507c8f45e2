"""The Duplicates view and Find Moved Files in the window, offscreen, on real files and a real library."""

from __future__ import annotations

import shutil
from pathlib import Path

from audiofactory import write_audio, write_tags
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from crate_app.library.scanner import rescan_library, scan_paths


def _music(root: Path) -> None:
    write_audio(root / "a.mp3", {"artist": "Daft Punk", "title": "Da Funk"})
    shutil.copy(root / "a.mp3", root / "a retagged.mp3")
    write_tags(root / "a retagged.mp3", {"artist": "Someone", "title": "Else"})
    write_audio(root / "b.flac", {"artist": "Other", "title": "Other"})


def test_duplicates_view_finds_removes_and_undoes(qtbot, make_window, library, tmp_path: Path) -> None:
    root = tmp_path / "music"
    _music(root)
    scan_paths(library, [root], workers=0)
    window = make_window(library)
    dialog = window.hygiene.show_duplicates()
    assert window.stack.currentWidget() is dialog
    dialog.level.setCurrentIndex(dialog.level.findData("audio"))
    with qtbot.waitSignal(window.hygiene.service.duplicates_found, timeout=20_000):
        dialog.find_button.click()
    assert dialog.tree.topLevelItemCount() == 1
    head = dialog.tree.topLevelItem(0)
    assert head.childCount() == 2
    # Keep the re-tagged copy instead of the suggestion: one kept copy per set.
    other = next(head.child(i) for i in range(2) if head.child(i).checkState(0) != Qt.CheckState.Checked)
    other.setCheckState(0, Qt.CheckState.Checked)
    kept = [head.child(i) for i in range(2) if head.child(i).checkState(0) == Qt.CheckState.Checked]
    assert kept == [other]
    qtbot.waitUntil(lambda: dialog.remove_button.isEnabled(), timeout=5_000)
    with qtbot.waitSignal(window.hygiene.service.resolved, timeout=10_000):
        dialog.remove_button.click()
    assert library.count() == 2 and dialog.tree.topLevelItemCount() == 0
    qtbot.waitUntil(lambda: dialog.undo_button.isEnabled(), timeout=5_000)
    with qtbot.waitSignal(window.hygiene.service.undone, timeout=10_000):
        dialog.undo_button.click()
    assert library.count() == 3
    assert (root / "a.mp3").exists() and (root / "a retagged.mp3").exists()  # files never touched by "remove"


def test_find_moved_files_lets_the_user_choose_between_candidates(
    qtbot, make_window, library, tmp_path: Path
) -> None:
    root = tmp_path / "music"
    _music(root)
    scan_paths(library, [root], workers=0)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(root / "b.flac", elsewhere / "b moved.flac")
    shutil.copy(root / "a.mp3", elsewhere / "one.mp3")  # two candidates with a.mp3's size and tags
    shutil.move(root / "a.mp3", elsewhere / "two.mp3")
    rescan_library(library, workers=0)
    a_id = library.execute("SELECT id FROM tracks WHERE filename = 'a.mp3'").fetchone()[0]
    window = make_window(library)
    with qtbot.waitSignal(window.hygiene.service.relink_planned, timeout=20_000):
        dialog = window.hygiene.find_moved_files(str(elsewhere))
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 2  # b found; a ambiguous between one.mp3 and two.mp3
    choice = dialog.table.cellWidget(1, 1)
    assert isinstance(choice, QComboBox) and choice.count() == 3
    choice.setCurrentIndex(choice.findData(str(elsewhere / "two.mp3")))
    with qtbot.waitSignal(window.hygiene.service.relinked, timeout=10_000) as blocker:
        dialog.relink_button.click()
    assert blocker.args == [2]
    assert library.tracks_by_ids([a_id])[0].path == str(elsewhere / "two.mp3")
    assert library.stats()["missing"] == 0


def test_the_sidebars_duplicates_row_shows_the_view_in_place_of_the_table(
    qtbot, make_window, library, tmp_path: Path
) -> None:
    from crate_app import crates as crate_tree
    from crate_app.gui.sidebar import DUPLICATES, TargetRole

    _music(tmp_path / "music")
    scan_paths(library, [tmp_path / "music"], workers=0)
    crate = crate_tree.create_node(library, None, "Set", "crate")
    crate_tree.add_tracks(library, crate.id, [1])
    window = make_window(library)
    sidebar = window.crates.sidebar
    qtbot.waitUntil(lambda: sidebar.select_node(crate.id), timeout=5_000)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5_000)
    with qtbot.waitSignal(sidebar.duplicates_requested, timeout=5_000):
        sidebar.view.setCurrentIndex(sidebar.model.special_index(DUPLICATES))
    view = window.hygiene.view
    assert view is not None and window.stack.currentWidget() is view
    assert sidebar.view.currentIndex().data(TargetRole).kind == DUPLICATES  # the row stays selected
    assert sidebar.current_target.node.id == crate.id and window.model.crate_id == crate.id
    assert not window.search.isEnabled()
    # A change to the crate tree (a reload of the sidebar) keeps the view and its row.
    with qtbot.waitSignal(window.crates.service.nodes_loaded, timeout=5_000):
        window.crates.service.reload()
    assert window.stack.currentWidget() is view
    assert sidebar.view.currentIndex().data(TargetRole).kind == DUPLICATES
    # Any other row brings the table back, showing that row.
    with qtbot.waitSignal(sidebar.table_requested, timeout=5_000):
        sidebar.select_collection()
    assert window.stack.currentWidget() is window.table and window.search.isEnabled()
    qtbot.waitUntil(lambda: window.model.crate_id is None and window.model.rowCount() == 3, timeout=5_000)


def test_a_window_shut_down_before_its_watch_starts_never_starts_it(qtbot, make_window, library) -> None:
    """The folder watch starts 2 s after the window shows; a window shut down sooner must not start
    it later (its job would outlive the window's thread pool: CI once deadlocked on exactly that)."""
    window = make_window(library)
    assert window.hygiene.preferences.watch_folders
    assert window._watch_start_timer.isActive()
    window.shutdown()
    assert not window._watch_start_timer.isActive()
    window.hygiene.start()  # as a timer queued before the shutdown would
    assert not window.hygiene.watch.is_watching and not window.hygiene.watch.runner.is_busy
    # Whatever else fires late finds every runner of the window and its services closed.
    from crate_app.services.jobs import JobRunner

    runners = window.findChildren(JobRunner)
    assert len(runners) >= 8 and all(runner.is_closed for runner in runners)
    assert window.hygiene.hashing.start() is None


def test_the_view_shows_the_first_sets_of_many_and_says_how_many_there_are(
    qtbot, make_window, library, tmp_path: Path, monkeypatch
) -> None:
    from crate_app.gui import duplicates as duplicates_view
    from crate_app.hygiene.duplicates import DuplicateSet

    _music(tmp_path / "music")
    scan_paths(library, [tmp_path / "music"], workers=0)
    ids = dict(library.execute("SELECT filename, id FROM tracks").fetchall())
    a, copy, b = ids["a.mp3"], ids["a retagged.mp3"], ids["b.flac"]
    monkeypatch.setattr(duplicates_view, "MAX_SHOWN_SETS", 1)
    view = make_window(library).hygiene.show_duplicates()
    view.show_sets([DuplicateSet("audio", (a, copy), copy), DuplicateSet("tags", (b, a), b)])
    assert view.tree.topLevelItemCount() == 1
    assert "2 sets of duplicates: the first 1 are shown" in view.status.text()
    head = view.tree.topLevelItem(0)
    assert head.isExpanded() and head.childCount() == 2
    assert view.choices() == [(copy, [a])]  # the suggested copy is checked as the one to keep


def test_undo_reverses_a_removal_made_in_an_earlier_session(
    qtbot, make_window, library, tmp_path: Path
) -> None:
    from crate_app.hygiene import dedupe

    _music(tmp_path / "music")
    scan_paths(library, [tmp_path / "music"], workers=0)
    ids = dict(library.execute("SELECT filename, id FROM tracks").fetchall())
    dedupe.resolve(library, ids["a.mp3"], [ids["a retagged.mp3"]])  # before this window was opened
    view = make_window(library).hygiene.show_duplicates()
    assert view.undo_button.isEnabled() and f"removed {ids['a retagged.mp3']}" in view.undo_button.toolTip()
    with qtbot.waitSignal(view.service.undone, timeout=10_000):
        view.undo_button.click()
    assert library.count() == 3
    qtbot.waitUntil(lambda: not view.service.is_running, timeout=5_000)
    assert not view.undo_button.isEnabled()  # nothing left to undo
    with qtbot.waitSignal(view.service.resolved, timeout=10_000):
        view.service.undo_stack.redo()  # the earlier session's removal, replayed from its journal
    remaining = {row[0] for row in library.execute("SELECT id FROM tracks")}
    assert remaining == {ids["a.mp3"], ids["b.flac"]}


def test_a_duplicate_removal_is_undone_and_redone_with_the_windows_shortcuts(
    qtbot, make_window, library, tmp_path: Path
) -> None:
    from PySide6.QtTest import QTest

    from crate_app import crates

    root, aside = tmp_path / "music", tmp_path / "aside"
    _music(root)
    aside.mkdir()
    scan_paths(library, [root], workers=0)
    ids = dict(library.execute("SELECT filename, id FROM tracks").fetchall())
    keep, copy = ids["a.mp3"], ids["a retagged.mp3"]
    warm_up = crates.create_path(library, "Warm-up", "crate")
    crates.add_tracks(library, warm_up.id, [ids["b.flac"], copy])
    window = make_window(library)
    view = window.hygiene.show_duplicates()
    service = window.hygiene.service

    def state() -> tuple[set[int], list[int], bool, bool]:
        rows = {row[0] for row in library.execute("SELECT id FROM tracks")}
        members = crates.crate_track_ids(library, warm_up.id)
        return rows, members, (root / "a retagged.mp3").exists(), (aside / "a retagged.mp3").exists()

    before = state()
    assert before == ({keep, copy, ids["b.flac"]}, [ids["b.flac"], copy], True, False)
    removed = ({keep, ids["b.flac"]}, [ids["b.flac"], keep], False, True)  # the kept copy takes its place

    with qtbot.waitSignal(service.resolved, timeout=10_000):
        assert service.resolve([(keep, [copy])], "move", str(aside))  # what Move Others to Folder… does
    assert state() == removed
    assert window.crates.undo_action.text() == "&Undo Move 1 duplicate copy"
    window.activateWindow()
    window.table.setFocus()
    with qtbot.waitSignal(service.undone, timeout=10_000):
        QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert state() == before
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    with qtbot.waitSignal(service.resolved, timeout=10_000):
        QTest.keyClick(window, Qt.Key.Key_Z, ctrl_shift)
    assert state() == removed
    # The view's Undo button is the same command on the same stack.
    qtbot.waitUntil(view.undo_button.isEnabled, timeout=5_000)
    assert "Move 1 duplicate copy" in view.undo_button.toolTip()
    with qtbot.waitSignal(service.undone, timeout=10_000):
        view.undo_button.click()
    assert state() == before
    assert window.crates.service.undo_stack.index() == 0 and window.crates.service.undo_stack.count() == 1
    qtbot.waitUntil(lambda: not service.is_running, timeout=5_000)
    assert not view.undo_button.isEnabled()
