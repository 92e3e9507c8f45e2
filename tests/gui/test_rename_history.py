"""After an interrupted rename batch the window offers to resume or undo it; Rename History undoes batches.

The interruption is made the way a kill leaves it: the journal written, some files moved on disk without
their steps being committed, and the batch still marked running.
"""

from __future__ import annotations

import os
from pathlib import Path

import test_rename_dialog
from test_rename_dialog import layout, make_music

from crate_app.gui.main_window import MainWindow
from crate_app.gui.rename_history import UnfinishedBatchQuestion, status_text
from crate_app.rename import executor
from crate_app.rename.batch import RenameRequest, plan_for_tracks, select_tracks
from crate_app.store import journal
from crate_app.store.library import open_library


def interrupted_batch(library, template: str = "{artist}/{album}/{track:02} {title}") -> int:
    """A batch journaled, its first file moved by hand (uncommitted, as after a kill), status running."""
    plan = plan_for_tracks(library, select_tracks(library), RenameRequest(template))
    batch = executor.start_batch(library, plan, description=template)
    first = plan.steps[0]
    os.makedirs(os.path.dirname(first.dst), exist_ok=True)
    os.rename(first.src, first.dst)
    journal.set_batch_status(library, batch, "running")
    return batch


def wait_for_question(qtbot, window: MainWindow) -> UnfinishedBatchQuestion:
    qtbot.waitUntil(lambda: window.rename_question is not None and window.rename_question.isVisible())
    return window.rename_question


def test_an_interrupted_batch_is_offered_at_start_and_resume_finishes_it(
    qtbot, make_window, library, tmp_path
) -> None:
    music = tmp_path / "music"
    before = make_music(library, music)
    batch = interrupted_batch(library)
    window = make_window(library)
    question = wait_for_question(qtbot, window)
    assert window.isVisible()  # the question does not block the window
    assert question.text() == "A rename batch was interrupted (8 of 8 files left)."
    assert question.undo_button.isEnabled() is False  # nothing is recorded as done yet
    with qtbot.waitSignal(window.rename_service.batch_ended, timeout=20_000) as ended:
        question.answer("resume")
    assert ended.args[0].status == "done"
    assert window.rename_progress_dialog is not None
    assert window.rename_progress_dialog.panel.status == "done"
    info = journal.batch_info(library, batch)
    assert (info.status, info.done, info.failed) == ("done", 8, 0)
    after = layout(music)
    assert len(after) == 8 and sorted(after.values()) == sorted(before.values())
    assert all(name.count(os.sep) == 2 for name in after)  # artist/album/file
    for path in (str(music / name) for name in after):
        assert library.track_by_path(path) is not None  # the library follows every file
    qtbot.waitUntil(lambda: all(os.path.exists(window.model.track_at(r).path) for r in range(8)))


def test_undo_what_was_done_from_the_start_up_question(qtbot, make_window, library, tmp_path) -> None:
    music = tmp_path / "music"
    before = make_music(library, music)
    batch = interrupted_batch(library)
    executor.reconcile_interrupted(library, batch)  # a previous start saw the moved file
    journal.set_batch_status(library, batch, "running")
    window = make_window(library)
    question = wait_for_question(qtbot, window)
    assert "(7 of 8 files left)" in question.text() and question.undo_button.isEnabled()
    with qtbot.waitSignal(window.rename_service.batch_ended, timeout=20_000) as ended:
        question.answer("undo")
    assert (ended.args[0].kind, ended.args[0].status) == ("undo", "done")
    assert layout(music) == before
    assert journal.batch_info(library, batch).status == "undone"
    assert journal.unfinished_batches(library) == []


def test_later_keeps_the_batch_for_the_history(qtbot, make_window, library, tmp_path) -> None:
    make_music(library, tmp_path / "music")
    batch = interrupted_batch(library)
    window = make_window(library)
    question = wait_for_question(qtbot, window)
    question.answer("later")
    qtbot.waitUntil(lambda: window.rename_question is None)
    history = window.show_rename_history()
    assert history.select_batch(batch)
    info = history.selected_batch()
    assert status_text(info) == "interrupted"
    assert history.table.item(0, 3).text() == "interrupted"
    assert history.resume_button.isEnabled()


def test_undo_from_the_history_restores_the_layout(qtbot, make_window, library, tmp_path) -> None:
    music = tmp_path / "music"
    before = make_music(library, music)
    (music / "incoming 00-03.lrc").write_text("[00:01.00] lyrics")
    before = layout(music)
    request = RenameRequest(
        "{albumartist|artist}/{album}/{track:02} {title}", carry_sidecars=True, remove_empty_folders=True
    )
    plan = plan_for_tracks(library, select_tracks(library), request)
    done = executor.run_batch(
        library, executor.start_batch(library, plan, description="tidy up", remove_empty_folders=True)
    )
    assert (done.moved, done.sidecars) == (8, 1)
    assert layout(music) != before
    window = make_window(library)
    qtbot.wait(300)
    assert window.rename_question is None  # nothing unfinished: no question
    history = window.show_rename_history()
    assert [info.description for info in history.batches] == ["tidy up"]
    assert history.table.item(0, 3).text() == "done" and history.undo_button.isEnabled()
    assert not history.resume_button.isEnabled()
    with qtbot.waitSignal(window.rename_service.batch_ended, timeout=20_000) as ended:
        history.undo_button.click()
    assert ended.args[0].status == "done" and history.panel.status == "done"
    assert layout(music) == before
    assert [p for p in Path(music).rglob("*") if p.is_dir()] == []  # the folders it made are gone
    qtbot.waitUntil(lambda: len(history.batches) == 2)
    assert [info.status for info in history.batches] == ["done", "undone"]
    assert history.table.item(1, 3).text() == "undone" and not history.undo_button.isEnabled()
    qtbot.waitUntil(lambda: all(os.path.exists(window.model.track_at(r).path) for r in range(8)))


def test_opening_a_library_with_an_unfinished_batch_asks_about_it(
    qtbot, make_window, library, tmp_path
) -> None:
    other = open_library(tmp_path / "other.sqlite")
    make_music(other, tmp_path / "other music")
    batch = interrupted_batch(other)
    other.close()
    window = make_window(library)
    qtbot.wait(200)
    assert window.rename_question is None  # this library has nothing unfinished
    assert window.open_library_file(str(tmp_path / "other.sqlite"), create=False)
    question = wait_for_question(qtbot, window)
    assert question.info.id == batch and "interrupted" in question.text()
    question.answer("later")


def test_closing_the_window_mid_batch_pauses_it_for_the_next_start(
    qtbot, make_window, library, tmp_path, monkeypatch
) -> None:
    music = tmp_path / "music"
    before = make_music(library, music, copies=3)
    test_rename_dialog.slow_moves(monkeypatch)
    window = make_window(library)
    dialog = window.show_rename_dialog()
    dialog.set_template("{artist}/{title}")
    test_rename_dialog.wait_for_preview(qtbot, dialog, "{artist}/{title}")
    dialog.execute()
    qtbot.waitUntil(lambda: dialog.progress_panel.progress_bar.value() >= 2, timeout=10_000)
    window.close()  # saves settings and shuts the services down: the batch stops at a safe point
    batch = journal.list_batches(library)[0]
    assert batch.status == "paused" and 0 < batch.done < 24
    assert len(layout(music)) == 24  # no file lost or left at a temporary name

    again = make_window(library)
    question = wait_for_question(qtbot, again)
    assert question.text() == f"A rename batch was paused ({batch.pending:,} of 24 files left)."
    with qtbot.waitSignal(again.rename_service.batch_ended, timeout=20_000):
        question.answer("resume")
    after = layout(music)
    assert all(os.sep in name for name in after) and sorted(after.values()) == sorted(before.values())
