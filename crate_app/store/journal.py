"""The rename journal: batches and their steps, stored in the library before any file moves."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

from crate_app.domain.track import path_from_db, path_to_db
from crate_app.store.library import Library

UNFINISHED_STATUSES = ("pending", "running", "paused")


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """What identifies a file across renames: size and modification time, plus the inode number where
    the filesystem has one (inode numbers are reused after a delete, so they are not enough alone).
    A file edited in place since the batch was planned therefore counts as changed, and is left alone."""

    size: int
    ino: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str) -> FileIdentity | None:
        try:
            return cls.from_stat(os.stat(path, follow_symlinks=False))
        except OSError:
            return None

    @classmethod
    def from_stat(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_size, st.st_ino, st.st_mtime_ns)

    def same_file(self, other: FileIdentity | None) -> bool:
        if other is None:
            return False
        if self.ino and other.ino and self.ino != other.ino:
            return False
        return self.size == other.size and self.mtime_ns == other.mtime_ns


@dataclass(frozen=True, slots=True)
class NewStep:
    track_id: int | None
    kind: str
    src: str
    dst: str
    temporary: bool
    identity: FileIdentity | None


@dataclass(frozen=True, slots=True)
class JournalStep:
    id: int
    seq: int
    track_id: int | None
    kind: str
    src: str
    dst: str
    temporary: bool
    identity: FileIdentity | None
    status: str
    error: str | None


@dataclass(frozen=True, slots=True)
class BatchInfo:
    id: int
    kind: str
    undo_of: int | None
    description: str
    options: dict[str, object]
    status: str
    created_at: float
    finished_at: float | None
    total: int
    done: int
    failed: int
    pending: int

    def as_dict(self) -> dict[str, object]:
        return {
            "batch": self.id,
            "kind": self.kind,
            "undo_of": self.undo_of,
            "description": self.description,
            "status": self.status,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "pending": self.pending,
        }


_STEP_COLUMNS = (
    "id, seq, track_id, kind, src, dst, temporary, file_size, file_ino, file_mtime_ns, status, error"
)


def _step_from_row(row: Sequence[object]) -> JournalStep:
    size, ino, mtime_ns = row[7], row[8], row[9]
    identity = FileIdentity(size, ino, mtime_ns) if size is not None else None  # type: ignore[arg-type]
    return JournalStep(
        id=row[0],  # type: ignore[arg-type]
        seq=row[1],  # type: ignore[arg-type]
        track_id=row[2],  # type: ignore[arg-type]
        kind=row[3],  # type: ignore[arg-type]
        src=path_from_db(row[4]),  # type: ignore[arg-type]
        dst=path_from_db(row[5]),  # type: ignore[arg-type]
        temporary=bool(row[6]),
        identity=identity,
        status=row[10],  # type: ignore[arg-type]
        error=row[11],  # type: ignore[arg-type]
    )


def create_batch(
    library: Library,
    steps: Sequence[NewStep],
    *,
    kind: str = "rename",
    description: str = "",
    options: dict[str, object] | None = None,
    undo_of: int | None = None,
) -> int:
    """Store a batch and all its steps (pending) in one transaction; returns the batch id."""
    with library.write() as conn:
        cursor = conn.execute(
            "INSERT INTO rename_batches (created_at, kind, undo_of, description, options, status) "
            "VALUES (?, ?, ?, ?, ?, 'pending')",
            (time.time(), kind, undo_of, description, json.dumps(options or {})),
        )
        batch_id = cursor.lastrowid
        assert batch_id is not None
        conn.executemany(
            "INSERT INTO rename_steps (batch_id, seq, track_id, kind, src, dst, temporary, file_size, "
            "file_ino, file_mtime_ns, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
            [
                (
                    batch_id,
                    seq,
                    step.track_id,
                    step.kind,
                    path_to_db(step.src),
                    path_to_db(step.dst),
                    int(step.temporary),
                    step.identity.size if step.identity else None,
                    step.identity.ino if step.identity else None,
                    step.identity.mtime_ns if step.identity else None,
                )
                for seq, step in enumerate(steps)
            ],
        )
    return batch_id


def batch_info(library: Library, batch_id: int) -> BatchInfo | None:
    rows = _batch_rows(library, "WHERE b.id = ?", (batch_id,))
    return rows[0] if rows else None


def list_batches(library: Library, limit: int = 100) -> list[BatchInfo]:
    """The most recent batches first."""
    return _batch_rows(library, "ORDER BY b.id DESC LIMIT ?", (limit,))


def unfinished_batches(library: Library) -> list[BatchInfo]:
    """Batches that stopped part-way (paused, or interrupted by a crash) and can be resumed."""
    marks = ",".join("?" * len(UNFINISHED_STATUSES))
    return _batch_rows(library, f"WHERE b.status IN ({marks}) ORDER BY b.id", UNFINISHED_STATUSES)


def _batch_rows(library: Library, tail: str, params: Sequence[object]) -> list[BatchInfo]:
    sql = (
        "SELECT b.id, b.kind, b.undo_of, b.description, b.options, b.status, b.created_at, b.finished_at, "
        "(SELECT COUNT(*) FROM rename_steps s WHERE s.batch_id = b.id), "
        "(SELECT COUNT(*) FROM rename_steps s WHERE s.batch_id = b.id AND s.status = 'done'), "
        "(SELECT COUNT(*) FROM rename_steps s WHERE s.batch_id = b.id AND s.status = 'failed') "
        f"FROM rename_batches b {tail}"
    )
    result = []
    for row in library.execute(sql, params):
        total, done, failed = row[8], row[9], row[10]
        result.append(
            BatchInfo(
                id=row[0],
                kind=row[1],
                undo_of=row[2],
                description=row[3],
                options=json.loads(row[4] or "{}"),
                status=row[5],
                created_at=row[6],
                finished_at=row[7],
                total=total,
                done=done,
                failed=failed,
                pending=total - done - failed,
            )
        )
    return result


def steps(library: Library, batch_id: int, status: str | None = None) -> list[JournalStep]:
    """The batch's steps in order (optionally only those with ``status``)."""
    condition, params = ("AND status = ?", (batch_id, status)) if status else ("", (batch_id,))
    rows = library.execute(
        f"SELECT {_STEP_COLUMNS} FROM rename_steps WHERE batch_id = ? {condition} ORDER BY seq", params
    )
    return [_step_from_row(row) for row in rows]


def set_batch_status(library: Library, batch_id: int, status: str) -> None:
    finished = time.time() if status in ("done", "cancelled", "undone") else None
    with library.write() as conn:
        conn.execute(
            "UPDATE rename_batches SET status = ?, finished_at = COALESCE(?, finished_at) WHERE id = ?",
            (status, finished, batch_id),
        )


def record_outcomes(conn: sqlite3.Connection, outcomes: Sequence[tuple[JournalStep, str | None]]) -> None:
    """Inside ``Library.write()``: mark steps done (error None) or failed, and move done tracks' paths.

    The step and the track's path change in the same transaction, so the database says where each
    file is at every commit.
    """
    conn.executemany(
        "UPDATE rename_steps SET status = ?, error = ? WHERE id = ?",
        [("done" if error is None else "failed", error, step.id) for step, error in outcomes],
    )
    moved = [step for step, error in outcomes if error is None and step.kind == "move" and step.track_id]
    rows = []
    for step in moved:
        folder, filename = os.path.split(step.dst)
        rows.append((path_to_db(step.dst), path_to_db(folder), path_to_db(filename), step.track_id))
    conn.executemany("UPDATE tracks SET path = ?, folder = ?, filename = ? WHERE id = ?", rows)


def track_ids_at(library: Library, paths: Sequence[str]) -> dict[str, int]:
    """path -> id of the library entries stored at any of ``paths`` (one query per 500 paths)."""
    found: dict[str, int] = {}
    for start in range(0, len(paths), 500):
        chunk = [path_to_db(p) for p in paths[start : start + 500]]
        marks = ",".join("?" * len(chunk))
        for path, track_id in library.execute(f"SELECT path, id FROM tracks WHERE path IN ({marks})", chunk):
            found[path_from_db(path)] = track_id
    return found


def track_id_at(library: Library, path: str) -> int | None:
    """The id of the library entry stored at ``path``, if any (also for missing files)."""
    row = library.execute("SELECT id FROM tracks WHERE path = ?", (path_to_db(path),)).fetchone()
    return row[0] if row else None
