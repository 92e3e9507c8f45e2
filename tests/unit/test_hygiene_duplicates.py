"""Duplicates at three levels on real files, "keep the best", and reversible removal (with undo)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from audiofactory import melody, write_audio, write_tags
from clirunner import crate_cli, json_lines

from crate_app import crates as crate_tree
from crate_app.hygiene import dedupe, duplicates, hashing
from crate_app.hygiene.duplicates import normalise
from crate_app.library.scanner import scan_paths
from crate_app.store.library import Library, open_library

RATE = 22050
ENTRIES_SQL = "SELECT crate_id, track_id, position FROM crate_entries ORDER BY 1, 3"


def _melody(seed: int, seconds: float = 10.0):
    return melody(seed, seconds, RATE)


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dupes") / "music"
    write_audio(folder / "a.flac", {"artist": "Daft Punk", "title": "Da Funk"}, samples=melody(1), seconds=20)
    write_audio(
        folder / "a.mp3", {"artist": "DAFT PUNK", "title": "Da Funk (Original Mix)"}, samples=melody(1)
    )
    shutil.copy(folder / "a.mp3", folder / "a copy.mp3")
    write_tags(folder / "a copy.mp3", {"artist": "Someone", "title": "Something Else"})  # re-tagged copy
    write_audio(
        folder / "b.mp3", {"artist": "Daft Punk", "title": "Da Funk"}, samples=_melody(2, 15), rate=RATE
    )
    write_audio(folder / "c.ogg", {"artist": "Other", "title": "Other"}, samples=_melody(3), rate=RATE)
    return folder


def _library(tmp_path: Path, music: Path) -> tuple[Library, dict[str, int], Path]:
    folder = tmp_path / "music"
    shutil.copytree(music, folder)
    library = open_library(tmp_path / "lib.sqlite")
    scan_paths(library, [folder], workers=0)
    ids = {Path(p).name: i for i, p in library.execute("SELECT id, path FROM tracks")}
    return library, ids, folder


def test_normalise() -> None:
    assert normalise("Da Funk (Original Mix)") == normalise("da  funk") == "da funk"
    assert normalise("Björk feat. Someone") == normalise("BJORK") == "bjork"
    assert normalise("Song (feat. X)") == "song"
    assert normalise(None) == ""


def test_three_levels_and_keep_the_best(tmp_path: Path, music: Path) -> None:
    library, ids, _folder = _library(tmp_path, music)
    assert duplicates.find_duplicates(library, "tags") == [
        duplicates.DuplicateSet("tags", tuple(sorted((ids["a.flac"], ids["a.mp3"]))), ids["a.flac"])
    ]  # b.mp3 has the same tags, but lasts 5 s longer
    todo = hashing.tracks_to_hash(library, fingerprints=True)
    assert len(todo) == 5
    summary = hashing.compute_hashes(library, todo, fingerprints=True)
    assert (summary.hashed, summary.fingerprinted, summary.failed) == (5, 5, 0)
    assert hashing.tracks_to_hash(library, fingerprints=True) == []
    (audio,) = duplicates.find_duplicates(library, "audio")
    assert set(audio.track_ids) == {ids["a.mp3"], ids["a copy.mp3"]}
    (recording,) = duplicates.find_duplicates(library, "fingerprint")
    assert set(recording.track_ids) == {ids["a.flac"], ids["a.mp3"], ids["a copy.mp3"]}
    assert recording.keep == ids["a.flac"]  # lossless first
    # An analysed copy wins among equals.
    library.execute("UPDATE tracks SET analyzed_at = 1, bpm = 111 WHERE id = ?", (ids["a copy.mp3"],))
    assert duplicates.find_duplicates(library, "audio")[0].keep == ids["a copy.mp3"]
    library.close()


def test_remove_hands_crates_and_analysis_to_the_kept_track_and_undo_restores(
    tmp_path: Path, music: Path
) -> None:
    library, ids, _folder = _library(tmp_path, music)
    keep, first, second = ids["a.flac"], ids["a.mp3"], ids["a copy.mp3"]
    x = crate_tree.create_node(library, None, "x", "crate")
    y = crate_tree.create_node(library, None, "y", "crate")
    z = crate_tree.create_node(library, None, "z", "crate")
    assert (x.id, y.id, z.id) == (1, 2, 3)
    crate_tree.add_tracks(library, x.id, [first, keep, ids["c.ogg"]])
    crate_tree.add_tracks(library, y.id, [second])
    # In z the first copy's entry is handed to the kept track, and then the second's is dropped in the
    # middle (the kept track is a member by then): undo must take them back newest first.
    crate_tree.add_tracks(library, z.id, [ids["c.ogg"], first, second, ids["b.mp3"]])
    with library.write() as conn:
        conn.execute("UPDATE tracks SET analyzed_at = 5, bpm = 111, key = 3 WHERE id = ?", (first,))
        conn.execute("UPDATE tracks SET rating = 4, color = 'red' WHERE id = ?", (second,))
        cue = "INSERT INTO cues (track_id, kind, number, start, name) VALUES (?, 'hot', 1, 12.5, 'drop')"
        conn.execute(cue, (second,))
        conn.execute("INSERT INTO waveforms (track_id, data) VALUES (?, x'00ff10')", (second,))
    children = ["SELECT track_id, kind, number, start, name FROM cues ORDER BY id",
                "SELECT track_id, data FROM waveforms ORDER BY track_id"]  # fmt: skip
    before = library.execute("SELECT * FROM tracks ORDER BY id").fetchall()
    before_children = [library.execute(sql).fetchall() for sql in children]
    outcome = dedupe.resolve(library, keep, [first, second])
    assert sorted(outcome.removed) == sorted([first, second])
    assert library.count() == 3
    crates = library.execute(
        "SELECT crate_id, track_id, position FROM crate_entries ORDER BY 1, 3"
    ).fetchall()
    assert crates == [(1, keep, 0), (1, ids["c.ogg"], 1), (2, keep, 0),
                      (3, ids["c.ogg"], 0), (3, keep, 1), (3, ids["b.mp3"], 2)]  # fmt: skip
    counts = library.execute("SELECT track_count FROM crate_nodes ORDER BY id").fetchall()
    assert counts == [(2,), (1,), (3,)]
    assert library.execute("SELECT bpm, key FROM tracks WHERE id = ?", (keep,)).fetchone() == (111, 3)
    # The user's rating, colour and cue points of a removed copy go to the kept one.
    assert library.execute("SELECT rating, color FROM tracks WHERE id = ?", (keep,)).fetchone() == (4, "red")
    assert library.execute(children[0]).fetchall() == [(keep, "hot", 1, 12.5, "drop")]
    dedupe.undo(library, outcome.action_id)
    assert library.execute("SELECT * FROM tracks ORDER BY id").fetchall() == before
    assert [library.execute(sql).fetchall() for sql in children] == before_children
    crates = library.execute(ENTRIES_SQL).fetchall()
    assert crates == [(1, first, 0), (1, keep, 1), (1, ids["c.ogg"], 2), (2, second, 0),
                      (3, ids["c.ogg"], 0), (3, first, 1), (3, second, 2), (3, ids["b.mp3"], 3)]  # fmt: skip
    counts = library.execute("SELECT track_count FROM crate_nodes ORDER BY id").fetchall()
    assert counts == [(3,), (1,), (4,)]
    with pytest.raises(dedupe.DedupeError, match="undone already"):
        dedupe.undo(library, outcome.action_id)
    library.close()


def test_trash_and_move_never_delete_and_undo_brings_files_back(
    tmp_path: Path, music: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    library, ids, folder = _library(tmp_path, music)
    content = {name: (folder / name).read_bytes() for name in ids}
    trashed = dedupe.resolve(library, ids["a.flac"], [ids["a.mp3"]], action="trash")
    assert trashed.problems == [] and not (folder / "a.mp3").exists()
    assert list((tmp_path / "xdg" / "Trash" / "files").iterdir())  # in the OS trash, not deleted
    moved = dedupe.resolve(
        library, ids["a.flac"], [ids["a copy.mp3"]], action="move", folder=str(tmp_path / "dupes")
    )
    assert (tmp_path / "dupes" / "a copy.mp3").read_bytes() == content["a copy.mp3"]
    assert [a.kind for a in dedupe.history(library)] == ["move", "trash"]
    dedupe.undo(library, moved.action_id)
    dedupe.undo(library, trashed.action_id)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == content
    assert library.execute("SELECT COUNT(*) FROM tracks WHERE status = 'ok'").fetchone()[0] == 5
    library.close()


def test_a_failure_midway_leaves_the_library_as_before(tmp_path: Path, music: Path) -> None:
    library, ids, _folder = _library(tmp_path, music)
    crate = crate_tree.create_node(library, None, "x", "crate")
    crate_tree.add_tracks(library, crate.id, [ids["c.ogg"], ids["a.mp3"], ids["a.flac"], ids["b.mp3"]])
    before = library.execute("SELECT * FROM tracks ORDER BY id").fetchall()
    entries_before = library.execute(ENTRIES_SQL).fetchall()
    # a.mp3's entry is dropped (a.flac is in the crate) before the unknown id fails the transaction.
    with pytest.raises(dedupe.DedupeError, match="not in the library"):
        dedupe.resolve(library, ids["a.flac"], [ids["a.mp3"], 999_999])
    assert library.execute("SELECT * FROM tracks ORDER BY id").fetchall() == before
    assert library.execute(ENTRIES_SQL).fetchall() == entries_before
    assert library.execute("SELECT track_count FROM crate_nodes").fetchall() == [(4,)]
    assert dedupe.history(library) == []
    library.close()


def test_cli_dupes_json(tmp_path: Path, music: Path) -> None:
    library, ids, _folder = _library(tmp_path, music)
    library.close()
    result = crate_cli("dupes", "--by", "audio", "--json", library=tmp_path / "lib.sqlite")
    assert result.returncode == 0, result.stderr
    (found,) = json_lines(result.stdout)
    assert found["by"] == "audio" and {t["id"] for t in found["tracks"]} == {ids["a.mp3"], ids["a copy.mp3"]}
    assert all(Path(t["path"]).is_file() for t in found["tracks"]) and found["keep"] in {
        ids["a.mp3"],
        ids["a copy.mp3"],
    }
    tags = crate_cli("dupes", "--json", library=tmp_path / "lib.sqlite")
    assert [s["keep"] for s in json_lines(tags.stdout)] == [ids["a.flac"]]


def test_tag_keys_follow_changes_of_artist_and_title(tmp_path: Path, music: Path) -> None:
    library, ids, _folder = _library(tmp_path, music)
    assert len(duplicates.tag_groups(library)) == 1
    assert duplicates.refresh_tag_keys(library) == 0  # all made by the first search
    with library.write() as conn:  # the copy is re-tagged as the original: now a duplicate by tags too
        conn.execute(
            "UPDATE tracks SET artist = 'Daft Punk', title = 'Da Funk' WHERE id = ?", (ids["a copy.mp3"],)
        )
        conn.execute("UPDATE tracks SET bpm = 120 WHERE id = ?", (ids["a.flac"],))  # not a tag change
    assert library.execute("SELECT COUNT(*) FROM track_tag_keys").fetchone()[0] == 4
    (group,) = duplicates.tag_groups(library)
    assert set(group) == {ids["a.flac"], ids["a.mp3"], ids["a copy.mp3"]}
    library.close()


def test_untagged_files_with_the_same_file_name_are_no_duplicates_by_tags(tmp_path: Path) -> None:
    for album in ("Album One", "Album Two"):
        write_audio(tmp_path / "music" / album / "01 - Intro.mp3", {}, samples=_melody(7), rate=RATE)
    write_audio(tmp_path / "music" / "Artist - Song.mp3", {}, samples=_melody(8), rate=RATE)
    write_audio(tmp_path / "music" / "x" / "Artist - Song.mp3", {}, samples=_melody(9), rate=RATE)
    library = open_library(tmp_path / "lib.sqlite")
    scan_paths(library, [tmp_path / "music"], workers=0)
    names = sorted(library.execute("SELECT COALESCE(artist, ''), title FROM tracks").fetchall())
    assert names == [("", "Intro"), ("", "Intro"), ("Artist", "Song"), ("Artist", "Song")]
    (group,) = duplicates.tag_groups(library)  # only the pair whose file names give an artist
    assert {library.tracks_by_ids([i])[0].artist for i in group} == {"Artist"}
    library.close()


def test_hash_library_stops_between_files_keeps_what_it_did_and_goes_on_next_time(
    tmp_path: Path, music: Path
) -> None:
    library, ids, folder = _library(tmp_path, music)
    seen: list = []  # the first file's progress is reported at once: stop before the second file
    first = hashing.hash_library(library, progress=seen.append, should_stop=lambda: bool(seen))
    assert (first.cancelled, first.hashed) == (True, 1)
    assert len(hashing.tracks_to_hash(library)) == len(ids) - 1  # the one hashed was stored
    rest = hashing.hash_library(library)
    assert (rest.cancelled, rest.hashed, rest.failed) == (False, len(ids) - 1, 0)
    assert hashing.tracks_to_hash(library) == []
    os.utime(folder / "b.mp3", (1, 1))  # a changed file is hashed again after the rescan sees it
    scan_paths(library, [folder], workers=0)
    assert hashing.tracks_to_hash(library) == [ids["b.mp3"]]
    library.close()


def _version_of(migration: str) -> int:
    from crate_app.store import schema

    return next(version for version, function in schema.MIGRATIONS if function.__name__ == migration)


def _stale_by_full_scan(library: Library) -> list[int]:
    """What the hash pass must find, by the scan of every track the queue replaces."""
    return [
        i
        for (i,) in library.execute(
            "SELECT t.id FROM tracks t LEFT JOIN track_hashes h ON h.track_id = t.id WHERE t.status = 'ok' "
            "AND (h.track_id IS NULL OR h.size != t.size OR h.mtime != t.mtime "
            "OR (h.error IS NULL AND h.audio_hash IS NULL)) ORDER BY t.folder, t.id"
        )
    ]


def test_the_hash_pass_looks_only_at_queued_tracks_and_finds_what_a_full_scan_finds(
    tmp_path: Path, music: Path
) -> None:
    library, ids, folder = _library(tmp_path, music)
    queued = lambda: library.execute("SELECT COUNT(*) FROM hash_queue").fetchone()[0]  # noqa: E731
    assert queued() == len(ids) and hashing.tracks_to_hash(library) == _stale_by_full_scan(library)
    hashing.hash_library(library)
    assert queued() == 0 and hashing.tracks_to_hash(library) == _stale_by_full_scan(library) == []
    scan_paths(library, [folder], workers=0)  # a rescan that changes nothing queues nothing
    assert queued() == 0
    os.utime(folder / "b.mp3", (1, 1))
    shutil.copy(folder / "c.ogg", folder / "d.ogg")
    scan_paths(library, [folder], workers=0)
    assert queued() == 2
    (new_id,) = library.execute("SELECT id FROM tracks WHERE filename = 'd.ogg'").fetchone()
    assert hashing.tracks_to_hash(library) == _stale_by_full_scan(library) == sorted([ids["b.mp3"], new_id])
    with library.write() as conn:  # missing, then back as it was: queued, and found still valid
        conn.execute("UPDATE tracks SET status = 'missing' WHERE id = ?", (ids["a.mp3"],))
        conn.execute("UPDATE tracks SET status = 'ok' WHERE id = ?", (ids["a.mp3"],))
    assert queued() == 3 and ids["a.mp3"] not in hashing.tracks_to_hash(library)
    assert hashing.prune_hash_queue(library) == 1
    with library.write() as conn:  # a library from before the queue: the migration fills it
        conn.execute("DROP TRIGGER hash_queue_changed")
        conn.execute("DROP TABLE hash_queue")
        conn.execute("DELETE FROM schema_version WHERE version >= ?", (_version_of("_migration_hash_queue"),))
    library.close()
    reopened = open_library(tmp_path / "lib.sqlite")
    assert reopened.execute("SELECT COUNT(*) FROM hash_queue").fetchone()[0] == 2
    assert hashing.tracks_to_hash(reopened) == _stale_by_full_scan(reopened)
    reopened.close()


_CRASH_CHILD = """
import os, sys
from crate_app.hygiene import dedupe
from crate_app.store.library import open_library

def die(*_args, **_kwargs):
    os._exit(3)

# "rows": inside resolve's transaction, after the crates were handed over and the corrections copied,
# before the rows go.  "files": after that transaction committed, before the first file moves.
setattr(dedupe, {"rows": "_inherit_analysis", "files": "_move_files"}[sys.argv[1]], die)
library = open_library(sys.argv[2])
keep, *others = (int(a) for a in sys.argv[3:])
dedupe.resolve(library, keep, others, action="move", folder=sys.argv[2] + ".d")
"""


@pytest.mark.parametrize("moment", ["rows", "files"])
def test_a_process_killed_in_the_middle_of_a_dedupe_leaves_the_library_as_before_or_after(
    tmp_path: Path, music: Path, moment: str
) -> None:
    library, ids, folder = _library(tmp_path, music)
    crate = crate_tree.create_node(library, None, "x", "crate")
    crate_tree.add_tracks(library, crate.id, [ids["c.ogg"], ids["a.mp3"], ids["a.flac"], ids["a copy.mp3"]])
    with library.write() as conn:
        conn.execute("UPDATE tracks SET rating = 5 WHERE id = ?", (ids["a.mp3"],))
    tables = ("tracks", "crate_entries", "crate_nodes", "cues", "dedupe_actions", "dedupe_removed")
    before = {t: library.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    library.close()
    done = subprocess.run(
        [sys.executable, "-c", _CRASH_CHILD, moment, str(tmp_path / "lib.sqlite"), str(ids["a.flac"]),
         str(ids["a.mp3"]), str(ids["a copy.mp3"])],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    library = open_library(tmp_path / "lib.sqlite")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files  # no file moved or lost
    if moment == "rows":  # as before
        assert {t: library.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables} == before
    else:  # as after (the files stayed where they were), and undo puts it all back
        assert library.count() == len(ids) - 2
        assert library.execute(ENTRIES_SQL).fetchall() == [(1, ids["c.ogg"], 0), (1, ids["a.flac"], 1)]
        (action,) = dedupe.history(library)
        dedupe.undo(library, action.id)
        assert library.execute("SELECT * FROM tracks ORDER BY 1, 2").fetchall() == before["tracks"]
        entries = library.execute("SELECT * FROM crate_entries ORDER BY 1, 2").fetchall()
        assert entries == before["crate_entries"]
    library.close()
