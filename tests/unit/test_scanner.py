"""The scanner on real files and a real library file: first scan, rescans, missing files, odd trees."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from pathlib import Path

import pytest
from audiofactory import FORMATS, write_audio, write_tags

from crate_app.domain.keys import parse_key
from crate_app.domain.progress import Progress
from crate_app.domain.track import AnalysisResult, TrackStatus
from crate_app.library import scanner
from crate_app.library.scanner import AUDIO_EXTENSIONS, ScanSummary, rescan_library, scan_paths
from crate_app.store import writer
from crate_app.store.library import Library, open_library


def make_tree(root: Path, count: int = 15) -> list[Path]:
    """``count`` tagged files in artist/album folders, every format represented."""
    paths = []
    for i in range(count):
        fmt = FORMATS[i % len(FORMATS)]
        tags = {"title": f"Track {i}", "artist": f"Artist {i % 3}", "album": f"Album {i % 2}",
                "genre": "House", "bpm": f"{120 + i}.00", "key": "8A", "track": f"{i + 1}/{count}",
                "year": "1999-05-01"}  # fmt: skip
        paths.append(write_audio(root / f"Artist {i % 3}" / f"Album {i % 2}" / f"{i:02d}.{fmt}", tags))
    return paths


def statuses(library: Library) -> dict[str, str]:
    return {path: status for path, status in library.execute("SELECT path, status FROM tracks")}


def counts(summary: ScanSummary) -> tuple[int, int, int, int, int, int]:
    s = summary
    return (s.added, s.updated, s.unchanged, s.missing, s.restored, s.errors)


def test_first_scan_reads_and_stores_every_file(tmp_path: Path, library: Library) -> None:
    music = tmp_path / "music"
    paths = make_tree(music, 15)
    (music / "notes.txt").write_text("not audio")
    (music / "cover.jpg").write_bytes(b"\xff\xd8")
    batches: list[tuple[int, int]] = []
    summary = scan_paths(library, [music], workers=0, on_batch=lambda a, u: batches.append((a, u)))
    assert counts(summary) == (15, 0, 0, 0, 0, 0)
    assert not summary.cancelled and summary.seconds >= 0
    assert summary.as_dict() == {
        "added": 15, "updated": 0, "unchanged": 0, "missing": 0, "restored": 0, "errors": 0,
        "seconds": summary.seconds, "cancelled": False, "moved": 0,
    }  # fmt: skip
    assert sum(a for a, _ in batches) == 15 and all(u == 0 for _, u in batches)
    assert library.roots() == [str(music)]
    assert library.stats()["tracks"] == 15
    track = library.track_by_path(str(paths[7]))
    assert track is not None
    assert (track.title, track.artist, track.album, track.bpm, track.year, track.track_no) == (
        "Track 7", "Artist 1", "Album 1", 127.0, 1999, 8,
    )  # fmt: skip
    assert track.key == parse_key("8A").code  # type: ignore[union-attr]
    assert track.format == paths[7].suffix[1:] and track.duration and track.status == TrackStatus.OK


def test_rescan_reads_only_changed_files_and_tracks_missing_and_restored(
    tmp_path: Path, library: Library
) -> None:
    music = tmp_path / "music"
    paths = make_tree(music, 10)
    scan_paths(library, [music], workers=0)
    moved, retagged = paths[3], paths[5]
    moved_id = library.track_by_path(str(moved)).id  # type: ignore[union-attr]
    writer.save_analysis(
        library, [(moved_id, AnalysisResult(bpm=99.5, bpm_confidence=0.9, key=3, key_confidence=1))]
    )
    date_added = library.track_by_path(str(moved)).date_added  # type: ignore[union-attr]

    write_tags(retagged, {"title": "New title", "bpm": "133"})
    os.utime(retagged, (time.time() + 5, time.time() + 5))  # a new mtime even on coarse clocks
    hidden_away = tmp_path / "elsewhere.bin"
    shutil.move(moved, hidden_away)
    summary = rescan_library(library, workers=0)
    assert counts(summary) == (0, 1, 8, 1, 0, 0)
    assert library.track_by_path(str(retagged)).title == "New title"  # type: ignore[union-attr]
    gone = library.track_by_path(str(moved))
    assert gone is not None and gone.status == TrackStatus.MISSING  # kept, never deleted
    assert gone.bpm == 99.5 and gone.analyzed_at is not None

    again = rescan_library(library, workers=0)
    assert counts(again) == (0, 0, 9, 0, 0, 0)  # still missing: not counted twice

    shutil.move(hidden_away, moved)
    back = rescan_library(library, workers=0)
    assert counts(back) == (0, 0, 9, 0, 1, 0)
    restored = library.track_by_path(str(moved))
    assert restored is not None and restored.status == TrackStatus.OK
    assert restored.date_added == date_added and restored.bpm == 99.5  # analysis and date kept
    assert library.stats()["missing"] == 0


def test_progress_reports_counts_rate_and_total(tmp_path: Path, library: Library) -> None:
    music = tmp_path / "music"
    make_tree(music, 12)
    seen: list[Progress] = []
    scan_paths(library, [music], workers=0, progress=seen.append)
    assert seen, "no progress was reported"
    done = [p.done for p in seen]
    assert done == sorted(done)
    last = seen[-1]
    assert (last.done, last.total) == (12, 12)
    assert all(p.total in (None, 12) for p in seen)
    assert all(p.rate >= 0 for p in seen)
    assert last.describe().startswith("12 / 12")


def test_symlink_loops_and_hidden_folders(tmp_path: Path, library: Library) -> None:
    music = tmp_path / "music"
    make_tree(music, 5)
    os.symlink(music, music / "Artist 0" / "loop")  # a link back up the tree
    os.symlink(music / "Artist 1", music / "also artist 1")  # the same folder twice
    write_audio(music / ".hidden" / "secret.mp3", {"title": "hidden"})
    write_audio(music / "Artist 2" / "._resource.mp3")
    (music / "self").symlink_to(music / "self")  # a link to itself
    summary = scan_paths(library, [music], workers=0)
    assert summary.added == 5, summary
    stored = statuses(library)
    assert not any("/.hidden/" in p or "._resource" in p for p in stored)
    assert rescan_library(library, workers=0).unchanged == 5


def test_malformed_sample_files_all_get_reasons_and_the_scan_completes(
    testdata: Path, library: Library
) -> None:
    # Both folders hold more files than the pool threshold: this also runs the worker processes.
    folders = [testdata / "tags" / "tinytag", testdata / "tags" / "mediafile"]
    audio = [p for f in folders for p in f.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS]
    assert len(audio) > scanner.POOL_MIN_FILES
    helpers: list[int] = []
    on_batch = lambda a, u: helpers.append(len(multiprocessing.active_children()))  # noqa: E731
    summary = scan_paths(library, folders, workers=2, on_batch=on_batch)
    assert max(helpers) == 2, "the reads did not run in worker processes"
    assert summary.added + summary.errors == len(audio)
    assert summary.errors >= 40 and summary.added >= 150
    problems = [t for t in library.problems() if t.status == TrackStatus.ERROR]
    assert len(problems) == summary.errors
    reasons = {t.filename: t.error for t in problems}
    assert all(reason and len(reason) < 90 for reason in reasons.values()), reasons
    assert reasons["empty_file.mp3"] == "the file is empty (0 bytes)"
    assert reasons["invalid_file_larger.mp3"].startswith("not a valid MP3 file")
    assert reasons["zero_value_properties.wav"] == "no audio stream found"
    full = library.track_by_path(str(testdata / "tags" / "mediafile" / "full.flac"))
    assert full is not None and (full.artist, full.bpm, full.disc_no) == ("the artist", 6.0, 4)
    # Errors are read again on a rescan (a fixed file would come back); nothing else is.
    again = rescan_library(library, workers=0)
    assert (again.unchanged, again.errors, again.added) == (summary.added, summary.errors, 0)


def test_worker_processes_give_the_same_rows_as_reading_inline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    music = tmp_path / "music"
    make_tree(music, 24)
    monkeypatch.setattr(scanner, "POOL_MIN_FILES", 4)
    monkeypatch.setattr(scanner, "CHUNK_FILES", 5)
    monkeypatch.setattr(scanner, "FIRST_BATCH_ROWS", 5)  # batches written while the pool runs
    columns = "path, title, artist, bpm, key, duration, sample_rate, status"
    results, helpers = [], []
    for workers in (0, 2):
        lib = open_library(tmp_path / f"lib{workers}.sqlite")
        on_batch = lambda a, u: helpers.append(len(multiprocessing.active_children()))  # noqa: E731
        assert scan_paths(lib, [music], workers=workers, on_batch=on_batch).added == 24
        results.append(sorted(lib.execute(f"SELECT {columns} FROM tracks")))
        lib.close()
    assert results[0] == results[1]
    assert max(helpers) == 2, "the reads did not run in worker processes"
    assert not multiprocessing.active_children()


def test_non_utf8_file_names_are_scanned_and_found_again(tmp_path: Path, library: Library) -> None:
    music = tmp_path / "music"
    made = write_audio(music / "plain.mp3", {"title": "latin-1 name"})
    weird = os.fsencode(music) + b"/caf\xe9 \xff.mp3"
    os.rename(made, weird)
    summary = scan_paths(library, [music], workers=0)
    assert counts(summary) == (1, 0, 0, 0, 0, 0)
    track = library.track_by_path(os.fsdecode(weird))
    assert track is not None and track.title == "latin-1 name"
    assert os.path.exists(track.path)
    assert rescan_library(library, workers=0).unchanged == 1  # the stored path matches the one on disk


def test_unreadable_folder_is_recorded_and_its_tracks_are_not_marked_missing(
    tmp_path: Path, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    music = tmp_path / "music"
    make_tree(music, 6)
    assert scan_paths(library, [music], workers=0).added == 6
    locked = music / "Artist 1"
    if os.geteuid() != 0:
        locked.chmod(0)
    else:  # root reads any folder whatever its permissions: make listing it fail instead
        real_scandir = os.scandir

        def scandir(path):  # type: ignore[no-untyped-def]
            if os.fspath(path) == str(locked):
                raise PermissionError(13, "Permission denied", str(locked))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
    try:
        summary = rescan_library(library, workers=0)
    finally:
        locked.chmod(0o755)
    errors = dict(library.scan_errors())
    assert errors.get(str(locked), "").startswith("permission denied"), errors
    assert summary.errors == 1 and summary.missing == 0
    assert library.stats()["missing"] == 0


def test_cancel_between_batches_then_finish_later(
    tmp_path: Path, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    music = tmp_path / "music"
    make_tree(music, 20)
    monkeypatch.setattr(scanner, "FIRST_BATCH_ROWS", 4)
    monkeypatch.setattr(scanner, "BATCH_ROWS", 4)
    monkeypatch.setattr(scanner, "CHUNK_FILES", 4)
    read_chunk = scanner.read_chunk

    def slow_read_chunk(chunk, now):  # a slow disk: commits keep up with reading
        time.sleep(0.05)
        return read_chunk(chunk, now)

    monkeypatch.setattr(scanner, "read_chunk", slow_read_chunk)
    batches: list[int] = []
    summary = scan_paths(
        library,
        [music],
        workers=0,
        on_batch=lambda a, u: batches.append(a),
        should_stop=lambda: len(batches) >= 2,
    )
    # What was read before the stop is written all the same (batches are committed on the writer's
    # thread), and the rest comes with the next scan.
    assert summary.cancelled
    assert 0 < summary.added == sum(batches) < 20
    assert library.stats()["tracks"] == summary.added
    rest = rescan_library(library, workers=0)
    assert not rest.cancelled and (rest.added, rest.unchanged) == (20 - summary.added, summary.added)


def test_cancel_shuts_the_worker_pool_down(
    tmp_path: Path, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    music = tmp_path / "music"
    make_tree(music, 40)
    monkeypatch.setattr(scanner, "POOL_MIN_FILES", 10)
    monkeypatch.setattr(scanner, "CHUNK_FILES", 2)
    monkeypatch.setattr(scanner, "FIRST_BATCH_ROWS", 2)
    batches: list[int] = []
    summary = scan_paths(library, [music], workers=2, on_batch=lambda a, u: batches.append(a),
                         should_stop=lambda: bool(batches))  # fmt: skip
    assert summary.cancelled and 0 < summary.added < 40
    assert library.stats()["tracks"] == summary.added
    assert not multiprocessing.active_children()


def test_single_files_are_scanned_without_becoming_roots(tmp_path: Path, library: Library) -> None:
    music = tmp_path / "drop"
    one, two = make_tree(music, 2)
    text = music / "readme.txt"
    text.write_text("x")
    summary = scan_paths(library, [one, two, text, tmp_path / "nowhere.mp3"], workers=0)
    assert (summary.added, summary.errors) == (2, 2)
    assert library.roots() == []
    assert {p for p, _ in library.scan_errors()} == {str(text), str(tmp_path / "nowhere.mp3")}
    assert scan_paths(library, [one], workers=0).unchanged == 1
    one.unlink()
    after = rescan_library(library, workers=0)  # tracks outside any root are checked too
    assert (after.missing, after.unchanged) == (1, 1)


def test_a_vanished_root_marks_its_tracks_missing(tmp_path: Path, library: Library) -> None:
    music = tmp_path / "music"
    make_tree(music, 4)
    scan_paths(library, [music], workers=0)
    shutil.rmtree(music)
    summary = rescan_library(library, workers=0)
    assert summary.missing == 4 and summary.errors == 1
    assert "does not exist" in dict(library.scan_errors())[str(music)]
    assert set(statuses(library).values()) == {"missing"}


def test_broken_files_are_rows_with_reasons(tmp_path: Path, library: Library) -> None:
    music = tmp_path / "music"
    make_tree(music, 2)
    (music / "empty.flac").write_bytes(b"")
    (music / "junk.mp3").write_bytes(b"\x00" * 5000)
    summary = scan_paths(library, [music], workers=0)
    assert (summary.added, summary.errors) == (2, 2)
    reasons = {t.filename: t.error for t in library.problems()}
    assert reasons == {"empty.flac": "the file is empty (0 bytes)", "junk.mp3": reasons["junk.mp3"]}
    assert reasons["junk.mp3"].startswith("not a valid MP3 file")


def test_nested_roots_are_walked_once(tmp_path: Path, library: Library) -> None:
    music = tmp_path / "music"
    make_tree(music, 6)
    scan_paths(library, [music / "Artist 0"], workers=0)
    summary = scan_paths(library, [music, music / "Artist 1"], workers=0)
    assert (summary.added, summary.unchanged) == (4, 2)
    assert rescan_library(library, workers=0).unchanged == 6
    scanned_at = library.execute("SELECT path, last_scan_at FROM library_roots").fetchall()
    assert len(scanned_at) == 2 and all(at is not None for _, at in scanned_at)  # Artist 1 was redundant
