"""The window follows commits other processes make to its library (a CLI scan, a second window)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from audiofactory import write_audio
from clirunner import ROOT

from crate_app.gui.track_model import COLUMN_NAMES
from crate_app.services.library_watch import LibraryWatcher
from crate_app.store import writer
from crate_app.store.library import open_library


def test_a_cli_scan_in_another_process_shows_in_the_open_window(
    qtbot, make_window, library, tmp_path: Path
) -> None:
    music = tmp_path / "music"
    for number in range(12):
        write_audio(music / f"{number:02d} Track.flac", {"artist": f"Artist {number:02d}", "title": "T"})
    window = make_window(library)
    assert window.stack.currentWidget() is window.empty_panel
    scan = subprocess.Popen(
        [sys.executable, "-m", "crate_app.cli.main", "--library", str(library.path), "scan", str(music)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    qtbot.waitUntil(lambda: scan.poll() is not None, timeout=120_000)
    assert scan.returncode == 0, scan.stderr.read()
    # Without any action in the window (how soon is the watcher's poll interval, not a test's business).
    qtbot.waitUntil(lambda: window.model.rowCount() == 12 and not window.model.is_loading, timeout=30_000)
    assert window.stack.currentWidget() is window.table
    assert window.count_label.text() == "12 tracks"
    artist = COLUMN_NAMES.index("artist")
    assert window.model.index(0, artist).data() == "Artist 00"


def _on_another_thread(function) -> None:
    """Run ``function`` on a thread of its own (its own connection to the library, as a worker's)."""
    error: list[BaseException] = []

    def run() -> None:
        try:
            function()
        except BaseException as exc:  # handed to the test
            error.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if error:
        raise error[0]


def test_changes_of_this_process_are_not_reported_as_external(qtbot, library, add_tracks) -> None:
    watcher = LibraryWatcher(library)
    with qtbot.assertNotEmitted(watcher.library_changed_externally):
        add_tracks(library, 5)  # on this thread's connection
        # A worker thread's connection commits like another process would: data_version changes.
        _on_another_thread(lambda: (add_tracks(library, 3, seed=4, start=5), library.close()))
        assert library.data_version() != watcher._version
        assert watcher.poll() is False
        assert watcher.poll() is False  # nor later, once this process has gone quiet
        _on_another_thread(lambda: (library.checkpoint(), library.close()))  # bumps no commit number
        assert watcher.poll() is False
    other = open_library(library.path)  # another writer of the same file: another window, another process
    try:
        with qtbot.waitSignal(watcher.library_changed_externally, timeout=1_000):
            writer.upsert_scanned(other, [])  # an empty batch commits nothing...
            add_tracks(other, 3, seed=2, start=8)
            assert watcher.poll() is True
    finally:
        other.close()
    assert watcher.poll() is False  # nothing new since


def test_an_outside_change_is_told_apart_from_this_process_s_commits_in_the_same_interval(
    qtbot, library, add_tracks
) -> None:
    watcher = LibraryWatcher(library)
    other = open_library(library.path)
    try:
        add_tracks(other, 2)
        _on_another_thread(lambda: (add_tracks(library, 2, seed=3, start=2), library.close()))
        with qtbot.waitSignal(watcher.library_changed_externally, timeout=1_000):
            assert watcher.poll() is True
        assert watcher.poll() is False
    finally:
        other.close()


def test_a_change_by_a_program_other_than_crate_is_reported(qtbot, library, add_tracks) -> None:
    add_tracks(library, 2)
    watcher = LibraryWatcher(library)
    outside = sqlite3.connect(library.path)
    try:
        with outside:
            outside.execute("UPDATE tracks SET title = 'Edited elsewhere'")
    finally:
        outside.close()
    with qtbot.waitSignal(watcher.library_changed_externally, timeout=1_000):
        assert watcher.poll() is True


def test_the_window_s_own_crate_edits_are_not_taken_for_outside_changes(
    qtbot, make_window, library, add_tracks
) -> None:
    add_tracks(library, 6)
    window = make_window(library)
    service = window.crates.service
    window.library_watcher.stop()  # polled by hand below
    reloads: list[bool] = []
    window.library_watcher.library_changed_externally.connect(lambda: reloads.append(True))
    service.create(None, "Warm-up", "crate")
    service.wait()
    qtbot.waitUntil(lambda: any(n.name == "Warm-up" for n in service.nodes), timeout=5_000)
    crate = next(n for n in service.nodes if n.name == "Warm-up")
    service.add_tracks(crate, [1, 2, 3])
    service.set_color(crate, "#ff0000")
    service.wait()
    assert window.library_watcher.poll() is False
    assert window.library_watcher.poll() is False
    assert reloads == []


ANALYSE_ELSEWHERE = """
import sys
from pathlib import Path
from crate_app.domain.track import AnalysisResult
from crate_app.store import writer
from crate_app.store.library import open_library

library = open_library(Path(sys.argv[1]))
ids = [int(i) for i in sys.argv[2:]]
found = AnalysisResult(bpm=128.0, bpm_confidence=0.9, key=None, key_confidence=0)
writer.save_analysis(library, [(i, found) for i in ids])
library.close()
"""


def test_analysis_results_another_process_saves_show_in_the_window(
    qtbot, make_window, library, add_tracks
) -> None:
    add_tracks(library, 30)
    window = make_window(library)
    bpm = COLUMN_NAMES.index("bpm")
    ids = [window.model.track_at(row).id for row in range(3)]  # the first rows on screen
    done = subprocess.run(
        [sys.executable, "-c", ANALYSE_ELSEWHERE, str(library.path), *map(str, ids)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    def shown() -> list[str]:
        return [window.model.index(row, bpm).data() for row in range(3)]

    qtbot.waitUntil(lambda: all(text and text.startswith("128") for text in shown()), timeout=30_000)


def test_a_poll_right_after_a_worker_thread_s_commit_does_not_take_it_for_an_outside_one(
    qtbot, library, add_tracks, monkeypatch
) -> None:
    """The watcher polling between a worker's COMMIT and the rest of its write() (the race an undo of a
    big crate edit ran into: a full refresh and a recount of every smart crate followed)."""
    watcher = LibraryWatcher(library)
    committed, polled = threading.Event(), threading.Event()
    atomic = library.db.atomic

    class CommitThenWait:
        def __init__(self, *args):
            self.inner = atomic(*args)

        def __enter__(self):
            return self.inner.__enter__()

        def __exit__(self, *exc):
            result = self.inner.__exit__(*exc)
            if threading.current_thread() is not threading.main_thread():
                committed.set()
                polled.wait(10)
            return result

    monkeypatch.setattr(library.db, "atomic", CommitThenWait)
    worker = threading.Thread(target=lambda: (add_tracks(library, 3), library.close()))
    worker.start()
    try:
        assert committed.wait(10)
        assert library.data_version() != watcher._version  # the commit is visible here...
        with qtbot.assertNotEmitted(watcher.library_changed_externally):
            assert watcher.poll() is False  # ...and known as this process's own
    finally:
        polled.set()
        worker.join()
