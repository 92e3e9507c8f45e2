"""The window follows commits other processes make to its library (a CLI scan, a second window)."""

from __future__ import annotations

import subprocess
import sys
import time
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
    committed = time.monotonic()
    assert scan.returncode == 0, scan.stderr.read()
    qtbot.waitUntil(lambda: window.model.rowCount() == 12 and not window.model.is_loading, timeout=5_000)
    shown_after = time.monotonic() - committed
    assert shown_after < 2.0, f"the rows appeared {shown_after:.2f} s after the other process committed"
    assert window.stack.currentWidget() is window.table
    assert window.count_label.text() == "12 tracks"
    artist = COLUMN_NAMES.index("artist")
    assert window.model.index(0, artist).data() == "Artist 00"


def test_changes_of_this_process_are_not_reported_as_external(qtbot, library, add_tracks) -> None:
    watcher = LibraryWatcher(library)
    with qtbot.assertNotEmitted(watcher.library_changed_externally):
        add_tracks(
            library, 5
        )  # a commit through this Library (another thread's connection would do the same)
        assert watcher.poll() is False
    other = open_library(library.path)  # another writer of the same file: another window, another process
    try:
        with qtbot.waitSignal(watcher.library_changed_externally, timeout=1_000):
            writer.upsert_scanned(other, [])  # an empty batch commits nothing...
            add_tracks(other, 3, seed=2, start=5)
            assert watcher.poll() is True
    finally:
        other.close()
    assert watcher.poll() is False  # nothing new since


def test_an_outside_change_seen_while_this_process_commits_is_reported_when_it_goes_quiet(
    qtbot, library, add_tracks
) -> None:
    watcher = LibraryWatcher(library)
    other = open_library(library.path)
    try:
        add_tracks(other, 2)
        add_tracks(library, 2, seed=3, start=2)  # both in the same poll interval
        assert watcher.poll() is False  # cannot tell them apart yet
        with qtbot.waitSignal(watcher.library_changed_externally, timeout=1_000):
            assert watcher.poll() is True  # this process went quiet: show what the other one did
    finally:
        other.close()


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
    committed = time.monotonic()

    def shown() -> list[str]:
        return [window.model.index(row, bpm).data() for row in range(3)]

    qtbot.waitUntil(lambda: all(text and text.startswith("128") for text in shown()), timeout=5_000)
    assert time.monotonic() - committed < 2.0, shown()
