"""Opening a library file and the query API the GUI and command line use (plain records only)."""

from __future__ import annotations

import bisect
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import peewee as pw

from crate_app.domain.errors import LibraryError
from crate_app.domain.search import ParsedQuery
from crate_app.domain.track import TRACK_FIELDS, TrackRecord, path_from_db, path_to_db
from crate_app.store import schema
from crate_app.store.filters import count_sql, where_clause

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 1,  # NORMAL: durable enough with WAL, much faster than FULL
    "foreign_keys": 1,
    "cache_size": -64_000,  # 64 MB page cache per connection
    "temp_store": "memory",
    "mmap_size": 256 * 1024 * 1024,
    "busy_timeout": 15_000,
}

# What a busy, full or damaged library raises from any query (peewee wraps sqlite3's errors).
DATABASE_ERRORS: tuple[type[Exception], ...] = (pw.DatabaseError, sqlite3.DatabaseError)


def describe_database_error(error: Exception) -> str:
    """One line for a person about an error from ``DATABASE_ERRORS``."""
    message = str(error)
    if "locked" in message or "busy" in message:
        return (
            f"the library is busy: another program (a Crate window or command) kept it locked for over "
            f"{PRAGMAS['busy_timeout'] / 1000:g} s; try again when it has finished ({message})"
        )
    if "full" in message:
        return f"there is no space left for the library ({message})"
    if "readonly" in message or "read-only" in message:
        return f"the library is read-only: Crate needs to write to it ({message})"
    return f"the library could not be used: {message}"


TRACK_COLUMNS_SQL = ", ".join(TRACK_FIELDS)
_PATH_FIELDS = {TRACK_FIELDS.index(name) for name in ("path", "folder", "filename")}
_BOOL_FIELDS = {TRACK_FIELDS.index("bpm_variable")}  # SQLite stores 0/1
# Two statements, not UPDATE ... RETURNING: that needs SQLite 3.35, and a Python linked against an older
# system SQLite (Ubuntu 20.04 has 3.31) would fail every write.
_BUMP_COMMIT_SEQ = "UPDATE commit_seq SET seq = seq + 1"
_READ_COMMIT_SEQ = "SELECT seq FROM commit_seq"
_OWN_SEQS_KEPT = 20_000


_ORPHANED_CONNECTIONS: list[sqlite3.Connection] = []  # their threads' state is gone: close at next connect


class _OrphansConnection:
    """Kept in the thread-local state next to its connection: when that state is dropped, the connection
    is handed over to be closed by the next thread that connects (not here: this runs while a thread's
    state is being torn down, where closing SQLite crashed under Qt's pool threads)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn: sqlite3.Connection | None = conn

    def __del__(self) -> None:
        if self.conn is not None:
            _ORPHANED_CONNECTIONS.append(self.conn)


def _close_orphaned_connections() -> None:
    while _ORPHANED_CONNECTIONS:
        try:
            _ORPHANED_CONNECTIONS.pop().close()
        except (IndexError, sqlite3.Error):
            pass


class _ThreadConnection(pw._ConnectionLocal):  # peewee's per-thread connection state
    """Why: a ``sqlite3.Connection`` sits in a reference cycle with its own statement cache (CPython 3.11),
    so a connection that is merely forgotten keeps its page cache until the cyclic collector runs.  Qt's
    pool threads lose their Python thread state (and thread-locals) after every job, so each job would
    leave one connection and its cache behind.  This closes them at the next connect instead."""

    def set_connection(self, conn: sqlite3.Connection) -> None:
        _close_orphaned_connections()
        super().set_connection(conn)
        self.orphans = _OrphansConnection(conn)

    def reset(self) -> None:
        orphans = getattr(self, "orphans", None)
        if orphans is not None:
            orphans.conn = None  # closed by peewee already: nothing to hand over
        super().reset()
        self.orphans = None


class FileState(NamedTuple):
    """What the library remembers of a file, to tell whether it changed since the last scan."""

    id: int
    size: int
    mtime: float
    status: str


_FILE_STATE_SQL = "SELECT path, id, size, mtime, status FROM tracks"


def folder_bounds(folder: str) -> tuple[str, str]:
    """[low, high) of the stored paths strictly below ``folder`` (a range on the unique path index)."""
    prefix = path_to_db(folder.rstrip(os.sep) + os.sep)
    return prefix, prefix[:-1] + chr(ord(os.sep) + 1)


def record_from_row(row: Sequence[object]) -> TrackRecord:
    """Build a TrackRecord from a row selected with TRACK_COLUMNS_SQL."""
    values = list(row)
    for index in _PATH_FIELDS:
        values[index] = path_from_db(values[index])  # type: ignore[arg-type]
    for index in _BOOL_FIELDS:
        if values[index] is not None:
            values[index] = bool(values[index])
    return TrackRecord(*values)


class Library:
    """One library = one SQLite file.  Safe to use from several threads (one connection per thread).

    Reads may run on any thread at any time (WAL: readers never wait for the writer).  Every write
    goes through ``write()``, which serialises writers in this process and makes each batch one
    transaction.
    """

    def __init__(self, path: Path, db: pw.SqliteDatabase) -> None:
        self.path = path
        self.db = db
        self._write_lock = threading.RLock()
        self.commits = 0  # transactions this process committed through write()
        # Commit sequence numbers (the commit_seq table, bumped by every Crate writer's transaction that
        # changed rows) of this Library's own commits, ascending: what another connection's
        # data_version change was caused by (``others_committed``).  Bounded; guarded by _seq_lock.
        self._own_seqs: list[int] = []
        self._seq_lock = threading.Lock()
        self.uncounted_commits = 0  # own changes to the file that bump no sequence (checkpoints)
        self._write_depth = 0
        self._counts_commits = False  # set once the schema has the commit_seq table

    # -- connection ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close this thread's connection (other threads' connections close with their threads)."""
        if not self.db.is_closed():
            self.db.close()

    def execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        return self.db.execute_sql(sql, params)

    @contextmanager
    def write(self, *, check_foreign_keys: bool = True) -> Iterator[sqlite3.Connection]:
        """The single writer: one transaction, serialised with every other writer of this library.

        BEGIN IMMEDIATE: the write lock is taken at once, so that what the transaction reads before
        its first write is still true when it writes, even with another process writing meanwhile
        (a deferred transaction would fail with "database is locked" there).

        ``check_foreign_keys=False`` is for a transaction that checks the rows it refers to itself,
        inside it (nothing can delete them before it commits): adding 100,000 tracks to a crate
        spent 60% of its time in SQLite's own check, one random lookup of a track per row, after
        the existence of all of them had been checked in one pass in id order."""
        with self._write_lock:
            outermost = self._write_depth == 0
            relaxed = outermost and not check_foreign_keys
            if relaxed:  # (the pragma does nothing inside a transaction)
                self.execute("PRAGMA foreign_keys = OFF")
            self._write_depth += 1
            try:
                seq = None
                try:
                    with self.db.atomic("IMMEDIATE"):
                        conn = self.db.connection()
                        changes = conn.total_changes
                        yield conn
                        if outermost and self._counts_commits:
                            if conn.total_changes != changes:
                                conn.execute(_BUMP_COMMIT_SEQ)
                                seq = conn.execute(_READ_COMMIT_SEQ).fetchone()[0]
                                # Known as this Library's before the commit: the watcher polling on
                                # another thread right after it must not take it for someone else's.
                                self._note_own_commit(seq)
                            else:
                                self.uncounted_commits += 1
                except BaseException:
                    if seq is not None:  # not committed after all: the number is free again
                        self._forget_own_commit(seq)
                    raise
                self.commits += 1
            finally:
                self._write_depth -= 1
                if relaxed:
                    self.execute("PRAGMA foreign_keys = ON")

    def _forget_own_commit(self, seq: int) -> None:
        with self._seq_lock:
            if seq in self._own_seqs:
                self._own_seqs.remove(seq)

    def _note_own_commit(self, seq: int) -> None:
        with self._seq_lock:
            self._own_seqs.append(seq)
            if len(self._own_seqs) > _OWN_SEQS_KEPT:
                del self._own_seqs[: _OWN_SEQS_KEPT // 2]

    def commit_seq(self) -> int:
        """The library's commit sequence number: every Crate writer (any process) bumps it by one in each
        transaction that changes rows."""
        return self.execute(_READ_COMMIT_SEQ).fetchone()[0]

    def others_committed(self, after: int, upto: int) -> bool:
        """Whether any commit numbered ``after`` < n <= ``upto`` was made by another writer (another
        Library object: another process or window) rather than through this Library's ``write()``."""
        if upto <= after:
            return False
        with self._seq_lock:
            own = self._own_seqs
            if not own or own[0] > after + 1:
                return True  # forgotten or never ours: take it as someone else's
            mine = bisect.bisect_right(own, upto) - bisect.bisect_right(own, after)
        return mine < upto - after

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` on this thread's connection: it changes when any other
        connection (another thread, another process) commits to the file.  Costs a few microseconds."""
        return self.execute("PRAGMA data_version").fetchone()[0]

    def limit_memory(self, cache_mb: int, mmap_mb: int) -> None:
        """Shrink this thread's connection: its page cache and its memory map of the file.

        The defaults suit a batch job; a long-running GUI process with several reading threads keeps
        its resident memory low with a small cache and no map (the OS still caches the file).
        """
        self.execute(f"PRAGMA cache_size = {-int(cache_mb) * 1024}")
        self.execute(f"PRAGMA mmap_size = {int(mmap_mb) * 1024 * 1024}")

    def checkpoint(self) -> None:
        """Fold the WAL back into the database file (after big imports, so the WAL does not stay huge)."""
        with self._write_lock:
            self.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.uncounted_commits += 1  # other connections' data_version changes with it

    # -- reading ---------------------------------------------------------------------------------
    def count(self, query: ParsedQuery | None = None) -> int:
        where, params = where_clause(query, self)
        return self.execute(count_sql(where), params).fetchone()[0]

    def stats(self) -> dict[str, int]:
        row = self.execute(
            "SELECT COUNT(*), "
            "COALESCE(SUM(status = 'ok'), 0), COALESCE(SUM(status = 'missing'), 0), "
            "COALESCE(SUM(status = 'error'), 0), COALESCE(SUM(analyzed_at IS NOT NULL), 0), "
            "COALESCE(SUM(analysis_error IS NOT NULL), 0) FROM tracks"
        ).fetchone()
        return {
            "tracks": row[0],
            "ok": row[1],
            "missing": row[2],
            "errors": row[3],
            "analyzed": row[4],
            "analysis_failed": row[5],
            "roots": self.execute("SELECT COUNT(*) FROM library_roots").fetchone()[0],
        }

    def tracks_by_ids(self, ids: Iterable[int]) -> list[TrackRecord]:
        """Rows for the given ids, in the order given (unknown ids are left out)."""
        wanted = list(ids)
        found: dict[int, TrackRecord] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.execute(f"SELECT {TRACK_COLUMNS_SQL} FROM tracks WHERE id IN ({marks})", chunk):
                record = record_from_row(row)
                found[record.id] = record
        return [found[i] for i in wanted if i in found]

    def track_by_id(self, track_id: int) -> TrackRecord | None:
        row = self.execute(f"SELECT {TRACK_COLUMNS_SQL} FROM tracks WHERE id = ?", (track_id,)).fetchone()
        return record_from_row(row) if row else None

    def track_by_path(self, path: str) -> TrackRecord | None:
        row = self.execute(
            f"SELECT {TRACK_COLUMNS_SQL} FROM tracks WHERE path = ?", (path_to_db(path),)
        ).fetchone()
        return record_from_row(row) if row else None

    def iter_track_ids(self, query: ParsedQuery | None = None, sort: str = "id") -> Iterator[int]:
        """Ids of matching tracks, streamed (for batch jobs over huge selections)."""
        where, params = where_clause(query, self)
        order = schema.sort_expression(sort)
        cursor = self.execute(f"SELECT id FROM tracks WHERE {where} ORDER BY {order}, id", params)
        for (track_id,) in cursor:
            yield track_id

    def ids_to_analyze(self, query: ParsedQuery | None = None, *, force: bool = False) -> list[int]:
        """Ids of readable tracks matching ``query`` that an analysis batch should process, in id order.

        Without ``force``: only tracks neither analysed nor failed before (what is left of a batch that
        was interrupted); with ``force``: every readable one.  Missing and unreadable files are left out.
        """
        where, params = where_clause(query, self)
        return [
            track_id
            for (track_id,) in self.execute(
                f"SELECT id FROM tracks WHERE {where} AND {_analysis_condition(force)} ORDER BY id", params
            )
        ]

    def filter_ids_to_analyze(self, ids: Iterable[int], *, force: bool = False) -> list[int]:
        """Those of ``ids`` that an analysis batch should process (same rules as ``ids_to_analyze``),
        in the order given."""
        wanted = list(dict.fromkeys(ids))
        keep: set[int] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id FROM tracks WHERE id IN ({marks}) AND {_analysis_condition(force)}"
            keep.update(track_id for (track_id,) in self.execute(sql, chunk))
        return [track_id for track_id in wanted if track_id in keep]

    def problems(self, limit: int = 10_000) -> list[TrackRecord]:
        """Tracks that could not be read or have gone missing, most recent first."""
        rows = self.execute(
            f"SELECT {TRACK_COLUMNS_SQL} FROM tracks WHERE status != 'ok' ORDER BY last_scanned DESC, id "
            "LIMIT ?",
            (limit,),
        )
        return [record_from_row(row) for row in rows]

    def analysis_failures(self, limit: int = 10_000) -> list[TrackRecord]:
        """Readable tracks whose analysis failed (``analysis_error`` says why), by path."""
        rows = self.execute(
            f"SELECT {TRACK_COLUMNS_SQL} FROM tracks WHERE analysis_error IS NOT NULL AND status = 'ok' "
            "ORDER BY path LIMIT ?",
            (limit,),
        )
        return [record_from_row(row) for row in rows]

    def file_states_under(self, folder: str) -> dict[str, FileState]:
        """path -> FileState of every track below ``folder`` (one indexed range query)."""
        low, high = folder_bounds(folder)
        rows = self.execute(f"{_FILE_STATE_SQL} WHERE path >= ? AND path < ?", (low, high))
        return {path_from_db(path): FileState(*state) for path, *state in rows}

    def file_states_of(self, paths: Iterable[str]) -> dict[str, FileState]:
        """path -> FileState for those of ``paths`` that are in the library."""
        wanted = [path_to_db(p) for p in paths]
        found: dict[str, FileState] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for path, *state in self.execute(f"{_FILE_STATE_SQL} WHERE path IN ({marks})", chunk):
                found[path_from_db(path)] = FileState(*state)
        return found

    def file_states_outside(self, folders: Sequence[str]) -> dict[str, FileState]:
        """path -> FileState of every track that is in none of ``folders`` (files added one by one)."""
        conditions, params = [], []
        for folder in folders:
            conditions.append("(path >= ? AND path < ?)")
            params.extend(folder_bounds(folder))
        where = f"WHERE NOT ({' OR '.join(conditions)})" if conditions else ""
        rows = self.execute(f"{_FILE_STATE_SQL} {where}", params)
        return {path_from_db(path): FileState(*state) for path, *state in rows}

    def scan_errors(self) -> list[tuple[str, str]]:
        """(path, reason) of folders and files that could not be read at all."""
        rows = self.execute("SELECT path, reason FROM scan_errors ORDER BY at DESC")
        return [(path_from_db(path), reason) for path, reason in rows]

    # -- library roots ---------------------------------------------------------------------------
    def roots(self) -> list[str]:
        return [path_from_db(p) for (p,) in self.execute("SELECT path FROM library_roots ORDER BY path")]

    def add_root(self, path: str) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT INTO library_roots (path, added_at) VALUES (?, ?) ON CONFLICT(path) DO NOTHING",
                (path_to_db(path), time.time()),
            )

    def root_of(self, path: str) -> str | None:
        """The library root that contains ``path`` (the deepest one), if any."""
        best: str | None = None
        for root in self.roots():
            prefix = root.rstrip(os.sep) + os.sep
            if (path == root or path.startswith(prefix)) and (best is None or len(root) > len(best)):
                best = root
        return best


def _analysis_condition(force: bool) -> str:
    """SQL condition for tracks an analysis batch processes (see ``Library.ids_to_analyze``)."""
    readable = "status = 'ok'"
    return readable if force else f"{readable} AND analyzed_at IS NULL AND analysis_error IS NULL"


def _backup(path: Path, version: int) -> Path:
    backup = path.with_name(f"{path.name}.v{version}.bak")
    source = sqlite3.connect(path)
    try:
        target = sqlite3.connect(backup)
        with target:
            source.backup(target)
        target.close()
    finally:
        source.close()
    return backup


def open_library(path: Path | str, *, create: bool = True) -> Library:
    """Open (or create) the library at ``path``, upgrading an older schema after a backup copy.

    Raises LibraryError with a plain-language reason when the file cannot be used.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise LibraryError(f"{path} is a folder, not a library file")
    if not path.exists():
        if not create:
            raise LibraryError(f"no library at {path}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"cannot create the folder for the library {path}: {exc.strerror}") from exc
    elif not os.access(path, os.R_OK):
        raise LibraryError(f"cannot read the library file {path}: permission denied")
    db = pw.SqliteDatabase(str(path), pragmas=PRAGMAS, timeout=15, check_same_thread=False)
    db._state = _ThreadConnection()
    library = Library(path, db)
    try:
        db.connect(reuse_if_open=True)
        _migrate(library)
        library._counts_commits = True
    except (pw.DatabaseError, sqlite3.DatabaseError) as exc:
        db.close()
        message = str(exc)
        if "not a database" in message or "file is encrypted" in message:
            raise LibraryError(f"{path} is not a Crate library (not an SQLite database)") from exc
        if "readonly" in message or "read-only" in message:
            raise LibraryError(f"the library {path} is read-only: Crate needs to write to it") from exc
        if "unable to open" in message:
            raise LibraryError(f"cannot open the library {path}: {message}") from exc
        raise LibraryError(f"the library {path} cannot be used: {message}") from exc
    return library


def _migrate(library: Library) -> None:
    db = library.db
    tables = set(db.get_tables())
    if tables and "schema_version" not in tables:
        raise LibraryError(f"{library.path} is an SQLite database, but not a Crate library")
    with db.bind_ctx(schema.MODELS):
        db.create_tables([schema.SchemaVersion])
        row = db.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()
        current = row[0] or 0
        latest = schema.latest_version()
        if current > latest:
            raise LibraryError(
                f"{library.path} was made by a newer Crate (library version {current}, this Crate knows "
                f"up to {latest}); update Crate to open it"
            )
        if current == latest:
            return
        if current > 0:
            _backup(library.path, current)
        for version, migration in schema.MIGRATIONS:
            if version > current:
                with library.write():
                    migration(db)
                    db.execute_sql("INSERT INTO schema_version (version) VALUES (?)", (version,))
