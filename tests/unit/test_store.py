"""The library store on a real SQLite file: schema, bulk writes, FTS sync, keyset paging, errors."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from pathlib import Path

import pytest

from crate_app.domain.errors import LibraryError
from crate_app.domain.search import parse_query
from crate_app.domain.track import AnalysisResult, ScannedFile, TagInfo, TrackStatus
from crate_app.store import schema, writer
from crate_app.store.filters import where_clause
from crate_app.store.library import open_library
from crate_app.store.view import SortOrder, TrackView

ARTISTS = ["Daft Punk", "daft punk", "Aphex Twin", "Björk", "Moodymann", "", "DJ Koze", "Ådne", "zZz"]


def make_files(count: int, seed: int = 1) -> list[ScannedFile]:
    rng = random.Random(seed)
    files = []
    for i in range(count):
        tags = TagInfo(
            format=rng.choice(["mp3", "flac", "m4a"]),
            title=f"Track {i:05d}",
            artist=rng.choice(ARTISTS),
            album=rng.choice(["Homework", "Discovery", ""]),
            genre=rng.choice(["House", "Techno", "Ambient"]),
            year=rng.choice([None, 1997, 2001, 2013]),
            bpm=rng.choice([None, 120.0, 124.5, 128.0, 140.0, 174.0]),
            key=rng.choice([None, *range(24)]),
            duration=rng.uniform(60, 600),
            bitrate=rng.choice([None, 128, 320]),
        )
        files.append(
            ScannedFile(f"/music/{tags.artist or 'Unknown'}/{i:05d}.{tags.format}", 1000 + i, 1.0, tags)
        )
    return files


def test_new_library_has_schema_wal_and_pragmas(tmp_path: Path) -> None:
    lib = open_library(tmp_path / "sub" / "lib.sqlite")
    assert lib.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert lib.execute("PRAGMA synchronous").fetchone()[0] == 1
    assert lib.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert lib.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == schema.latest_version()
    indexes = {row[1] for row in lib.execute("PRAGMA index_list(tracks)")}
    for column in schema.SORTABLE_COLUMNS:
        if column != "path":
            assert f"idx_tracks_sort_{column}" in indexes
    lib.close()


def test_reopen_keeps_data(tmp_path: Path) -> None:
    lib = open_library(tmp_path / "lib.sqlite")
    writer.upsert_scanned(lib, make_files(10))
    lib.close()
    again = open_library(tmp_path / "lib.sqlite")
    assert again.stats()["tracks"] == 10
    again.close()


def test_older_library_is_upgraded_after_a_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "lib.sqlite"
    lib = open_library(path)
    writer.upsert_scanned(lib, make_files(5))
    lib.close()
    applied = []
    old, new = schema.latest_version(), schema.latest_version() + 1

    def migration_next(db) -> None:
        db.execute_sql("ALTER TABLE tracks ADD COLUMN example_added INTEGER")
        applied.append(new)

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, (new, migration_next)])
    upgraded = open_library(path)
    assert applied == [new]
    assert upgraded.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == new
    assert upgraded.execute("SELECT COUNT(example_added) FROM tracks").fetchone()[0] == 0
    assert upgraded.stats()["tracks"] == 5
    upgraded.close()
    backup = path.with_name(path.name + f".v{old}.bak")
    assert sqlite3.connect(backup).execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == 5


def test_beat_grid_columns_are_added_to_a_version_3_library_and_written(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite"
    lib = open_library(path)
    writer.upsert_scanned(lib, make_files(2))
    lib.close()
    conn = sqlite3.connect(path)  # make it a library as Crate wrote it before migration 4
    for name in ("first_beat", "first_downbeat", "bpm_alt", "bpm_alt_confidence", "bpm_variable"):
        conn.execute(f"ALTER TABLE tracks DROP COLUMN {name}")
    conn.execute("DELETE FROM schema_version WHERE version >= 4")
    conn.commit()
    conn.close()
    upgraded = open_library(path)
    track = upgraded.track_by_path(make_files(2)[0].path)
    assert track.first_beat is None and track.bpm_variable is None
    result = AnalysisResult(
        bpm=174.0,
        bpm_confidence=0.8,
        key=3,
        key_confidence=0.7,
        first_beat=0.25,
        first_downbeat=1.629,
        bpm_alt=87.0,
        bpm_alt_confidence=0.2,
        bpm_variable=True,
    )
    writer.save_analysis(upgraded, [(track.id, result)])
    again = upgraded.track_by_path(track.path)
    assert (again.first_beat, again.first_downbeat, again.bpm_alt) == (0.25, 1.629, 87.0)
    assert again.bpm_alt_confidence == 0.2 and again.bpm_variable is True
    upgraded.close()


def test_library_from_a_newer_crate_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite"
    open_library(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version (version) VALUES (999)")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match="newer Crate"):
        open_library(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"this is a text file, not a database" * 100, "not a Crate library"), (None, "is a folder")],
)
def test_unusable_files_give_plain_errors(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "thing"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(LibraryError, match=message):
        open_library(path)


def test_other_sqlite_database_is_not_taken_for_a_library(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match="not a Crate library"):
        open_library(path)


def test_upsert_keeps_date_added_and_analysis(library) -> None:
    files = make_files(3)
    writer.upsert_scanned(library, files, now=100.0)
    first = library.track_by_path(files[0].path)
    writer.save_analysis(
        library, [(first.id, AnalysisResult(bpm=126.01, bpm_confidence=0.9, key=14, key_confidence=0.8))]
    )
    files[0].tags.title = "Renamed"
    files[0].tags.bpm = 99.0
    writer.upsert_scanned(library, files, now=200.0)
    again = library.track_by_path(files[0].path)
    assert again.id == first.id
    assert again.date_added == 100.0 and again.last_scanned == 200.0
    assert again.title == "Renamed"
    assert again.bpm == 126.01 and again.key == 14  # the analysis survives a rescan
    assert library.stats()["analyzed"] == 1


def test_fts_follows_inserts_updates_and_deletes(library) -> None:
    files = make_files(50)
    writer.upsert_scanned(library, files)
    assert library.count(parse_query("track 0001")) == 10  # "Track 0001*" prefix: 00010..00019
    files[3].tags.title = "Xylophone Dreams"
    writer.upsert_scanned(library, [files[3]])
    assert library.count(parse_query("xylo")) == 1
    assert library.count(parse_query("title:xylophone")) == 1
    assert library.count(parse_query("artist:xylophone")) == 0
    with library.write() as conn:
        conn.execute("DELETE FROM tracks WHERE path = ?", (files[3].path,))
    assert library.count(parse_query("xylo")) == 0
    # The FTS index agrees with the table.
    library.execute("INSERT INTO tracks_fts(tracks_fts, rank) VALUES ('integrity-check', 1)")


def test_search_filters(library) -> None:
    files = make_files(400)
    writer.upsert_scanned(library, files)
    tags = [f.tags for f in files]

    def expected(predicate) -> int:
        return sum(1 for t in tags if predicate(t))

    assert library.count(parse_query("artist:daft")) == expected(lambda t: t.artist.lower() == "daft punk")
    assert library.count(parse_query("bjork")) == expected(lambda t: t.artist == "Björk")  # diacritics folded
    assert library.count(parse_query("bpm:120-128")) == expected(
        lambda t: t.bpm is not None and 120 <= t.bpm <= 128
    )
    assert library.count(parse_query("bpm:>140")) == expected(lambda t: t.bpm is not None and t.bpm > 140)
    assert library.count(parse_query("bpm:128")) == expected(
        lambda t: t.bpm is not None and 128 <= t.bpm < 129
    )
    assert library.count(parse_query("key:8A")) == expected(lambda t: t.key == 14)
    assert library.count(parse_query("key:Am")) == expected(lambda t: t.key == 14)
    assert library.count(parse_query("key:none")) == expected(lambda t: t.key is None)
    assert library.count(parse_query("year:2001 genre:house")) == expected(
        lambda t: t.year == 2001 and t.genre == "House"
    )
    assert library.count(parse_query("-daft")) == expected(lambda t: t.artist.lower() != "daft punk")
    assert library.count(parse_query("format:FLAC")) == expected(lambda t: t.format == "flac")
    assert library.count(parse_query('"aphex twin"')) == expected(lambda t: t.artist == "Aphex Twin")
    # FTS operators typed by the user are plain text, never syntax errors from SQLite (OR and
    # parentheses are Crate's own: see test_search_language.py).
    assert library.count(parse_query('AND NOT NEAR * ^ : "x" "(y)" "a OR b"')) == 0


def test_missing_and_error_status(library) -> None:
    files = make_files(5)
    files.append(ScannedFile("/music/broken.mp3", 0, 1.0, None, "the file is empty"))
    writer.upsert_scanned(library, files)
    ids = [library.track_by_path(f.path).id for f in files[:2]]
    assert writer.set_status(library, ids, TrackStatus.MISSING) == 2
    assert writer.set_status(library, ids, TrackStatus.MISSING) == 0
    stats = library.stats()
    assert (stats["tracks"], stats["ok"], stats["missing"], stats["errors"]) == (6, 3, 2, 1)
    assert library.count(parse_query("missing:yes")) == 2
    assert library.count(parse_query("missing:no")) == 4
    problems = {t.path: t for t in library.problems()}
    assert problems["/music/broken.mp3"].error == "the file is empty"
    assert len(problems) == 3


def test_non_utf8_path_round_trip(library) -> None:
    odd = "/music/caf\udce9/\udcff\udcfe track.mp3"  # latin-1 bytes that are not UTF-8
    writer.upsert_scanned(library, [ScannedFile(odd, 1, 1.0, TagInfo(title="odd"))])
    record = library.track_by_path(odd)
    assert record is not None and record.path == odd
    assert record.folder == "/music/caf\udce9" and record.filename == "\udcff\udcfe track.mp3"


def _truth(library, order: SortOrder, query=None) -> list[int]:
    return list(library.iter_track_ids(query, order.column))[:: -1 if order.descending else 1]


@pytest.mark.parametrize("column", schema.SORTABLE_COLUMNS)
def test_keyset_pages_match_a_full_sort(library, column: str) -> None:
    writer.upsert_scanned(library, make_files(1500, seed=7))
    for descending in (False, True):
        order = SortOrder(column, descending)
        truth = _truth(library, order)
        view = TrackView(library, None, order)
        assert view.count() == 1500
        rng = random.Random(column)
        # Sequential pages (anchored seeks), then random jumps (seeks from anchors or ends).
        for offset in [0, 100, 200, 300, *(rng.randrange(0, 1500) for _ in range(25)), 1450, 1400]:
            got = [r.id for r in view.rows(offset, 100)]
            assert got == truth[offset : offset + 100], (column, descending, offset)


def test_keyset_pages_with_a_filter_and_row_of_id(library) -> None:
    writer.upsert_scanned(library, make_files(1200, seed=3))
    query = parse_query("genre:house bpm:>100")
    order = SortOrder("bpm", True)
    truth = _truth(library, order, query)
    view = TrackView(library, query, order)
    assert view.count() == len(truth) > 100
    for offset in (0, 50, len(truth) - 30, 17, 60):
        assert [r.id for r in view.rows(offset, 40)] == truth[offset : offset + 40]
    for row in (0, 5, len(truth) - 1):
        assert view.row_of_id(truth[row]) == row
    outside = next(i for i in library.iter_track_ids() if i not in set(truth))
    assert view.row_of_id(outside) is None


def test_sort_order_refuses_unknown_columns() -> None:
    with pytest.raises(ValueError):
        SortOrder("comment; DROP TABLE tracks")


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("bpm:120-128", "bpm"),
        ("bpm:<100", "bpm"),
        ("year:1999", "year"),
        ("key:8A", "key"),
        ("key:none", "key"),
    ],
)
def test_numeric_and_key_filters_use_their_index(library, text: str, index: str) -> None:
    # Without the index SQLite reads the whole table: seconds at 1M tracks instead of milliseconds.
    writer.upsert_scanned(library, make_files(50))
    where, params = where_clause(parse_query(text))
    plan = library.execute(f"EXPLAIN QUERY PLAN SELECT id FROM tracks WHERE {where}", params).fetchall()
    assert any(f"idx_tracks_sort_{index}" in str(row[-1]) for row in plan), plan


def test_upper_bounds_never_match_tracks_without_a_value(library) -> None:
    writer.upsert_scanned(library, make_files(200))
    without_bpm = library.execute("SELECT COUNT(*) FROM tracks WHERE bpm IS NULL").fetchone()[0]
    assert without_bpm > 0
    below = library.execute("SELECT COUNT(*) FROM tracks WHERE bpm < 130").fetchone()[0]
    assert library.count(parse_query("bpm:<130")) == below


def test_file_states_under_a_folder_of_given_paths_and_outside_folders(library) -> None:
    files = [
        ScannedFile("/music/a/1.mp3", 10, 1.5),
        ScannedFile("/music/a/b/2.mp3", 20, 2.5),
        ScannedFile("/music2/3.mp3", 30, 3.5),  # a sibling whose name starts like the folder
        ScannedFile("/musi/4.mp3", 40, 4.5),
        ScannedFile("/music/caf\udce9.mp3", 50, 5.5),  # not valid UTF-8 on disk
    ]
    writer.upsert_scanned(library, files)
    ids = {t.path: t.id for t in library.tracks_by_ids(range(1, 6))}
    writer.set_status(library, [ids["/music/a/b/2.mp3"]], TrackStatus.MISSING)

    under = library.file_states_under("/music/")
    assert set(under) == {"/music/a/1.mp3", "/music/a/b/2.mp3", "/music/caf\udce9.mp3"}
    assert under["/music/a/1.mp3"] == (ids["/music/a/1.mp3"], 10, 1.5, "ok")
    assert under["/music/a/b/2.mp3"].status == "missing"
    assert set(library.file_states_under("/music/a")) == {"/music/a/1.mp3", "/music/a/b/2.mp3"}
    assert library.file_states_under("/nothing") == {}

    some = library.file_states_of(["/musi/4.mp3", "/music/caf\udce9.mp3", "/not/there.mp3"])
    assert set(some) == {"/musi/4.mp3", "/music/caf\udce9.mp3"} and some["/musi/4.mp3"].size == 40

    assert set(library.file_states_outside(["/music", "/musi"])) == {"/music2/3.mp3"}
    assert len(library.file_states_outside([])) == 5


def test_mark_root_scanned(library) -> None:
    library.add_root("/music")
    writer.mark_root_scanned(library, "/music", now=123.0)
    assert library.execute("SELECT last_scan_at FROM library_roots").fetchone()[0] == 123.0


def test_bulk_upsert_indexes_new_and_updated_rows_for_search(library) -> None:
    files = make_files(300, seed=5)
    writer.upsert_scanned(library, files[:200])
    renamed = [ScannedFile(f.path, f.size, f.mtime, TagInfo(title=f"Zebra {i}", artist="Quux")) for i, f in
               enumerate(files[:50])]  # fmt: skip
    writer.upsert_scanned(library, [*renamed, *files[200:]])  # 50 updates and 100 new rows in one batch
    assert library.execute("SELECT COUNT(*) FROM fts_deferred").fetchone()[0] == 0
    # FTS5 checks the index against the tracks table and raises if they differ.
    library.execute("INSERT INTO tracks_fts(tracks_fts, rank) VALUES ('integrity-check', 1)")
    assert library.count(parse_query("zebra")) == 50
    assert library.count(parse_query("artist:quux")) == 50
    assert library.count(parse_query('"Track 00010"')) == 0  # the old title left the index
    assert library.count(parse_query('"Track 00250"')) == 1  # a new row is searchable
    # Plain inserts by other writers still go through the trigger.
    with library.write() as conn:
        conn.execute(
            "INSERT INTO tracks (path, folder, filename, size, mtime, format, codec, title, artist, album, "
            "albumartist, genre, comment, label, date_added, last_scanned, status) "
            "VALUES ('/x/lone.mp3', '/x', 'lone.mp3', 1, 1, '', '', 'Lonesome', '', '', '', '', '', '', "
            "1, 1, 'ok')"
        )
    assert library.count(parse_query("lonesome")) == 1


def test_a_batch_naming_a_new_file_twice_keeps_one_row_and_a_sound_search_index(library) -> None:
    # An importer or two overlapping scan folders can hand the writer one new path twice in a batch.
    first, second = make_files(2, seed=9)
    retitled = ScannedFile(first.path, first.size, first.mtime, TagInfo(title="Second Thought"))
    writer.upsert_scanned(library, [first, second, retitled])
    library.execute("INSERT INTO tracks_fts(tracks_fts, rank) VALUES ('integrity-check', 1)")
    assert library.count() == 2
    assert library.track_by_path(first.path).title == "Second Thought"  # the later row wins
    assert library.count(parse_query('"second thought"')) == 1


def test_ids_to_analyze_leaves_out_analysed_failed_and_unreadable_tracks(library) -> None:
    files = make_files(8)
    writer.upsert_scanned(library, files)
    ids = [library.track_by_path(f.path).id for f in files]
    result = AnalysisResult(bpm=128.0, bpm_confidence=0.9, key=3, key_confidence=0.5)
    writer.save_analysis(library, [(ids[0], result)])
    writer.save_analysis_failures(library, [(ids[1], "not an audio file")])
    writer.set_status(library, [ids[2]], TrackStatus.MISSING)
    left = ids[3:]
    assert library.ids_to_analyze() == left
    assert library.ids_to_analyze(force=True) == [ids[0], ids[1], *left]
    title = parse_query('title:"Track 00004"')
    assert library.ids_to_analyze(title) == [ids[4]]
    assert library.filter_ids_to_analyze([ids[5], ids[0], ids[2], ids[5], 999_999]) == [ids[5]]
    assert library.filter_ids_to_analyze([ids[5], ids[0], ids[1]], force=True) == [ids[5], ids[0], ids[1]]
    writer.save_analysis_failures(library, [(ids[2], "file not found")])  # missing: not a problem of analysis
    assert [(t.id, t.analysis_error) for t in library.analysis_failures()] == [(ids[1], "not an audio file")]
    # A successful analysis after a failure clears the failure.
    writer.save_analysis(library, [(ids[1], result)])
    assert library.track_by_path(files[1].path).analysis_error is None
    assert library.analysis_failures() == []


def test_anchored_seeks_inside_a_long_run_of_equal_keys(library) -> None:
    # 2,000 tracks of which 1,500 have no BPM (one long run of equal sort keys): pages read one row at a
    # time every 97 rows (as the window warms its view), then pages that start inside, across the end
    # of, and after the run, must match a full sort.
    files = make_files(2000, seed=11)
    files = [
        ScannedFile(f.path, f.size, f.mtime, dataclasses.replace(f.tags, bpm=None if i % 4 else f.tags.bpm))
        for i, f in enumerate(files)
    ]
    writer.upsert_scanned(library, files)
    for descending in (False, True):
        order = SortOrder("bpm", descending)
        truth = _truth(library, order)
        view = TrackView(library, None, order)
        for row in range(97, 2000, 97):
            assert [r.id for r in view.rows(row, 1)] == [truth[row]]
        for offset in (1, 150, 1450, 1490, 1499, 1510, 1600, 1950, 777):
            assert [r.id for r in view.rows(offset, 60)] == truth[offset : offset + 60], (descending, offset)
