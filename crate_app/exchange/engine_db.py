"""Engine DJ (Denon / Numark / Rane players, Engine DJ Desktop): an ``Engine Library/Database2/m.db``.

The database is SQLite with Engine's own schema (EXCHANGE-FORMATS §4).  Two schema versions are
written, the newest two that the reference lists: 3.0.2 (Engine DJ 4.5 to 5.x, the default) and 3.0.1
(Engine DJ 4.3).  Tables, indexes, views and triggers are the ones Engine DJ Desktop itself creates
(compared with the databases Engine wrote in ``tests/unit/test_exchange_engine.py``).

- Track paths are relative to the ``Engine Library`` folder (``../Music/a.mp3``), after ``--map``; a track
  on another Windows drive than the library cannot be referred to and is skipped with that reason.
- Playlists are a linked list of siblings (``nextListId``, 0 = last) and their entries a linked list
  (``nextEntityId``, 0 = last); a track appears once per playlist.  Smart crates are written as static
  playlists of their current members (Engine's smart-list rule format is undocumented).
- Performance data (``PerformanceData``): track data (sample rate, length in samples, key), Crate's beat
  grid, hot cues (8 pads), the main cue (the first memory cue) and loops (8 pads), as the blobs the
  reference describes (a big-endian uint32 length and zlib data; loops uncompressed).  Sample offsets
  are on Crate's timeline moved by the target's MP3 offset (``timing``).  A track without a grid is
  marked not analysed, so that Engine analyses it itself.

The database is built in a temporary file beside the target and renamed into place when complete; a
database that was there is kept beside it as ``m.db.before-crate-<time>`` (it holds the user's Engine
playlists and analysis), and nothing is written while Engine DJ runs.
"""

from __future__ import annotations

import math
import os
import sqlite3
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

from crate_app.domain.errors import ExchangeError
from crate_app.domain.progress import Progress, ProgressMeter
from crate_app.exchange.keymap import engine_value
from crate_app.exchange.model import ExchangeCue, ExportReport, ExportSource, ExportTrack, PlaylistNode
from crate_app.exchange.paths import PathMapper, TargetPath, Unexpressible, parse_path
from crate_app.exchange.rekordbox_xml import IdSet, grid_start
from crate_app.exchange.running import program_running

TARGET = "engine"
SCHEMAS = {"3.0.2": "Engine DJ 4.5 to 5.x", "3.0.1": "Engine DJ 4.3"}
DEFAULT_SCHEMA = "3.0.2"
LIBRARY_FOLDER = "Engine Library"
DATABASE = ("Database2", "m.db")
PADS = 8  # hot cues and loops: Engine has 8 of each
DEFAULT_SAMPLE_RATE = 44100
_BATCH = 2000

# -- the schema (Engine DJ Desktop's own, as its 4.3/4.5/5.0 databases hold it) -------------------------

_TABLES = (
    """CREATE TABLE Information (
        id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT, schemaVersionMajor INTEGER,
        schemaVersionMinor INTEGER, schemaVersionPatch INTEGER, currentPlayedIndiciator INTEGER,
        lastRekordBoxLibraryImportReadCounter INTEGER)""",
    "CREATE TABLE AlbumArt ( id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT, albumArt BLOB )",
    """CREATE TABLE Pack ( id INTEGER PRIMARY KEY AUTOINCREMENT, packId TEXT, changeLogDatabaseUuid TEXT,
        changeLogId INTEGER, lastPackTime DATETIME )""",
    """CREATE TABLE Track (
        id INTEGER PRIMARY KEY AUTOINCREMENT, playOrder INTEGER, length INTEGER, bpm INTEGER,
        year INTEGER, path TEXT, filename TEXT, bitrate INTEGER, bpmAnalyzed REAL, albumArtId INTEGER,
        fileBytes INTEGER, title TEXT, artist TEXT, album TEXT, genre TEXT, comment TEXT, label TEXT,
        composer TEXT, remixer TEXT, key INTEGER, rating INTEGER, albumArt TEXT,
        timeLastPlayed DATETIME, isPlayed BOOLEAN, fileType TEXT, isAnalyzed BOOLEAN,
        dateCreated DATETIME, dateAdded DATETIME, isAvailable BOOLEAN,
        isMetadataOfPackedTrackChanged BOOLEAN, isPerfomanceDataOfPackedTrackChanged BOOLEAN,
        playedIndicator INTEGER, isMetadataImported BOOLEAN, pdbImportKey INTEGER,
        streamingSource TEXT, uri TEXT, isBeatGridLocked BOOLEAN, originDatabaseUuid TEXT,
        originTrackId INTEGER, streamingFlags INTEGER, explicitLyrics BOOLEAN,
        lastEditTime DATETIME{extra_track_columns},
        CONSTRAINT C_originDatabaseUuid_originTrackId UNIQUE (originDatabaseUuid, originTrackId),
        CONSTRAINT C_path UNIQUE (path),
        FOREIGN KEY (albumArtId) REFERENCES AlbumArt (id) ON DELETE RESTRICT )""",
    """CREATE TABLE PerformanceData (
        trackId INTEGER PRIMARY KEY, trackData BLOB, overviewWaveFormData BLOB, beatData BLOB,
        quickCues BLOB, loops BLOB, thirdPartySourceId INTEGER, activeOnLoadLoops INTEGER,
        FOREIGN KEY(trackId) REFERENCES Track(id) ON DELETE CASCADE ON UPDATE CASCADE )""",
    """CREATE TABLE Playlist (
        id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT, parentListId INTEGER, isPersisted BOOLEAN,
        nextListId INTEGER, lastEditTime DATETIME, isExplicitlyExported BOOLEAN,
        CONSTRAINT C_NAME_UNIQUE_FOR_PARENT UNIQUE (title, parentListId),
        CONSTRAINT C_NEXT_LIST_ID_UNIQUE_FOR_PARENT UNIQUE (parentListId, nextListId) )""",
    """CREATE TABLE PlaylistEntity (
        id INTEGER PRIMARY KEY AUTOINCREMENT, listId INTEGER, trackId INTEGER, databaseUuid TEXT,
        nextEntityId INTEGER, membershipReference INTEGER,
        CONSTRAINT C_NAME_UNIQUE_FOR_LIST UNIQUE (listId, databaseUuid, trackId),
        FOREIGN KEY (listId) REFERENCES Playlist (id) ON DELETE CASCADE )""",
    """CREATE TABLE PreparelistEntity ( id INTEGER PRIMARY KEY AUTOINCREMENT, trackId INTEGER,
        trackNumber INTEGER, FOREIGN KEY (trackId) REFERENCES Track (id) ON DELETE CASCADE )""",
    """CREATE TABLE Smartlist (
        listUuid TEXT NOT NULL PRIMARY KEY, title TEXT, parentPlaylistPath TEXT, nextPlaylistPath TEXT,
        nextListUuid TEXT, rules TEXT, lastEditTime DATETIME,
        CONSTRAINT C_NAME_UNIQUE_FOR_PARENT UNIQUE (title, parentPlaylistPath),
        CONSTRAINT C_NEXT_LIST_UNIQUE_FOR_PARENT UNIQUE (parentPlaylistPath, nextPlaylistPath,
            nextListUuid) )""",
)

# Created after the rows are in (an index built once is far cheaper than one kept up per row, and the
# triggers are Engine's bookkeeping for later edits, not for this bulk write).
_INDEXES = (
    "CREATE INDEX index_AlbumArt_hash ON AlbumArt (hash)",
    "CREATE INDEX index_Track_filename ON Track (filename)",
    "CREATE INDEX index_Track_albumArtId ON Track (albumArtId)",
    "CREATE INDEX index_Track_uri ON Track (uri)",
    "CREATE INDEX index_Track_title ON Track(title)",
    "CREATE INDEX index_Track_length ON Track(length)",
    "CREATE INDEX index_Track_rating ON Track(rating)",
    "CREATE INDEX index_Track_year ON Track(year)",
    "CREATE INDEX index_Track_dateAdded ON Track(dateAdded)",
    "CREATE INDEX index_Track_genre ON Track(genre)",
    "CREATE INDEX index_Track_artist ON Track(artist)",
    "CREATE INDEX index_Track_album ON Track(album)",
    "CREATE INDEX index_Track_key ON Track(key)",
    "CREATE INDEX index_Track_bpmAnalyzed ON Track(CAST(bpmAnalyzed + 0.5 AS int))",
    "CREATE INDEX index_PlaylistEntity_nextEntityId_listId ON PlaylistEntity(nextEntityId, listId)",
    "CREATE INDEX index_PreparelistEntity_trackId ON PreparelistEntity (trackId)",
)

_VIEWS = (
    "CREATE VIEW ChangeLog (id, trackId) AS SELECT 0, 0 WHERE FALSE",
    """CREATE VIEW PlaylistAllParent AS WITH FindAllParent AS (
        SELECT id, parentListId FROM Playlist
        UNION ALL
        SELECT recursiveCTE.id, Plist.parentListId FROM Playlist Plist
        INNER JOIN FindAllParent recursiveCTE ON recursiveCTE.parentListId = Plist.id )
    SELECT * FROM FindAllParent""",
    """CREATE VIEW PlaylistAllChildren AS WITH FindAllChild AS (
        SELECT id, id as childListId FROM Playlist
        UNION ALL
        SELECT recursiveCTE.id, Plist.id FROM Playlist Plist
        INNER JOIN FindAllChild recursiveCTE ON recursiveCTE.childListId = Plist.parentListId )
    SELECT * FROM FindAllChild WHERE id <> childListId""",
    """CREATE VIEW PlaylistPath AS WITH RECURSIVE Heirarchy AS (
        SELECT id AS child, parentListId AS parent, title AS name, 1 AS depth FROM Playlist
        UNION ALL
        SELECT child, parentListId AS parent, title AS name, h.depth + 1 AS depth FROM Playlist c
        JOIN Heirarchy h ON h.parent = c.id
        ORDER BY depth DESC ),
    OrderedList AS (
        SELECT id , nextListId, 1 AS position FROM Playlist WHERE nextListId = 0
        UNION ALL
        SELECT c.id , c.nextListId , l.position + 1 FROM Playlist c
        INNER JOIN OrderedList l ON c.nextListId = l.id ),
    NameConcat AS (
        SELECT child AS id, GROUP_CONCAT(name ,';') || ';' AS path
        FROM ( SELECT child, name FROM Heirarchy ORDER BY depth DESC )
        GROUP BY child )
    SELECT id, path, ROW_NUMBER() OVER (
        ORDER BY (SELECT COUNT(*) FROM (SELECT * FROM Heirarchy WHERE child = id) ) DESC,
        (SELECT position FROM OrderedList ol WHERE ol.id = c.id) ASC ) AS position
    FROM Playlist c LEFT JOIN NameConcat g USING (id)""",
)

_TRIGGERS = (
    """CREATE TRIGGER trigger_after_insert_Pack_timestamp AFTER INSERT ON Pack FOR EACH ROW
        WHEN NEW.lastPackTime IS NULL BEGIN
        UPDATE Pack SET lastPackTime = strftime('%s') WHERE ROWID = NEW.ROWID; END""",
    """CREATE TRIGGER trigger_after_insert_Pack_changeLogId AFTER INSERT ON Pack FOR EACH ROW
        WHEN NEW.changeLogId = 0 BEGIN
        UPDATE Pack SET changeLogId = 1 WHERE ROWID = NEW.ROWID; END""",
    """CREATE TRIGGER trigger_after_insert_Track_check_id AFTER INSERT ON Track
        WHEN NEW.id <= (SELECT seq FROM sqlite_sequence WHERE name = 'Track') BEGIN
        SELECT RAISE(ABORT, 'Recycling deleted track id''s are not allowed'); END""",
    """CREATE TRIGGER trigger_after_update_Track_check_Id BEFORE UPDATE ON Track
        WHEN NEW.id <> OLD.id BEGIN
        SELECT RAISE(ABORT, 'Changing track id''s are not allowed'); END""",
    """CREATE TRIGGER trigger_after_insert_Track_fix_origin AFTER INSERT ON Track
        WHEN IFNULL(NEW.originTrackId, 0) = 0 OR IFNULL(NEW.originDatabaseUuid, '') = '' BEGIN
        UPDATE Track SET originTrackId = NEW.id, originDatabaseUuid = (SELECT uuid FROM Information)
        WHERE track.id = NEW.id; END""",
    """CREATE TRIGGER trigger_after_update_Track_fix_origin AFTER UPDATE ON Track
        WHEN IFNULL(NEW.originTrackId, 0) = 0 OR IFNULL(NEW.originDatabaseUuid, '') = '' BEGIN
        UPDATE Track SET originTrackId = NEW.id, originDatabaseUuid = (SELECT uuid FROM Information)
        WHERE track.id = NEW.id; END""",
    """CREATE TRIGGER trigger_after_update_only_Track_timestamp
        AFTER UPDATE OF length, bpm, year, filename, bitrate, bpmAnalyzed, albumArtId,
        title, artist, album, genre, comment, label, composer, remixer, key, rating, albumArt,
        fileType, isAnalyzed, isBeatgridLocked, explicitLyrics
        ON Track FOR EACH ROW BEGIN
        UPDATE Track SET lastEditTime = strftime('%s') WHERE ROWID=NEW.ROWID; END""",
    """CREATE TRIGGER trigger_after_insert_Track_insert_performance_data AFTER INSERT ON Track BEGIN
        INSERT INTO PerformanceData(trackId) VALUES(NEW.id); END""",
    """CREATE TRIGGER trigger_PerformanceData_after_update_Track_timestamp
        AFTER UPDATE OF trackData, isAnalyzed, overviewWaveFormData, beatData, quickCues, loops,
        activeOnLoadLoops
        ON PerformanceData FOR EACH ROW BEGIN
        UPDATE Track SET lastEditTime = strftime('%s') WHERE id = NEW.trackId; END""",
    """CREATE TRIGGER trigger_before_insert_List BEFORE INSERT ON Playlist FOR EACH ROW BEGIN
        UPDATE Playlist SET nextListId = -(1 + nextListId)
        WHERE nextListId = NEW.nextListId AND parentListId = NEW.parentListId; END""",
    """CREATE TRIGGER trigger_after_insert_List AFTER INSERT ON Playlist FOR EACH ROW BEGIN
        UPDATE Playlist SET nextListId = NEW.id
        WHERE nextListId = -(1 + NEW.nextListId) AND parentListId = NEW.parentListId; END""",
    """CREATE TRIGGER trigger_after_delete_List AFTER DELETE ON Playlist FOR EACH ROW BEGIN
        UPDATE Playlist SET nextListId = OLD.nextListId WHERE nextListId = OLD.id;
        DELETE FROM Playlist WHERE parentListId = OLD.id; END""",
    """CREATE TRIGGER trigger_after_update_isPersistParent AFTER UPDATE ON Playlist
        WHEN (old.isPersisted = 0 AND new.isPersisted = 1)
        OR (old.parentListId != new.parentListId AND new.isPersisted = 1) BEGIN
        UPDATE Playlist SET isPersisted = 1
        WHERE id IN (SELECT parentListId FROM PlaylistAllParent WHERE id=new.id); END""",
    """CREATE TRIGGER trigger_after_update_isPersistChild AFTER UPDATE ON Playlist
        WHEN old.isPersisted = 1 AND new.isPersisted = 0 BEGIN
        UPDATE Playlist SET isPersisted = 0
        WHERE id IN (SELECT childListId FROM PlaylistAllChildren WHERE id=new.id); END""",
    """CREATE TRIGGER trigger_after_insert_isPersist AFTER INSERT ON Playlist
        WHEN new.isPersisted = 1 BEGIN
        UPDATE Playlist SET isPersisted = 1
        WHERE id IN (SELECT parentListId FROM PlaylistAllParent WHERE id=new.id); END""",
    """CREATE TRIGGER trigger_before_delete_PlaylistEntity BEFORE DELETE ON PlaylistEntity
        WHEN OLD.trackId > 0 BEGIN
        UPDATE PlaylistEntity SET nextEntityId = OLD.nextEntityId
        WHERE nextEntityId = OLD.id AND listId = OLD.listId; END""",
)

_TRACK_COLUMNS = (
    "id, playOrder, length, bpm, year, path, filename, bitrate, bpmAnalyzed, albumArtId, fileBytes, title, "
    "artist, album, genre, comment, label, composer, remixer, key, rating, albumArt, timeLastPlayed, "
    "isPlayed, fileType, isAnalyzed, dateCreated, dateAdded, isAvailable, isMetadataOfPackedTrackChanged, "
    "isPerfomanceDataOfPackedTrackChanged, playedIndicator, isMetadataImported, pdbImportKey, "
    "streamingSource, uri, isBeatGridLocked, originDatabaseUuid, originTrackId, streamingFlags, "
    "explicitLyrics, lastEditTime"
)


def schema_statements(version: str = DEFAULT_SCHEMA) -> tuple[list[str], list[str]]:
    """(tables, then indexes, views and triggers) of Engine's database at schema ``version``."""
    if version not in SCHEMAS:
        raise ExchangeError(f"unknown Engine DJ schema {version!r} (one of {', '.join(SCHEMAS)})")
    extra = ", albumArtSourceHash CHAR(40)" if version >= "3.0.2" else ""
    tables = [sql.replace("{extra_track_columns}", extra) for sql in _TABLES]
    return tables, [*_INDEXES, *_VIEWS, *_TRIGGERS]


# -- performance data blobs ------------------------------------------------------------------------------


def compress(raw: bytes) -> bytes:
    """Engine's compressed blob: the uncompressed length (big-endian uint32), then zlib data.

    The blobs are a few hundred bytes: they go in one *stored* deflate block (a valid zlib stream that
    every inflater reads), which costs a checksum instead of a compressor's set-up per blob."""
    size = len(raw)
    if size >= 0xFFFF:
        return struct.pack(">I", size) + zlib.compress(raw, 6)
    return (
        struct.pack(">I", size)
        + b"\x78\x01\x01"
        + struct.pack("<HH", size, size ^ 0xFFFF)
        + raw
        + struct.pack(">I", zlib.adler32(raw))
    )


def uncompress(blob: bytes) -> bytes:
    """The bytes of a compressed blob (raises ValueError when the stated length is wrong)."""
    (length,) = struct.unpack(">I", blob[:4])
    raw = zlib.decompress(blob[4:]) if length else b""
    if len(raw) != length:
        raise ValueError(f"the blob says {length} bytes but holds {len(raw)}")
    return raw


def track_data_blob(sample_rate: float, samples: int, key: int) -> bytes:
    """Sample rate, length in samples, key (Engine's number) and three loudness values (unknown: 0)."""
    return compress(struct.pack(">dqiddd", sample_rate, samples, key, 0.0, 0.0, 0.0))


def beat_markers(
    first_beat: float, bpm: float, first_downbeat: float | None, seconds: float, sample_rate: float
) -> list[tuple[float, int]]:
    """(sample offset, beat number) of a constant grid as Engine keeps one: a marker four beats before
    the first downbeat (beat -4) and one past the end of the track; beat 0 is a downbeat."""
    period = 60.0 / bpm
    start, beat_in_bar = grid_start(first_beat, bpm, first_downbeat)
    downbeat = start - (beat_in_bar - 1) * period  # at or before the first beat
    last = max(1, math.floor((seconds - downbeat) / period) + 1)
    return [((downbeat - 4 * period) * sample_rate, -4), ((downbeat + last * period) * sample_rate, last)]


def beat_data_blob(sample_rate: float, samples: int, markers: list[tuple[float, int]]) -> bytes:
    """The grid twice (Engine's analysed and adjusted grids), then the 9 zero bytes real files end with."""
    grid = struct.pack(">q", len(markers))
    for index, (offset, beat) in enumerate(markers):
        beats_to_next = markers[index + 1][1] - beat if index + 1 < len(markers) else 0
        grid += struct.pack("<dqii", offset, beat, beats_to_next, 0)
    head = struct.pack(">ddB", sample_rate, float(samples), 1 if markers else 0)
    return compress(head + grid + grid + bytes(9))


def _label(name: str) -> bytes:
    data = name.encode("utf-8")[:255]
    while data:  # never cut a character in half
        try:
            data.decode("utf-8")
            break
        except UnicodeDecodeError:
            data = data[:-1]
    return bytes([len(data)]) + data


def _argb(color: int | None, default: int) -> bytes:
    rgb = default if color is None else color & 0xFFFFFF
    return bytes((255, (rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255))


HOT_CUE_COLOR = 0xFF0000  # Engine's first pad colour, for cues that have none
LOOP_COLOR = 0x50B4FF


def quick_cues_blob(
    hot: list[ExchangeCue | None], main_cue: float, sample_rate: float, shift: float
) -> bytes:
    """Eight hot-cue pads (empty ones at sample -1) and the main cue, in samples."""
    parts = [struct.pack(">q", PADS)]
    for cue in hot[:PADS] + [None] * (PADS - len(hot)):
        if cue is None:
            parts.append(b"\x00" + struct.pack(">d", -1.0) + bytes(4))
        else:
            offset = (cue.start + shift) * sample_rate
            parts.append(_label(cue.name) + struct.pack(">d", offset) + _argb(cue.color, HOT_CUE_COLOR))
    main = main_cue * sample_rate
    parts.append(struct.pack(">dBd", main, 1, main))
    return compress(b"".join(parts))


def loops_blob(loops: list[ExchangeCue | None], sample_rate: float, shift: float) -> bytes:
    """Eight loop pads, little-endian and not compressed (as Engine keeps them)."""
    parts = [struct.pack("<q", PADS)]
    for loop in loops[:PADS] + [None] * (PADS - len(loops)):
        if loop is None or loop.end is None:
            parts.append(b"\x00" + struct.pack("<ddBB", -1.0, -1.0, 0, 0) + bytes(4))
        else:
            start, end = (loop.start + shift) * sample_rate, (loop.end + shift) * sample_rate
            parts.append(
                _label(loop.name) + struct.pack("<ddBB", start, end, 1, 1) + _argb(loop.color, LOOP_COLOR)
            )
    return b"".join(parts)


def pads(cues: Iterable[ExchangeCue], kind: str) -> list[ExchangeCue | None]:
    """The cues of ``kind`` on Engine's 8 pads: numbered ones on their pad, the others on free pads."""
    slots: list[ExchangeCue | None] = [None] * PADS
    loose = []
    for cue in cues:
        if cue.kind != kind:
            continue
        if cue.number is not None and 0 <= cue.number < PADS and slots[cue.number] is None:
            slots[cue.number] = cue
        else:
            loose.append(cue)
    for cue in loose:
        if None not in slots:
            break
        slots[slots.index(None)] = cue
    return slots


# -- paths -----------------------------------------------------------------------------------------------


def relative_path(library: TargetPath, track: TargetPath) -> str:
    """``track`` relative to the Engine Library folder (``../Music/a.mp3``); raises Unexpressible for a
    track on another Windows drive."""
    return relative_folder(library, TargetPath(track.drive, track.parts[:-1])) + track.parts[-1]


def relative_folder(library: TargetPath, folder: TargetPath) -> str:
    """``folder`` relative to the Engine Library folder, ending with ``/`` (``""`` for the library
    itself); raises Unexpressible for a folder on another Windows drive."""
    windows = library.is_windows or folder.is_windows
    if windows and library.drive.upper() != folder.drive.upper():
        where = folder.drive or "a drive without a letter"
        raise Unexpressible(f"it is on {where}, another drive than the Engine Library ({library.drive})")

    def same(a: str, b: str) -> bool:
        return a.casefold() == b.casefold() if windows else a == b

    common = 0
    for a, b in zip(library.parts, folder.parts, strict=False):
        if not same(a, b):
            break
        common += 1
    return "".join(f"{p}/" for p in [".."] * (len(library.parts) - common) + list(folder.parts[common:]))


def library_target(folder: Path, mapper: PathMapper) -> TargetPath:
    """The Engine Library folder as the target machine sees it (``--map`` applies to it too)."""
    local = str(folder.resolve())
    try:
        return mapper.map(local)
    except Unexpressible:
        return parse_path(local)


# -- writing ---------------------------------------------------------------------------------------------


def engine_running() -> bool:
    """Whether Engine DJ (or Engine Prime) runs on this computer."""
    return program_running(("engine dj", "enginedj", "engine prime", "engineprime"))


def library_folder(dest: Path) -> Path:
    dest = Path(dest)
    return dest if dest.name == LIBRARY_FOLDER else dest / LIBRARY_FOLDER


def write(
    dest: Path,
    source: ExportSource,
    mapper: PathMapper,
    *,
    schema: str = DEFAULT_SCHEMA,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    check_running: Callable[[], bool] = engine_running,
) -> ExportReport:
    """Write ``source`` as an Engine Library in ``dest`` (a drive's root, any folder, or an ``Engine
    Library`` folder): ``Engine Library/Database2/m.db``."""
    tables, after = schema_statements(schema)
    if check_running():
        raise ExchangeError("Engine DJ is running: close it first (it keeps its database open)")
    folder = library_folder(dest)
    database = folder.joinpath(*DATABASE)
    report = ExportReport(TARGET, str(database))
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExchangeError(f"cannot write to {database.parent}: {exc.strerror or exc}") from exc
    library = library_target(folder, mapper)
    temp = database.with_name(f".{database.name}.{os.getpid()}.part")
    temp.unlink(missing_ok=True)
    try:
        _build(temp, tables, after, schema, source, mapper, library, report, progress, should_stop)
        _replace(temp, database)
    except sqlite3.Error as exc:
        raise ExchangeError(f"cannot write {database}: {exc}") from exc
    except OSError as exc:
        raise ExchangeError(f"cannot write {database}: {exc.strerror or exc}") from exc
    finally:
        temp.unlink(missing_ok=True)
    report.files.append(str(database))
    return report.finish()


def _replace(temp: Path, database: Path) -> None:
    """Rename ``temp`` over ``database``, keeping a database that was there under another name."""
    if database.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kept = database.with_name(f"{database.name}.before-crate-{stamp}")
        os.replace(database, kept)
    os.replace(temp, database)


def _build(
    path: Path, tables: list[str], after: list[str], schema: str, source: ExportSource, mapper: PathMapper,
    library: TargetPath, report: ExportReport, progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
) -> None:  # fmt: skip
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-65536")  # Track's unique path index takes a million random inserts
        db.execute("BEGIN")
        for sql in tables:
            db.execute(sql)
        database_uuid = str(uuid.uuid4())
        major, minor, patch = (int(p) for p in schema.split("."))
        played = int.from_bytes(os.urandom(8), "big", signed=True)
        db.execute(
            "INSERT INTO Information (id, uuid, schemaVersionMajor, schemaVersionMinor, schemaVersionPatch, "
            "currentPlayedIndiciator, lastRekordBoxLibraryImportReadCounter) VALUES (1, ?, ?, ?, ?, ?, NULL)",
            (database_uuid, major, minor, patch, played),
        )
        exported = _write_tracks(db, source, mapper, library, database_uuid, schema, report, progress,
                                 should_stop)  # fmt: skip
        _write_playlists(db, source, exported, database_uuid, report)
        for sql in after:
            db.execute(sql)
        db.execute("COMMIT")
        db.execute("PRAGMA journal_mode=DELETE")
    finally:
        db.close()
    with open(path, "rb+") as stream:
        os.fsync(stream.fileno())


def _write_tracks(
    db: sqlite3.Connection, source: ExportSource, mapper: PathMapper, library: TargetPath, database_uuid: str,
    schema: str, report: ExportReport, progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
) -> IdSet:  # fmt: skip
    columns = _TRACK_COLUMNS + (", albumArtSourceHash" if schema >= "3.0.2" else "")
    marks = ", ".join("?" * (columns.count(",") + 1))
    # Engine's UNIQUE(path) finds two tracks that end up at one path (NFC/NFD twins, a --map that joins
    # folders): the second is left out and reported, without a set of a million paths in memory.
    insert_track = f"INSERT OR IGNORE INTO Track ({columns}) VALUES ({marks})"
    insert_data = (
        "INSERT INTO PerformanceData (trackId, trackData, overviewWaveFormData, beatData, quickCues, loops, "
        "thirdPartySourceId, activeOnLoadLoops) VALUES (?, ?, NULL, ?, ?, ?, NULL, 0)"
    )
    meter = ProgressMeter(source.track_count(), progress)
    exported = IdSet()
    now = int(time.time())
    batch: list[tuple[str, tuple[object, ...], tuple[object, ...]]] = []

    def flush() -> None:
        before = db.total_changes
        db.executemany(insert_track, (row for _, row, _ in batch))
        written = {row[0] for _, row, _ in batch}
        if db.total_changes - before < len(batch):
            ids = [row[0] for _, row, _ in batch]
            found = db.execute(f"SELECT id FROM Track WHERE id IN ({','.join('?' * len(ids))})", ids)
            written = {track_id for (track_id,) in found}
        for path, row, _ in batch:
            if row[0] in written:
                exported.add(row[0])  # type: ignore[arg-type]
            else:
                report.skipped.append((path, f"another track has the same path in Engine ({row[5]})"))
        db.executemany(insert_data, (data for _, row, data in batch if row[0] in written))
        report.tracks += len(written)
        batch.clear()

    folders: dict[TargetPath, str | Unexpressible] = {}
    for track in source.iter_tracks():
        try:
            folder, name = mapper.map_split(track.path)
            prefix = folders.get(folder)
            if prefix is None:
                if len(folders) > 100_000:
                    folders.clear()
                try:
                    prefix = folders[folder] = relative_folder(library, folder)
                except Unexpressible as why:
                    prefix = folders[folder] = why
            if isinstance(prefix, Unexpressible):
                raise prefix
        except Unexpressible as why:
            report.skipped.append((track.path, str(why)))
            continue
        relative = prefix + name
        batch.append((track.path, *_track_rows(track, relative, database_uuid, now, schema)))
        if len(batch) >= _BATCH:
            flush()
            meter.update(report.tracks + len(report.skipped))
            if should_stop is not None and should_stop():
                raise ExchangeError("the export was cancelled; nothing was written")
    flush()
    meter.finish()
    return exported


def _track_rows(
    track: ExportTrack, relative: str, database_uuid: str, now: int, schema: str
) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """The Track row and the PerformanceData row of one track."""
    filename = relative.rsplit("/", 1)[-1]
    file_type = filename.rsplit(".", 1)[-1].lower() if "." in filename else (track.format or "").lower()
    key = None if track.key is None else engine_value(track.key)
    rate = float(track.sample_rate or DEFAULT_SAMPLE_RATE)
    seconds = track.duration or 0.0
    samples = round(seconds * rate)
    shift = track.time_offset
    analysed = bool(track.bpm and track.first_beat is not None and samples)
    added = int(track.date_added) if track.date_added else now
    row: tuple[object, ...] = (
        track.id, track.track_no, int(seconds), round(track.bpm) if track.bpm else None, track.year,
        relative, filename, track.bitrate, track.bpm, None, track.size or None, track.title, track.artist,
        track.album, track.genre, track.comment, track.label, None, None, key, 0, None, None,
        0, file_type, int(analysed), added, added, 1, 0,
        0, None, 1, 0,
        None, None, int(analysed), database_uuid, track.id, 0,
        0, now,
    )  # fmt: skip
    if schema >= "3.0.2":
        row += (None,)
    track_data = track_data_blob(rate, samples, key or 0) if samples else None
    beat_data = None
    if analysed:
        first_downbeat = None if track.first_downbeat is None else track.first_downbeat + shift
        markers = beat_markers(track.first_beat + shift, track.bpm, first_downbeat, seconds, rate)  # type: ignore[arg-type,operator]
        beat_data = beat_data_blob(rate, samples, markers)
    quick = loops = None
    if track.cues:
        memory = [c.start for c in track.cues if c.kind == "memory"]
        main = (min(memory) + shift) if memory else 0.0
        quick = quick_cues_blob(pads(track.cues, "hot"), main, rate, shift)
        loops = loops_blob(pads(track.cues, "loop"), rate, shift)
    return row, (track.id, track_data, beat_data, quick, loops)


def _write_playlists(
    db: sqlite3.Connection, source: ExportSource, exported: IdSet, database_uuid: str, report: ExportReport
) -> None:
    """Folders and crates as Engine playlists: siblings and entries as linked lists, in Crate's order."""
    next_list = 1
    next_entity = 1
    now = int(time.time())
    lists: list[tuple[object, ...]] = []

    def place(nodes: list[PlaylistNode], parent: int) -> None:
        nonlocal next_list, next_entity
        ids = list(range(next_list, next_list + len(nodes)))
        next_list += len(nodes)
        titles: set[str] = set()
        for index, (node, list_id) in enumerate(zip(nodes, ids, strict=True)):
            title = _unique_title(node.name, titles)
            following = ids[index + 1] if index + 1 < len(ids) else 0
            lists.append((list_id, title, parent, 1, following, now, 1))
            if node.is_folder:
                place(node.children, list_id)
                continue
            members = [i for i in dict.fromkeys(source.entries(node)) if i in exported]
            first = next_entity
            next_entity += len(members)
            db.executemany(
                "INSERT INTO PlaylistEntity (id, listId, trackId, databaseUuid, nextEntityId, "
                "membershipReference) VALUES (?, ?, ?, ?, ?, 0)",
                (
                    (
                        first + n,
                        list_id,
                        track_id,
                        database_uuid,
                        first + n + 1 if n + 1 < len(members) else 0,
                    )
                    for n, track_id in enumerate(members)
                ),
            )
            report.playlists += 1

    place(source.playlists(), 0)
    db.executemany(
        "INSERT INTO Playlist (id, title, parentListId, isPersisted, nextListId, lastEditTime, "
        "isExplicitlyExported) VALUES (?, ?, ?, ?, ?, ?, ?)",
        lists,
    )


def _unique_title(name: str, taken: set[str]) -> str:
    """A playlist title Engine accepts: ``;`` separates names in its paths, and siblings differ."""
    base = name.replace(";", ",").strip() or "Untitled"
    title, number = base, 2
    while title in taken:
        title = f"{base} ({number})"
        number += 1
    taken.add(title)
    return title
