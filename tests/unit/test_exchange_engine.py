"""Engine DJ export: the database is checked against the databases Engine DJ Desktop itself wrote (schema,
constraints, its own triggers), and its rows against the reference's layout (linked lists, blobs)."""

from __future__ import annotations

import math
import os
import re
import sqlite3
import struct
from pathlib import Path

import pytest

from crate_app.domain.errors import ExchangeError
from crate_app.exchange import engine_db, keymap
from crate_app.exchange.model import ExchangeCue, ExportTrack, ListSource, PlaylistNode
from crate_app.exchange.paths import PathMapper, parse_path

# The databases Engine DJ Desktop made for a new library (sqlite3 dumps), per schema version.
WRITTEN_BY_ENGINE = {"3.0.2": "engine_desktop_5.0.0_m.db.sql", "3.0.1": "engine_desktop_4.3.4_m.db.sql"}
WHERE_FROM = (
    "xsco/libdjinterop testdata/ref/engine/desktop/desktop-<version>/Database2/m.db.sql (LGPL-3.0), "
    "kept in shared/testdata/exchange"
)
RATE = 48000


@pytest.fixture
def music(tmp_path: Path) -> tuple[Path, list[ExportTrack], list[PlaylistNode]]:
    """A drive with an Engine Library beside a Music folder of awkwardly named files."""
    drive = tmp_path / "DJUSB"
    folder = drive / "Music & #1"
    folder.mkdir(parents=True)
    tracks = []
    for i, name in enumerate(["Björk & Co 100%.mp3", "Été.flac", "日本語.wav", "plain.mp3"], start=1):
        path = folder / name
        path.write_bytes(os.urandom(50 + i))
        tracks.append(
            ExportTrack(
                id=i * 10, path=str(path), title=f"Title {i}", artist="Ärtist", format=path.suffix[1:],
                duration=200.0 + i, size=path.stat().st_size, sample_rate=RATE if i != 3 else None,
                bpm=120.0 + i / 3 if i != 4 else None, key=(i * 5) % 24 if i != 4 else None,
                first_beat=0.9 + i * 0.01 if i != 4 else None,
                first_downbeat=0.9 + i * 0.01 + 60 / (120.0 + i / 3) if i != 4 else None,
                cues=[
                    ExchangeCue("hot", 2, 10.5, name="Drop ✓", color=0x00FF00),
                    ExchangeCue("memory", None, 20.0),
                    ExchangeCue("loop", 1, 30.0, 34.0, "Loop"),
                ] if i == 1 else [],
            )
        )  # fmt: skip
    playlists = [
        PlaylistNode("Sets", True, [PlaylistNode("Friday", False, entries=[30, 10, 20, 30])]),
        PlaylistNode("All; & #%", False, entries=[40, 30, 20, 10]),
        PlaylistNode("Empty", False, entries=[]),
    ]
    return drive, tracks, playlists


def export(drive: Path, tracks, playlists, schema: str = engine_db.DEFAULT_SCHEMA, mapper=None):
    return engine_db.write(
        drive,
        ListSource(tracks, playlists),
        mapper or PathMapper(),
        schema=schema,
        check_running=lambda: False,
    )


def engine_written(testdata: Path, schema: str) -> sqlite3.Connection:
    """An in-memory copy of the database Engine DJ wrote at ``schema``; skips when the file is absent."""
    path = testdata / "exchange" / WRITTEN_BY_ENGINE[schema]
    if not path.is_file():
        pytest.skip(f"{path.name} is not in {path.parent}: copy it from {WHERE_FROM}")
    db = sqlite3.connect(":memory:")
    db.executescript(path.read_text(encoding="utf-8"))
    return db


def tokens(sql: str) -> list[str]:
    """SQL as tokens (layout and keyword case do not matter; names and literals do)."""
    words = re.findall(r"'(?:[^']|'')*'|[A-Za-z_][A-Za-z0-9_]*|\d+|<>|!=|<=|\|\||\S", sql)
    return [w if w.startswith("'") else w.lower() for w in words]


def schema_of(db: sqlite3.Connection) -> dict[tuple[str, str], object]:
    """Every table (columns, indexes, foreign keys), index, view and trigger, comparable across files."""
    found: dict[tuple[str, str], object] = {}
    rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    for kind, name, _table, sql in rows.fetchall():
        if kind == "table":
            indexes = [
                (unique, origin, [c[2] for c in db.execute(f"PRAGMA index_info('{index}')")])
                for _, index, unique, origin, _ in db.execute(f"PRAGMA index_list({name})")
            ]
            found[kind, name] = (
                db.execute(f"PRAGMA table_xinfo({name})").fetchall(),
                sorted(indexes, key=repr),
                sorted((r[2:] for r in db.execute(f"PRAGMA foreign_key_list({name})")), key=repr),
            )
        else:
            found[kind, name] = tokens(sql)
    return found


@pytest.mark.parametrize("schema", sorted(WRITTEN_BY_ENGINE))
def test_the_schema_is_the_one_engine_dj_writes(tmp_path: Path, music, testdata: Path, schema: str) -> None:
    engine = engine_written(testdata, schema)
    drive, tracks, playlists = music
    report = export(drive, tracks, playlists, schema)
    ours = sqlite3.connect(report.files[0])
    assert schema_of(ours) == schema_of(engine)
    version = "SELECT schemaVersionMajor, schemaVersionMinor, schemaVersionPatch FROM Information"
    assert ours.execute(version).fetchall() == engine.execute(version).fetchall()
    assert ours.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_engine_dj_s_own_triggers_accept_the_rows(tmp_path: Path, music, testdata: Path) -> None:
    """Copy the export into the database Engine made, with Engine's triggers and constraints live:
    appending the playlists one by one in order, as Engine does, builds the same sibling chains."""
    engine = engine_written(testdata, "3.0.2")
    drive, tracks, playlists = music
    report = export(drive, tracks, playlists)
    engine.execute("PRAGMA foreign_keys=ON")
    engine.execute("ATTACH ? AS ours", (report.files[0],))
    engine.execute("INSERT INTO Track SELECT * FROM ours.Track ORDER BY id")
    # Engine's trigger made a PerformanceData row per track; the export's rows replace them
    assert engine.execute("SELECT COUNT(*) FROM PerformanceData").fetchone()[0] == 4
    engine.execute("INSERT OR REPLACE INTO PerformanceData SELECT * FROM ours.PerformanceData")
    for list_id, title, parent in engine.execute(
        "SELECT id, title, parentListId FROM ours.Playlist ORDER BY id"
    ).fetchall():
        engine.execute(
            "INSERT INTO Playlist (id, title, parentListId, isPersisted, nextListId, lastEditTime, "
            "isExplicitlyExported) VALUES (?, ?, ?, 1, 0, 0, 1)",
            (list_id, title, parent),
        )
    engine.execute("INSERT INTO PlaylistEntity SELECT * FROM ours.PlaylistEntity")
    chains = "SELECT id, parentListId, nextListId FROM {}Playlist ORDER BY id"
    assert (
        engine.execute(chains.format("main.")).fetchall() == engine.execute(chains.format("ours.")).fetchall()
    )
    assert engine.execute("PRAGMA foreign_key_check").fetchall() == []
    # Engine's view of the tree gives the paths Crate has
    paths = {p for (p,) in engine.execute("SELECT path FROM PlaylistPath")}
    assert paths == {"Sets;", "All, & #%;", "Empty;", "Sets;Friday;"}
    # a new track must take a fresh id, as Engine demands
    with pytest.raises(sqlite3.IntegrityError, match="Recycling deleted track id"):
        engine.execute("INSERT INTO Track (id, path) VALUES (5, 'x.mp3')")


def chain(db: sqlite3.Connection, rows: list[tuple[int, int]]) -> list[int]:
    """Follow a linked list of (id, next id; 0 = end): exactly one head, no cycle, every row once."""
    following = dict(rows)
    heads = set(following) - set(following.values())
    assert len(heads) == 1, rows
    order, here = [], heads.pop()
    while here:
        order.append(here)
        here = following[here]
        assert len(order) <= len(rows)
    assert sorted(order) == sorted(following)
    return order


def test_the_rows_keep_crates_order_paths_keys_and_constraints(tmp_path: Path, music) -> None:
    drive, tracks, playlists = music
    report = export(drive, tracks, playlists)
    assert (report.tracks, report.playlists, report.skipped) == (4, 3, [])
    database = Path(report.files[0])
    assert database == drive / "Engine Library" / "Database2" / "m.db"
    db = sqlite3.connect(database)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    by_id = {t.id: t for t in tracks}
    for track_id, path, filename, key, bpm, bpm_analyzed, length, analysed in db.execute(
        "SELECT id, path, filename, key, bpm, bpmAnalyzed, length, isAnalyzed FROM Track"
    ):
        track = by_id[track_id]
        assert path.startswith("../Music & #1/") and filename == Path(track.path).name
        assert (database.parent.parent / path).resolve() == Path(track.path).resolve()
        assert key == (None if track.key is None else keymap.engine_value(track.key))
        assert bpm_analyzed == track.bpm and bpm == (round(track.bpm) if track.bpm else None)
        assert length == int(track.duration) and analysed == (track.bpm is not None)
    # playlists: sibling chains in Crate's order, ";" (Engine's path separator) replaced
    top = db.execute("SELECT id, nextListId FROM Playlist WHERE parentListId = 0").fetchall()
    titles = dict(db.execute("SELECT id, title FROM Playlist"))
    assert [titles[i] for i in chain(db, top)] == ["Sets", "All, & #%", "Empty"]
    # entries: one chain per playlist in Crate's order, a track once per playlist
    for title, expected in (("Friday", [30, 10, 20]), ("All, & #%", [40, 30, 20, 10]), ("Empty", [])):
        list_id = db.execute("SELECT id FROM Playlist WHERE title = ?", (title,)).fetchone()[0]
        rows = db.execute("SELECT id, nextEntityId FROM PlaylistEntity WHERE listId = ?", (list_id,))
        track_of = dict(db.execute("SELECT id, trackId FROM PlaylistEntity WHERE listId = ?", (list_id,)))
        rows = rows.fetchall()
        assert [track_of[e] for e in chain(db, rows)] == expected if rows else expected == []
    uuid = db.execute("SELECT uuid FROM Information").fetchone()[0]
    assert {u for (u,) in db.execute("SELECT DISTINCT databaseUuid FROM PlaylistEntity")} == {uuid}
    assert db.execute("SELECT COUNT(*) FROM Track WHERE originDatabaseUuid = ? AND originTrackId = id",
                      (uuid,)).fetchone()[0] == 4  # fmt: skip


def decode_grid(raw: bytes) -> tuple[float, float, list[tuple[float, int, int]]]:
    sample_rate, samples, is_set = struct.unpack(">ddB", raw[:17])
    (count,) = struct.unpack(">q", raw[17:25])
    markers = [struct.unpack("<dqii", raw[25 + 24 * i : 49 + 24 * i])[:3] for i in range(count)]
    second = 25 + 24 * count
    assert raw[second : second + 8 + 24 * count] == raw[17:25] + raw[25:second]  # adjusted == analysed
    assert is_set == 1 and raw[second + 8 + 24 * count :] == bytes(9)
    return sample_rate, samples, markers


def test_performance_data_carries_the_grid_cues_and_loops(tmp_path: Path, music) -> None:
    drive, tracks, playlists = music
    db = sqlite3.connect(export(drive, tracks, playlists).files[0])
    columns = "trackId, trackData, beatData, quickCues, loops, overviewWaveFormData"
    blobs = {row[0]: row[1:] for row in db.execute(f"SELECT {columns} FROM PerformanceData")}
    track = tracks[0]
    track_data, beat_data, quick, loops, waveform = blobs[track.id]
    assert waveform is None
    rate, samples, key = struct.unpack(">dqi", engine_db.uncompress(track_data)[:20])
    assert (rate, samples, key) == (RATE, round(track.duration * RATE), keymap.engine_value(track.key))
    rate, samples_f, markers = decode_grid(engine_db.uncompress(beat_data))
    period = 60 / track.bpm * RATE
    (first, minus_four, span), (last, end_beat, _) = markers
    assert minus_four == -4 and span == end_beat + 4 and last > samples_f
    # beat 0 of Engine's grid is Crate's downbeat, and the grid runs through Crate's first beat
    bars = (track.first_downbeat * RATE - (first + 4 * period)) / period / 4
    assert abs(bars - round(bars)) < 1e-6
    beats_from_first = (track.first_beat * RATE - first) / period
    assert abs(beats_from_first - round(beats_from_first)) < 1e-6
    assert abs(((last - first) / (end_beat - minus_four)) - period) < 1e-6
    # hot cue C (pad 2) with its name and colour, memory cue -> main cue, loop on pad 1
    raw = engine_db.uncompress(quick)
    assert struct.unpack(">q", raw[:8])[0] == 8
    pos, pads = 8, []
    for _ in range(8):
        length = raw[pos]
        label = raw[pos + 1 : pos + 1 + length].decode()
        offset, a, r, g, b = struct.unpack(">dBBBB", raw[pos + 1 + length : pos + 13 + length])
        pads.append((label, offset, (a, r, g, b)))
        pos += 13 + length
    assert pads[2] == ("Drop ✓", 10.5 * RATE, (255, 0, 255, 0))
    assert all(p == ("", -1.0, (0, 0, 0, 0)) for i, p in enumerate(pads) if i != 2)
    assert struct.unpack(">dBd", raw[pos:]) == (20.0 * RATE, 1, 20.0 * RATE)
    assert struct.unpack("<q", loops[:8])[0] == 8
    pos, loop_pads = 8, []
    for _ in range(8):
        length = loops[pos]
        start, end, start_set, end_set = struct.unpack("<ddBB", loops[pos + 1 + length : pos + 19 + length])
        loop_pads.append((loops[pos + 1 : pos + 1 + length].decode(), start, end, start_set, end_set))
        pos += 23 + length
    assert pos == len(loops)
    assert loop_pads[1] == ("Loop", 30.0 * RATE, 34.0 * RATE, 1, 1)
    assert loop_pads[0] == ("", -1.0, -1.0, 0, 0)
    # no grid: not analysed, no beat data (Engine analyses it); no sample rate: 44.1 kHz assumed
    assert blobs[40][1] is None and blobs[40][2] is None
    assert struct.unpack(">d", engine_db.uncompress(blobs[30][0])[:8])[0] == 44100


def test_grid_markers_start_four_beats_before_a_downbeat() -> None:
    markers = engine_db.beat_markers(0.7, 120.0, 1.2, 10.0, 100.0)
    # beats every 0.5 s: the earliest at or after 0 s is 0.2 s, the third beat of the bar whose downbeat
    # is at -0.8 s (1.2 s is a downbeat), so beat -4 is at -2.8 s; the last marker lies past the end
    assert markers[0] == pytest.approx((-280.0, -4))
    offset, beat = markers[1]
    assert beat == 22 and offset == pytest.approx((-0.8 + 22 * 0.5) * 100)
    assert offset / 100 > 10.0 and math.isclose((offset - markers[0][0]) / (beat + 4), 50.0)


def test_paths_relative_to_the_library_and_other_drives(tmp_path: Path) -> None:
    library = parse_path("E:/Engine Library")
    assert engine_db.relative_path(library, parse_path("e:/music/a.mp3")) == "../music/a.mp3"
    with pytest.raises(engine_db.Unexpressible, match="another drive"):
        engine_db.relative_path(library, parse_path("D:/music/a.mp3"))
    home = parse_path("/home/dj/Music/Engine Library")
    assert engine_db.relative_path(home, parse_path("/home/dj/Music/x/a.mp3")) == "../x/a.mp3"
    assert engine_db.relative_path(home, parse_path("/srv/a.mp3")) == "../../../../srv/a.mp3"


def test_mapped_tracks_on_another_drive_are_skipped_and_reported(tmp_path: Path, music) -> None:
    drive, tracks, playlists = music
    mapper = PathMapper([(str(drive / "Music & #1"), "D:/Music"), (str(drive), "E:/")])
    report = export(drive, tracks, playlists, mapper=mapper)
    assert report.tracks == 0 and len(report.skipped) == 4 and "another drive" in report.skipped[0][1]
    mapper = PathMapper([(str(drive), "E:/")])
    report = export(drive, tracks, playlists, mapper=mapper)
    assert report.tracks == 4 and report.skipped == []
    db = sqlite3.connect(report.files[0])
    assert db.execute("SELECT path FROM Track WHERE id = 40").fetchone()[0] == "../Music & #1/plain.mp3"
    # the friday crate keeps only the tracks that were exported
    assert db.execute("SELECT COUNT(*) FROM PlaylistEntity").fetchone()[0] == 7


def test_the_users_database_is_kept_and_nothing_is_written_while_engine_runs(tmp_path: Path, music) -> None:
    drive, tracks, playlists = music
    first = Path(export(drive, tracks, playlists).files[0])
    users = first.read_bytes()
    report = export(drive, tracks[:2], [])
    kept = list(first.parent.glob("m.db.before-crate-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == users
    assert report.tracks == 2 and sorted(p.name for p in first.parent.iterdir() if ".part" in p.name) == []
    with pytest.raises(ExchangeError, match="Engine DJ is running"):
        engine_db.write(drive, ListSource(tracks), PathMapper(), check_running=lambda: True)
    stops = iter([True])
    many = [ExportTrack(id=i, path=f"/music/{i}.mp3", format="mp3") for i in range(1, 2500)]
    with pytest.raises(ExchangeError, match="cancelled"):
        engine_db.write(drive, ListSource(many), PathMapper(), check_running=lambda: False,
                        should_stop=lambda: next(stops, True))  # fmt: skip
    assert sqlite3.connect(first).execute("SELECT COUNT(*) FROM Track").fetchone()[0] == 2
    assert not [p for p in first.parent.iterdir() if ".part" in p.name]
    with pytest.raises(ExchangeError, match="unknown Engine DJ schema"):
        export(drive, tracks, playlists, schema="1.0.0")


def test_two_tracks_at_one_path_in_engine_keep_the_first(tmp_path: Path) -> None:
    """NFC and NFD spellings of one name are two files here but one path in Engine (written in NFC)."""
    folder = tmp_path / "Music"
    folder.mkdir()
    nfc, nfd = folder / "\u00c9t\u00e9.mp3", folder / "E\u0301te\u0301.mp3"
    tracks = [
        ExportTrack(id=i, path=str(p), format="mp3") for i, p in ((1, nfc), (2, nfd), (3, folder / "x.mp3"))
    ]
    report = export(tmp_path, tracks, [PlaylistNode("Both", False, entries=[2, 1, 3])])
    assert report.tracks == 2 and [p for p, _ in report.skipped] == [str(nfd)]
    assert "same path" in report.skipped[0][1]
    db = sqlite3.connect(report.files[0])
    assert db.execute("SELECT id, path FROM Track ORDER BY id").fetchall() == [
        (1, "../Music/\u00c9t\u00e9.mp3"), (3, "../Music/x.mp3")]  # fmt: skip
    assert db.execute("SELECT COUNT(*) FROM PerformanceData").fetchone()[0] == 2
    assert [t for (t,) in db.execute("SELECT trackId FROM PlaylistEntity ORDER BY id")] == [1, 3]
