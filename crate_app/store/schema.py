"""The library's tables (peewee models) and the migrations that build and upgrade them.

Every schema change is a new entry appended to ``MIGRATIONS``; a library made by an older Crate is
upgraded in place (after a backup copy) when a newer Crate opens it.  Never edit a published
migration.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee as pw

# Columns the track table can be sorted by, with the SQL expression each sort uses.  Text columns are
# NOT NULL ('' when unknown) and declared COLLATE NOCASE so that they sort case-insensitively; numeric
# columns may be NULL and sort as COALESCE(col, -1), so that keyset paging never compares with NULL.
# Each has an index (expr, id); path is unique and sorts by its own unique index.
# Each index costs on every write, so only the columns the table shows are sortable.
TEXT_SORT_COLUMNS = ("artist", "title", "album", "albumartist", "genre", "label", "format", "path")
NUMERIC_SORT_COLUMNS = ("bpm", "key", "duration", "year", "bitrate", "date_added", "track_no", "rating")
SORTABLE_COLUMNS = (*TEXT_SORT_COLUMNS, *NUMERIC_SORT_COLUMNS)


def sort_expression(column: str) -> str:
    """The SQL expression the track table sorts ``column`` by (matches an index)."""
    if column in TEXT_SORT_COLUMNS:
        return column
    if column in NUMERIC_SORT_COLUMNS:
        return f"COALESCE({column}, -1)"
    if column == "id":
        return "id"
    raise ValueError(f"cannot sort by {column!r}")


class BaseModel(pw.Model):
    """Models describe the tables; each Library binds them to its own database (several may be open)."""

    class Meta:
        legacy_table_names = False


class Track(BaseModel):
    path = pw.TextField(unique=True)
    folder = pw.TextField(default="")
    filename = pw.TextField(default="")
    size = pw.IntegerField(default=0)
    mtime = pw.FloatField(default=0.0)
    format = pw.TextField(default="", collation="NOCASE")
    codec = pw.TextField(default="")
    duration = pw.FloatField(null=True)
    bitrate = pw.IntegerField(null=True)
    sample_rate = pw.IntegerField(null=True)
    channels = pw.IntegerField(null=True)
    title = pw.TextField(default="", collation="NOCASE")
    artist = pw.TextField(default="", collation="NOCASE")
    album = pw.TextField(default="", collation="NOCASE")
    albumartist = pw.TextField(default="", collation="NOCASE")
    genre = pw.TextField(default="", collation="NOCASE")
    year = pw.IntegerField(null=True)
    track_no = pw.IntegerField(null=True)
    disc_no = pw.IntegerField(null=True)
    comment = pw.TextField(default="")
    label = pw.TextField(default="", collation="NOCASE")
    bpm = pw.FloatField(null=True)
    key = pw.IntegerField(null=True)
    bpm_confidence = pw.FloatField(null=True)
    key_confidence = pw.FloatField(null=True)
    # Beat grid (migration 4): seconds from the start of the file; bpm + first_beat place every beat.
    first_beat = pw.FloatField(null=True)
    first_downbeat = pw.FloatField(null=True)
    bpm_alt = pw.FloatField(null=True)  # the runner-up tempo octave (x2 or /2) ...
    bpm_alt_confidence = pw.FloatField(null=True)  # ... and how likely it is (0..1)
    bpm_variable = pw.BooleanField(null=True)  # the tempo drifts or changes: no constant grid fits
    analyzed_at = pw.FloatField(null=True)
    analysis_error = pw.TextField(null=True)
    date_added = pw.FloatField(default=0.0)
    last_scanned = pw.FloatField(default=0.0)
    status = pw.TextField(default="ok")
    error = pw.TextField(null=True)

    class Meta:
        table_name = "tracks"


class LibraryRoot(BaseModel):
    path = pw.TextField(unique=True)
    added_at = pw.FloatField()
    last_scan_at = pw.FloatField(null=True)

    class Meta:
        table_name = "library_roots"


class ScanError(BaseModel):
    """Problems that are not tied to one track row: unreadable folders, permission errors."""

    path = pw.TextField(unique=True)
    reason = pw.TextField()
    at = pw.FloatField()

    class Meta:
        table_name = "scan_errors"


class SchemaVersion(BaseModel):
    version = pw.IntegerField()

    class Meta:
        table_name = "schema_version"


# The text fields the search box matches; kept in sync with tracks by triggers.
FTS_COLUMNS = ("title", "artist", "album", "albumartist", "genre", "label", "comment", "filename")


# The sortable columns as migration 1 indexed them (later migrations index the columns they add).
_MIGRATION_1_SORT_COLUMNS = (
    *TEXT_SORT_COLUMNS, "bpm", "key", "duration", "year", "bitrate", "date_added", "track_no"
)  # fmt: skip


def _migration_1(db: pw.Database) -> None:
    db.create_tables([Track, LibraryRoot, ScanError])
    for column in _MIGRATION_1_SORT_COLUMNS:
        if column == "path":
            continue
        db.execute_sql(f"CREATE INDEX idx_tracks_sort_{column} ON tracks ({sort_expression(column)}, id)")
    db.execute_sql("CREATE INDEX idx_tracks_status ON tracks (status)")
    columns = ", ".join(FTS_COLUMNS)
    db.execute_sql(
        f"CREATE VIRTUAL TABLE tracks_fts USING fts5({columns}, content='tracks', content_rowid='id', "
        "prefix='1 2 3', tokenize='unicode61 remove_diacritics 2')"
    )
    new_values = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
    old_values = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
    db.execute_sql(
        f"CREATE TRIGGER tracks_fts_insert AFTER INSERT ON tracks BEGIN "
        f"INSERT INTO tracks_fts(rowid, {columns}) VALUES (new.id, {new_values}); END"
    )
    db.execute_sql(
        f"CREATE TRIGGER tracks_fts_delete AFTER DELETE ON tracks BEGIN "
        f"INSERT INTO tracks_fts(tracks_fts, rowid, {columns}) VALUES ('delete', old.id, {old_values}); END"
    )
    # Only when a searchable column changes: analysis results and status updates leave the index alone.
    db.execute_sql(
        f"CREATE TRIGGER tracks_fts_update AFTER UPDATE OF {columns} ON tracks BEGIN "
        f"INSERT INTO tracks_fts(tracks_fts, rowid, {columns}) VALUES ('delete', old.id, {old_values}); "
        f"INSERT INTO tracks_fts(rowid, {columns}) VALUES (new.id, {new_values}); END"
    )


class RenameBatch(BaseModel):
    """A batch rename/move and its state; its steps are the checkpoint journal."""

    created_at = pw.FloatField()
    kind = pw.TextField(default="rename")  # rename | undo
    undo_of = pw.IntegerField(null=True)  # for kind=undo: the batch being reversed
    description = pw.TextField(default="")  # template and destination, for people
    options = pw.TextField(default="{}")  # JSON
    status = pw.TextField(default="pending")  # pending running paused cancelled done undone
    finished_at = pw.FloatField(null=True)

    class Meta:
        table_name = "rename_batches"


class RenameStepRow(BaseModel):
    batch = pw.ForeignKeyField(RenameBatch, backref="steps", on_delete="CASCADE", column_name="batch_id")
    seq = pw.IntegerField()
    track_id = pw.IntegerField(null=True)
    kind = pw.TextField(default="move")  # move | sidecar
    src = pw.TextField()
    dst = pw.TextField()
    temporary = pw.BooleanField(default=False)
    # Identity of the file this step moves, recorded before the batch starts, so that a resume can
    # tell "already moved" from "not yet moved" from "changed by someone else".
    file_size = pw.IntegerField(null=True)
    file_ino = pw.IntegerField(null=True)
    file_mtime_ns = pw.IntegerField(null=True)
    status = pw.TextField(default="pending")  # pending done failed
    error = pw.TextField(null=True)

    class Meta:
        table_name = "rename_steps"
        indexes = ((("batch", "seq"), True),)


def _migration_2(db: pw.Database) -> None:
    db.create_tables([RenameBatch, RenameStepRow])
    db.execute_sql("CREATE INDEX idx_rename_steps_pending ON rename_steps (batch_id, status, seq)")


def _migration_3(db: pw.Database) -> None:
    # Bulk writers (the scanner) index the tracks they insert with one set-based FTS insert per batch
    # (writer.upsert_rows): an FTS5 insert run by a trigger, once per row, costs twice as much CPU.
    # While fts_deferred holds a row (inside that writer's transaction only) the insert trigger waits.
    columns = ", ".join(FTS_COLUMNS)
    new_values = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
    db.execute_sql("CREATE TABLE fts_deferred (flag INTEGER NOT NULL)")
    db.execute_sql("DROP TRIGGER tracks_fts_insert")
    db.execute_sql(
        f"CREATE TRIGGER tracks_fts_insert AFTER INSERT ON tracks "
        f"WHEN NOT EXISTS (SELECT 1 FROM fts_deferred) BEGIN "
        f"INSERT INTO tracks_fts(rowid, {columns}) VALUES (new.id, {new_values}); END"
    )


# Columns added by migration 4 (libraries created since have them from migration 1's model).
_BEAT_GRID_COLUMNS = (
    ("first_beat", "REAL"),
    ("first_downbeat", "REAL"),
    ("bpm_alt", "REAL"),
    ("bpm_alt_confidence", "REAL"),
    ("bpm_variable", "INTEGER"),
)


def _migration_4(db: pw.Database) -> None:
    # The beat grid and the tempo's runner-up octave from analysis.  Migration 1 creates the tracks
    # table from the current model, so a new library already has these columns.
    present = {row[1] for row in db.execute_sql("PRAGMA table_info(tracks)").fetchall()}
    for name, sql_type in _BEAT_GRID_COLUMNS:
        if name not in present:
            db.execute_sql(f"ALTER TABLE tracks ADD COLUMN {name} {sql_type}")


def _migration_5(db: pw.Database) -> None:
    # Library hygiene (issue 15).  track_hashes: per track, what identifies its audio whatever its tags:
    # a hash of the audio payload and a Chromaprint fingerprint, each valid for the file's size and
    # mtime when it was made (a changed file is hashed again).  fingerprint_keys: a few locality-
    # sensitive keys per fingerprint (min-hashes of its values), so that "same recording" is found by
    # equal keys, never by comparing all pairs.  dedupe_actions and dedupe_removed: the journal that
    # makes every duplicate removal reversible (the removed rows, crate entries and file moves).
    # IF NOT EXISTS: a test may rewind schema_version to an older number and open the library again.
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS track_hashes ("
        " track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,"
        " size INTEGER NOT NULL,"
        " mtime REAL NOT NULL,"
        " audio_hash TEXT,"
        " fingerprint BLOB,"
        " fingerprint_seconds REAL,"
        " error TEXT)"
    )
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS idx_track_hashes_audio ON track_hashes (audio_hash) "
        "WHERE audio_hash IS NOT NULL"
    )
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS fingerprint_keys ("
        " key INTEGER NOT NULL,"
        " track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,"
        " PRIMARY KEY (key, track_id)) WITHOUT ROWID"
    )
    db.execute_sql("CREATE INDEX IF NOT EXISTS idx_fingerprint_keys_track ON fingerprint_keys (track_id)")
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS dedupe_actions ("
        " id INTEGER PRIMARY KEY,"
        " created_at REAL NOT NULL,"
        " kind TEXT NOT NULL,"  # remove | move | trash
        " description TEXT NOT NULL DEFAULT '',"
        " undone_at REAL)"
    )
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS dedupe_removed ("
        " action_id INTEGER NOT NULL REFERENCES dedupe_actions(id) ON DELETE CASCADE,"
        " track_id INTEGER NOT NULL,"
        " kept_id INTEGER NOT NULL,"
        " row TEXT NOT NULL,"  # JSON: the track's row as it was
        " extra TEXT NOT NULL,"  # JSON: hashes, crate entries, the kept track's values before
        " file_from TEXT,"
        " file_to TEXT,"  # where the file went (a folder, the trash), or NULL when it stayed
        " PRIMARY KEY (action_id, track_id))"
    )


def _migration_exchange(db: pw.Database) -> None:
    # What another DJ program said about a track (issue 12: "from rekordbox"), kept beside Crate's own
    # analysis: BPM, key code, first beat (Crate's timeline) and cues as JSON.  One row per track and source.
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS imported_analysis ("
        "track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE, source TEXT NOT NULL, "
        "bpm REAL, key INTEGER, first_beat REAL, cues TEXT, imported_at REAL NOT NULL, "
        "PRIMARY KEY (track_id, source)) WITHOUT ROWID"
    )


def _migration_player(db: pw.Database) -> None:
    # Rating (0-5 stars, NULL = unrated) and colour (a name from domain.colors, '' = none) live in the
    # library.  A *_locked flag marks a value the user corrected: re-analysis keeps it and stores its
    # own finding beside it (analysis_bpm, analysis_key).  Idempotent (tests re-run migrations).
    present = {row[1] for row in db.execute_sql("PRAGMA table_info(tracks)").fetchall()}
    for column in (
        "rating INTEGER",
        "color TEXT NOT NULL DEFAULT '' COLLATE NOCASE",
        "bpm_locked INTEGER NOT NULL DEFAULT 0",
        "key_locked INTEGER NOT NULL DEFAULT 0",
        "first_beat_locked INTEGER NOT NULL DEFAULT 0",
        "analysis_bpm REAL",
        "analysis_key INTEGER",
        "analysis_first_beat REAL",
        "analysis_first_downbeat REAL",
    ):
        if column.split()[0] not in present:
            db.execute_sql(f"ALTER TABLE tracks ADD COLUMN {column}")
    db.execute_sql(
        f"CREATE INDEX IF NOT EXISTS idx_tracks_sort_rating ON tracks ({sort_expression('rating')}, id)"
    )
    db.execute_sql("CREATE INDEX IF NOT EXISTS idx_tracks_color ON tracks (color, id) WHERE color != ''")
    # Cue points and loops (domain.cues.CuePoint), several per track.
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS cues (id INTEGER PRIMARY KEY, "
        "track_id INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE, "
        "kind TEXT NOT NULL CHECK (kind IN ('hot', 'memory', 'loop')), number INTEGER, "
        "start REAL NOT NULL, \"end\" REAL, name TEXT NOT NULL DEFAULT '', color TEXT)"
    )
    db.execute_sql("CREATE INDEX IF NOT EXISTS idx_cues_track ON cues (track_id, start)")
    # The overview waveform (analysis.waveform, 1.3 KB) in a side table keyed by the track id, so that
    # the tracks table's rows stay small for the table's paging and searches (measured at 200K tracks: a
    # full scan of tracks 4x faster than with the blob as a column; three blobs per 4 KB page).
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS waveforms ("
        "track_id INTEGER PRIMARY KEY REFERENCES tracks (id) ON DELETE CASCADE, data BLOB NOT NULL)"
    )


def _migration_crates(db: pw.Database) -> None:
    # Crates (issue 11).  One tree of folders, crates and smart crates; sibling names are unique case-
    # insensitively (name_key = the name case folded) and sibling positions are 0..n-1.  path and
    # path_key (the escaped path from the top, and it case folded) are kept up to date by
    # crate_app.crates on every rename and move, so that a path is one indexed lookup.  (IF NOT EXISTS:
    # a library whose version row was lost still upgrades.)
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS crate_nodes ("
        " id INTEGER PRIMARY KEY,"
        " parent_id INTEGER REFERENCES crate_nodes(id) ON DELETE CASCADE,"
        " name TEXT NOT NULL,"
        " name_key TEXT NOT NULL,"
        " kind TEXT NOT NULL CHECK (kind IN ('folder', 'crate', 'smart')),"
        " position INTEGER NOT NULL,"
        " color TEXT,"
        " note TEXT NOT NULL DEFAULT '',"
        " query TEXT,"
        " sort TEXT,"
        " descending INTEGER NOT NULL DEFAULT 0,"
        " row_limit INTEGER,"
        " track_count INTEGER NOT NULL DEFAULT 0,"
        " path TEXT NOT NULL,"
        " path_key TEXT NOT NULL UNIQUE,"
        " created_at REAL NOT NULL,"
        " modified_at REAL NOT NULL)"
    )
    db.execute_sql(
        "CREATE UNIQUE INDEX IF NOT EXISTS idx_crate_nodes_name "
        "ON crate_nodes (IFNULL(parent_id, 0), name_key)"
    )
    db.execute_sql(
        "CREATE UNIQUE INDEX IF NOT EXISTS idx_crate_nodes_position "
        "ON crate_nodes (IFNULL(parent_id, 0), position)"
    )
    db.execute_sql("CREATE INDEX IF NOT EXISTS idx_crate_nodes_parent ON crate_nodes (parent_id)")
    # Entries: a crate's tracks in order, positions 0..n-1 (so row r of a crate in its own order is
    # one seek), each track at most once.  Membership follows the track's id, never its path.  Tracks
    # are not deleted while in a crate (no cascade: the foreign key refuses it).
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS crate_entries ("
        " crate_id INTEGER NOT NULL REFERENCES crate_nodes(id) ON DELETE CASCADE,"
        " track_id INTEGER NOT NULL REFERENCES tracks(id),"
        " position INTEGER NOT NULL,"
        " added_at REAL NOT NULL,"
        " PRIMARY KEY (crate_id, position)) WITHOUT ROWID"
    )
    db.execute_sql(
        "CREATE UNIQUE INDEX IF NOT EXISTS idx_crate_entries_track ON crate_entries (crate_id, track_id)"
    )
    db.execute_sql("CREATE INDEX IF NOT EXISTS idx_crate_entries_by_track ON crate_entries (track_id)")


def _migration_tag_keys(db: pw.Database) -> None:
    # Duplicates by tags (issue 15): each track's normalised "artist <US> title", made in Python by
    # crate_app.hygiene.duplicates (case, accents, punctuation, "(Original Mix)" folded) and kept here so
    # that finding duplicates over a million tracks is one index scan.  A row is made when missing and
    # dropped by the trigger when the artist or title changes (made again on the next search).
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS track_tag_keys ("
        " track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,"
        " key TEXT NOT NULL)"
    )
    db.execute_sql("CREATE INDEX IF NOT EXISTS idx_track_tag_keys ON track_tag_keys (key, track_id)")
    db.execute_sql(
        "CREATE TRIGGER IF NOT EXISTS track_tag_keys_stale AFTER UPDATE OF artist, title ON tracks "
        "WHEN old.artist IS NOT new.artist OR old.title IS NOT new.title "
        "BEGIN DELETE FROM track_tag_keys WHERE track_id = old.id; END"
    )


def _migration_crate_entries_by_track(db: pw.Database) -> None:
    # Crate entries had two indexes on track ids: (crate_id, track_id), unique, and (track_id) for
    # "Show in crates".  One unique index on (track_id, crate_id) serves both, and adding 100,000 tracks
    # to a crate updates one randomly placed b-tree instead of two (0.57 s of CPU instead of 1.0 s).
    db.execute_sql(
        "CREATE UNIQUE INDEX IF NOT EXISTS idx_crate_entries_track_crate "
        "ON crate_entries (track_id, crate_id)"
    )
    db.execute_sql("DROP INDEX IF EXISTS idx_crate_entries_track")
    db.execute_sql("DROP INDEX IF EXISTS idx_crate_entries_by_track")


def _migration_commit_seq(db: pw.Database) -> None:
    # One number every Crate writer bumps in each transaction that changes rows (Library.write), so that
    # a window can tell its own commits (made on its worker threads, which change its GUI connection's
    # data_version like anyone else's) from those of another process or window.
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS commit_seq (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL)"
    )
    db.execute_sql("INSERT OR IGNORE INTO commit_seq (id, seq) VALUES (1, 0)")


def _migration_names_from_file_names(db: pw.Database) -> None:
    # Tracks without a title tag take artist and title from their file name ("Artist - Title.mp3"),
    # as DJ apps show them; scans do it from now on (store.rows.scanned_row), this fills in the
    # tracks scanned before.  Stored, not only shown, so that search and sort see what the table shows.
    from crate_app.domain.track import path_from_db, with_filename_names

    rows = db.execute_sql("SELECT id, artist, filename FROM tracks WHERE title = ''").fetchall()
    updates = [
        (*with_filename_names(artist, "", path_from_db(filename)), track_id)
        for track_id, artist, filename in rows
    ]
    for artist, title, track_id in updates:
        db.execute_sql("UPDATE tracks SET artist = ?, title = ? WHERE id = ?", (artist, title, track_id))


# Not "INSERT OR IGNORE": in a trigger, the conflict policy of the statement that fired it (e.g. an
# INSERT OR REPLACE) overrides the trigger's own.
_QUEUE_NEW_ID = (
    "INSERT INTO hash_queue (track_id) SELECT new.id "
    "WHERE NOT EXISTS (SELECT 1 FROM hash_queue WHERE track_id = new.id)"
)


def _migration_hash_queue(db: pw.Database) -> None:
    # The background hash pass (issue 15) asked "which tracks still need an audio hash?" with a scan of
    # every track joined to its hash: seconds at a million tracks, after every scan and watched change.
    # hash_queue holds the tracks that may need one: new ones (queued by store.writer with the rows it
    # adds, as it does their search entries: a per-row insert trigger would cost every scan), and those
    # whose size, mtime or status changed (a trigger).  The pass looks only at these, and drops each
    # once hashed or found still valid.
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS hash_queue ("
        " track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE)"
    )
    db.execute_sql(
        "CREATE TRIGGER IF NOT EXISTS hash_queue_changed AFTER UPDATE OF size, mtime, status ON tracks "
        "WHEN old.size IS NOT new.size OR old.mtime IS NOT new.mtime OR old.status IS NOT new.status "
        f"BEGIN {_QUEUE_NEW_ID}; END"
    )
    db.execute_sql(
        "INSERT OR IGNORE INTO hash_queue (track_id) SELECT t.id FROM tracks t "
        "LEFT JOIN track_hashes h ON h.track_id = t.id WHERE h.track_id IS NULL OR h.size != t.size "
        "OR h.mtime != t.mtime OR (h.error IS NULL AND h.audio_hash IS NULL)"
    )


MODELS = (Track, LibraryRoot, ScanError, SchemaVersion, RenameBatch, RenameStepRow)

Migration = Callable[[pw.Database], None]

# (version, migration): append only.
MIGRATIONS: list[tuple[int, Migration]] = [
    (1, _migration_1),
    (2, _migration_2),
    (3, _migration_3),
    (4, _migration_4),
    (5, _migration_5),
    (6, _migration_exchange),
    (7, _migration_player),
    (8, _migration_crates),
    (9, _migration_tag_keys),
    (10, _migration_crate_entries_by_track),
    (11, _migration_commit_seq),
    (12, _migration_names_from_file_names),
    (13, _migration_hash_queue),
]


def latest_version() -> int:
    return MIGRATIONS[-1][0]
