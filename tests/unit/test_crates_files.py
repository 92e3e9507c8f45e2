"""Crates with real files and real processes: membership through a rename batch and rescans, and a
process killed while it adds 100,000 tracks to a crate."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from audiofactory import write_audio

from crate_app import crates
from crate_app.domain.track import ScannedFile
from crate_app.library.scanner import rescan_library, scan_paths
from crate_app.rename import executor
from crate_app.rename.batch import RenameRequest, plan_for_tracks, select_tracks
from crate_app.store import writer
from crate_app.store.library import open_library
from crate_app.store.rows import scanned_row
from crate_app.store.view import TrackView

ROOT = Path(__file__).resolve().parents[2]


def test_membership_survives_a_rename_batch_and_rescans(tmp_path: Path) -> None:
    music = tmp_path / "music"
    for number in range(6):
        write_audio(music / f"track{number}.mp3", {"artist": f"Artist {number}", "title": f"Title {number}"})
    library = open_library(tmp_path / "library.sqlite")
    scan_paths(library, [music], workers=0)
    ids = [t for (t,) in library.execute("SELECT id FROM tracks ORDER BY path")]
    crate = crates.create_path(library, "Sets/Berlin")
    order = [ids[4], ids[1], ids[5], ids[0]]
    crates.add_tracks(library, crate.id, order)
    # A real batch: every file moves into Artist/Title.mp3.
    plan = plan_for_tracks(library, select_tracks(library), RenameRequest("{artist}/{title}"))
    result = executor.run_batch(library, executor.start_batch(library, plan))
    assert result.moved == 6 and result.failed == 0
    assert (music / "Artist 4" / "Title 4.mp3").exists()
    assert crates.crate_track_ids(library, crate.id) == order
    view = TrackView(library, crate_id=crate.id)
    assert [Path(t.path).relative_to(music).as_posix() for t in view.rows(0, 10)] == [
        "Artist 4/Title 4.mp3", "Artist 1/Title 1.mp3", "Artist 5/Title 5.mp3", "Artist 0/Title 0.mp3",
    ]  # fmt: skip
    # A rescan of the renamed files changes nothing; one deleted outside Crate goes missing and stays.
    (music / "Artist 1" / "Title 1.mp3").unlink()
    summary = rescan_library(library, workers=0)
    assert summary.missing == 1
    rows = TrackView(library, crate_id=crate.id).rows(0, 10)
    assert [t.id for t in rows] == order
    assert [t.status for t in rows] == ["ok", "missing", "ok", "ok"]  # shown as missing, still there
    write_audio(music / "Artist 1" / "Title 1.mp3", {"artist": "Artist 1", "title": "Title 1"})
    rescan_library(library, workers=0)  # it is back: the same track (same path), still in the crate
    assert [t.status for t in TrackView(library, crate_id=crate.id).rows(0, 10)] == ["ok"] * 4
    assert crates.crate_track_ids(library, crate.id) == order
    library.close()


_CHILD = """
import os, signal, sys
from crate_app import crates
from crate_app.domain.track import ScannedFile
from crate_app.store.library import open_library
library = open_library(sys.argv[1])
crate = crates.node_by_path(library, "Big")
ids = [t for (t,) in library.execute("SELECT id FROM tracks WHERE id > 3 ORDER BY id DESC")]
steps = int(sys.argv[2])
if steps:  # SIGKILL from inside SQLite after this many virtual machine steps: mid-transaction
    library.db.connection().set_progress_handler(lambda: os.kill(os.getpid(), signal.SIGKILL), steps)
change = crates.add_tracks(library, crate.id, ids)
print(len(change.added), flush=True)
"""


@pytest.fixture(scope="module")
def big_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100,003 tracks; the crate "Big" holds the first three."""
    path = tmp_path_factory.mktemp("big") / "library.sqlite"
    library = open_library(path)
    rows = [scanned_row(ScannedFile(f"/m/{n:06d}.mp3", 1, 1.0), 1.0) for n in range(100_003)]
    with library.write() as conn:  # as writer.upsert_rows, without the search index (not needed here)
        conn.execute("INSERT INTO fts_deferred (flag) VALUES (1)")
        conn.executemany(writer.UPSERT_SQL, rows)
        conn.execute("DELETE FROM fts_deferred")
    big = crates.create_path(library, "Big")
    crates.add_tracks(library, big.id, [1, 2, 3])
    library.checkpoint()
    library.close()
    return path


@pytest.mark.slow
def test_a_process_killed_while_adding_100k_tracks_leaves_the_crate_before_or_after(
    big_library: Path, tmp_path: Path
) -> None:
    outcomes = []
    for steps in (0, 3_000_000, 20_000_000):
        path = tmp_path / f"trial-{steps}.sqlite"
        shutil.copy(big_library, path)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), str(steps)], capture_output=True, text=True, env=env,
            timeout=300,
        )  # fmt: skip
        library = open_library(path)
        big = crates.node_by_path(library, "Big")
        entries = crates.crate_track_ids(library, big.id)
        sql = "SELECT position FROM crate_entries WHERE crate_id = ? ORDER BY position"
        positions = [p for (p,) in library.execute(sql, (big.id,))]
        library.close()
        assert positions == list(range(len(entries)))  # dense, never half-renumbered
        assert big.track_count == len(entries)
        if child.returncode == -9:
            assert entries == [1, 2, 3], steps  # as before
            outcomes.append("before")
        else:
            assert child.returncode == 0, child.stderr
            assert child.stdout.strip() == "100000"
            assert entries == [1, 2, 3, *range(100_003, 3, -1)]  # as after, in the order given
            outcomes.append("after")
    assert outcomes[0] == "after" and "before" in outcomes[1:], outcomes
