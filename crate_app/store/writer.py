"""Bulk writes: every change to tracks goes through these functions and ``Library.write()``.

Rows are written with raw ``executemany`` (peewee's ``insert_many`` spends most of its time building
SQL), one transaction per batch.  ``scanned_row`` and ``UPSERT_COLUMNS`` live in ``rows`` (usable
without the database) and are re-exported here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

from crate_app.domain.colors import parse_track_color
from crate_app.domain.track import AnalysisResult, ScannedFile, TrackStatus, path_to_db
from crate_app.store.library import Library, folder_bounds
from crate_app.store.rows import UPSERT_COLUMNS, rescan_assignment, scanned_row
from crate_app.store.schema import FTS_COLUMNS

# Analysed or corrected BPM and key, and ratings and colours the file does not carry, survive a rescan.
_UPDATE_SET = ", ".join(
    f"{c} = {rescan_assignment(c, f'excluded.{c}', 'tracks.')}"
    for c in UPSERT_COLUMNS
    if c not in ("path", "date_added")
)
_FTS_COLUMNS = ", ".join(FTS_COLUMNS)
# Rows inserted in this transaction have ids above the largest id before it (the writer holds the lock).
_FTS_INSERT_NEW_SQL = (
    f"INSERT INTO tracks_fts(rowid, {_FTS_COLUMNS}) SELECT id, {_FTS_COLUMNS} FROM tracks WHERE id > ?"
)
UPSERT_SQL = (
    f"INSERT INTO tracks ({', '.join(UPSERT_COLUMNS)}) VALUES ({', '.join('?' * len(UPSERT_COLUMNS))}) "
    f"ON CONFLICT(path) DO UPDATE SET {_UPDATE_SET}"
)


# New tracks wait for the background pass's audio hash (hygiene.hashing; changed ones are queued by a
# trigger, see store.schema).
_HASH_QUEUE_NEW_SQL = "INSERT OR IGNORE INTO hash_queue (track_id) SELECT id FROM tracks WHERE id > ?"


def upsert_scanned(library: Library, items: Sequence[ScannedFile], now: float | None = None) -> None:
    """Insert or update scanned files in one transaction (date added is kept on update)."""
    if not items:
        return
    now = time.time() if now is None else now
    rows = [scanned_row(item, now) for item in items]
    upsert_rows(library, rows)


def upsert_rows(library: Library, rows: Sequence[tuple[object, ...]]) -> None:
    """Insert or update prepared rows (values in UPSERT_COLUMNS order) in one transaction.

    New rows are indexed for search by one set-based statement after the batch instead of by the
    per-row insert trigger (half the CPU per new track); updated rows go through the update trigger.
    A path given twice keeps its later row: a new row updated within the same batch would make the
    update trigger delete a search-index entry that the deferred insert has not written yet.
    """
    rows = _last_row_per_path(rows)
    with library.write() as conn:
        last_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM tracks").fetchone()[0]
        conn.execute("INSERT INTO fts_deferred (flag) VALUES (1)")
        conn.executemany(UPSERT_SQL, rows)
        conn.execute("DELETE FROM fts_deferred")
        conn.execute(_FTS_INSERT_NEW_SQL, (last_id,))
        conn.execute(_HASH_QUEUE_NEW_SQL, (last_id,))


_PATH = UPSERT_COLUMNS.index("path")


def _last_row_per_path(rows: Sequence[tuple[object, ...]]) -> Sequence[tuple[object, ...]]:
    """``rows`` with only the last row of each path, in the order of first appearance."""
    by_path = {row[_PATH]: row for row in rows}
    return rows if len(by_path) == len(rows) else list(by_path.values())


def set_status(library: Library, ids: Iterable[int], status: TrackStatus, now: float | None = None) -> int:
    """Mark tracks ok or missing (never deletes a row); returns how many rows changed."""
    now = time.time() if now is None else now
    changed = 0
    with library.write() as conn:
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            cursor = conn.execute(
                f"UPDATE tracks SET status = ?, last_scanned = ? WHERE id IN ({marks}) AND status != ?",
                (status.value, now, *chunk, status.value),
            )
            changed += cursor.rowcount
    return changed


def save_analysis(
    library: Library, results: Sequence[tuple[int, AnalysisResult]], now: float | None = None
) -> None:
    """Store analysis results in one transaction.  A value the user corrected (locked: BPM, key, first
    beat with its downbeat) is kept; the analysis's own finding is stored beside it either way
    (analysis_bpm, analysis_key, analysis_first_beat, analysis_first_downbeat)."""
    now = time.time() if now is None else now
    with library.write() as conn:
        conn.executemany(
            "UPDATE tracks SET bpm = CASE WHEN bpm_locked THEN bpm ELSE :bpm END, analysis_bpm = :bpm, "
            "bpm_confidence = :bpm_confidence, key = CASE WHEN key_locked THEN key ELSE :key END, "
            "analysis_key = :key, key_confidence = :key_confidence, "
            "first_beat = CASE WHEN first_beat_locked THEN first_beat ELSE :first_beat END, "
            "first_downbeat = CASE WHEN first_beat_locked THEN first_downbeat ELSE :first_downbeat END, "
            "analysis_first_beat = :first_beat, analysis_first_downbeat = :first_downbeat, "
            "bpm_alt = :bpm_alt, bpm_alt_confidence = :bpm_alt_confidence, bpm_variable = :bpm_variable, "
            "analyzed_at = :now, analysis_error = NULL WHERE id = :id",
            [
                {
                    "bpm": r.bpm,
                    "bpm_confidence": r.bpm_confidence,
                    "key": r.key,
                    "key_confidence": r.key_confidence,
                    "first_beat": r.first_beat,
                    "first_downbeat": r.first_downbeat,
                    "bpm_alt": r.bpm_alt,
                    "bpm_alt_confidence": r.bpm_alt_confidence if r.bpm_alt is not None else None,
                    "bpm_variable": int(r.bpm_variable) if r.bpm is not None else None,
                    "now": now,
                    "id": track_id,
                }
                for track_id, r in results
            ],
        )
        waveforms = [(track_id, r.waveform) for track_id, r in results if r.waveform]
        if waveforms:
            conn.executemany("INSERT OR REPLACE INTO waveforms (track_id, data) VALUES (?, ?)", waveforms)


def save_analysis_failures(library: Library, failures: Sequence[tuple[int, str]]) -> None:
    """Record why analysis failed for some tracks (they are not retried unless forced)."""
    with library.write() as conn:
        conn.executemany(
            "UPDATE tracks SET analysis_error = ? WHERE id = ?", [(reason, tid) for tid, reason in failures]
        )


def record_scan_errors(library: Library, errors: Sequence[tuple[str, str]], now: float | None = None) -> None:
    """Remember folders or files that could not be read at all (path, reason)."""
    now = time.time() if now is None else now
    with library.write() as conn:
        conn.executemany(
            "INSERT INTO scan_errors (path, reason, at) VALUES (?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET reason = excluded.reason, at = excluded.at",
            [(path_to_db(path), reason, now) for path, reason in errors],
        )


def mark_root_scanned(library: Library, root: str, now: float | None = None) -> None:
    """Remember when a library root was last scanned completely."""
    now = time.time() if now is None else now
    with library.write() as conn:
        conn.execute("UPDATE library_roots SET last_scan_at = ? WHERE path = ?", (now, path_to_db(root)))


def clear_scan_errors(library: Library, under: str) -> None:
    """Forget recorded scan errors below a folder (before it is scanned again)."""
    with library.write() as conn:
        conn.execute(
            "DELETE FROM scan_errors WHERE path = ? OR (path >= ? AND path < ?)",
            (path_to_db(under), *folder_bounds(under)),
        )


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- the user's own values: rating, colour, corrections ----------------------------------------------


def set_rating(library: Library, ids: Iterable[int], rating: int | None) -> None:
    """Set the star rating (0-5, None = unrated) of tracks."""
    if rating is not None and not 0 <= rating <= 5:
        raise ValueError(f"a rating is 0-5 stars, not {rating}")
    _update_many(library, ids, "rating = ?", (rating,))


def set_color(library: Library, ids: Iterable[int], color: str) -> None:
    """Set the track colour (a name from domain.colors, '' for none) of tracks."""
    _update_many(library, ids, "color = ?", (parse_track_color(color),))


def correct_bpm(library: Library, ids: Iterable[int], bpm: float | None) -> None:
    """The user's BPM: stored and locked (None unlocks and goes back to what the analysis found)."""
    if bpm is None:
        _update_many(library, ids, "bpm = COALESCE(analysis_bpm, bpm), bpm_locked = 0", ())
        return
    if not (math.isfinite(bpm) and 0 < bpm < 1000):
        raise ValueError(f"a BPM is a number between 0 and 1000, not {bpm}")
    _update_many(library, ids, "bpm = ?, bpm_locked = 1", (round(bpm, 3),))


def correct_key(library: Library, ids: Iterable[int], key: int | None, *, unlock: bool = False) -> None:
    """The user's key code (0-23, None = no key), locked; ``unlock`` goes back to the analysis's key."""
    if unlock:
        _update_many(library, ids, "key = COALESCE(analysis_key, key), key_locked = 0", ())
        return
    if key is not None and not 0 <= key <= 23:
        raise ValueError(f"key code out of range: {key}")
    _update_many(library, ids, "key = ?, key_locked = 1", (key,))


def correct_first_beat(library: Library, track_id: int, first_beat: float | None) -> None:
    """The user's first beat (seconds), locked; the first downbeat moves by the same amount.  None
    unlocks and goes back to the analysis's grid."""
    if first_beat is None:
        assignment = (
            "first_beat = COALESCE(analysis_first_beat, first_beat), "
            "first_downbeat = COALESCE(analysis_first_downbeat, first_downbeat), first_beat_locked = 0"
        )
        _update_many(library, [track_id], assignment, ())
        return
    if not (math.isfinite(first_beat) and first_beat >= 0):
        raise ValueError(f"the first beat is a time >= 0 s, not {first_beat}")
    _update_many(
        library,
        [track_id],
        "first_downbeat = CASE WHEN first_downbeat IS NULL THEN NULL "
        "ELSE first_downbeat + (? - COALESCE(first_beat, ?)) END, first_beat = ?, first_beat_locked = 1",
        (round(first_beat, 4),) * 3,
    )


def update_tag_fields(library: Library, rows: Sequence[tuple[int, dict[str, object], int, float]]) -> None:
    """After tags were written into files: (track id, {field: value}, new size, new mtime) per file.
    Text fields store '' for a removed tag; the search index follows through its update trigger."""
    with library.write() as conn:
        for track_id, changes, size, mtime in rows:
            names = [name for name in changes if name in _EDITABLE_COLUMNS]
            values = ["" if changes[n] is None and n in _TEXT_COLUMNS else changes[n] for n in names]
            assignments = ", ".join(f"{name} = ?" for name in (*names, "size", "mtime"))
            conn.execute(f"UPDATE tracks SET {assignments} WHERE id = ?", (*values, size, mtime, track_id))


_TEXT_COLUMNS = ("title", "artist", "album", "albumartist", "genre", "label", "comment")
_EDITABLE_COLUMNS = (*_TEXT_COLUMNS, "year", "track_no")


def _update_many(library: Library, ids: Iterable[int], assignment: str, params: tuple[object, ...]) -> None:
    with library.write() as conn:
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            conn.execute(f"UPDATE tracks SET {assignment} WHERE id IN ({marks})", (*params, *chunk))
