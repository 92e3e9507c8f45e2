"""Computing and storing audio hashes and fingerprints: a pausable background pass at disk speed.

A stored hash is valid for the file's size and mtime when it was made; a file that changed (or a
track never hashed) is hashed again.  Results are written in batches through the library's single
writer, each batch one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from crate_app.domain.progress import Progress, ProgressMeter
from crate_app.domain.track import path_from_db
from crate_app.hygiene.fingerprint import FingerprintError, fingerprint_file, index_keys, to_blob
from crate_app.library.audiohash import AudioHashError, HashCancelled, audio_hash
from crate_app.store.library import Library

# A fingerprint made for the same file (size and mtime) is kept when only the audio hash is redone.
_SAME_FILE = "track_hashes.size = excluded.size AND track_hashes.mtime = excluded.mtime"
_STORE_SQL = (
    "INSERT INTO track_hashes "
    "(track_id, size, mtime, audio_hash, fingerprint, fingerprint_seconds, error) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(track_id) DO UPDATE SET size = excluded.size, "
    "mtime = excluded.mtime, audio_hash = excluded.audio_hash, "
    "fingerprint = COALESCE(excluded.fingerprint, "
    f"CASE WHEN {_SAME_FILE} THEN track_hashes.fingerprint END), "
    "fingerprint_seconds = COALESCE(excluded.fingerprint_seconds, "
    f"CASE WHEN {_SAME_FILE} THEN track_hashes.fingerprint_seconds END), error = excluded.error"
)
BATCH = 200
BATCH_SECONDS = 2.0


@dataclass
class HashSummary:
    hashed: int = 0
    fingerprinted: int = 0
    failed: int = 0
    seconds: float = 0.0
    cancelled: bool = False


# A track's hash is missing or stale (``h`` its track_hashes row, LEFT JOINed).
_STALE = "(h.track_id IS NULL OR h.size != t.size OR h.mtime != t.mtime OR (h.error IS NULL AND ({wanted})))"


def tracks_to_hash(
    library: Library, *, fingerprints: bool = False, ids: Iterable[int] | None = None
) -> list[int]:
    """Ids of readable tracks whose audio hash (and, with ``fingerprints``, fingerprint) is missing or
    stale, folder by folder.  Audio hashes alone: only the tracks in ``hash_queue`` are looked at (an
    index, not a scan of the library); fingerprints, which nothing queues, look at every track."""
    wanted = "h.audio_hash IS NULL" + (" OR h.fingerprint IS NULL" if fingerprints else "")
    source = "tracks t" if fingerprints else "hash_queue q CROSS JOIN tracks t ON t.id = q.track_id"
    sql = (
        f"SELECT t.id FROM {source} LEFT JOIN track_hashes h ON h.track_id = t.id "
        f"WHERE t.status = 'ok' AND {_STALE.format(wanted=wanted)} ORDER BY t.folder, t.id"
    )
    found = [track_id for (track_id,) in library.execute(sql)]
    if ids is not None:
        keep = set(ids)
        found = [i for i in found if i in keep]
    return found


def prune_hash_queue(library: Library) -> int:
    """Drop the queued tracks whose audio hash is valid after all (a rescan that changed nothing, a
    relink that kept the hash); returns how many.  Tracks that are not readable stay queued."""
    with library.write() as conn:
        return conn.execute(
            "DELETE FROM hash_queue WHERE track_id IN (SELECT t.id FROM hash_queue q "
            "CROSS JOIN tracks t ON t.id = q.track_id LEFT JOIN track_hashes h ON h.track_id = t.id "
            f"WHERE t.status = 'ok' AND NOT {_STALE.format(wanted='h.audio_hash IS NULL')})"
        ).rowcount


def compute_hashes(
    library: Library,
    track_ids: Sequence[int],
    *,
    fingerprints: bool = False,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> HashSummary:
    """Hash (and fingerprint) the given tracks' files and store the results; stops between files when
    ``should_stop`` says so (what was done is kept)."""
    started = time.monotonic()
    summary = HashSummary()
    meter = ProgressMeter(len(track_ids), report=progress)
    pending: list[tuple] = []
    last_write = time.monotonic()
    stop = should_stop or (lambda: False)
    for start in range(0, len(track_ids), 500):
        chunk = track_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = library.execute(
            f"SELECT id, path, size, mtime FROM tracks WHERE id IN ({marks})", chunk
        ).fetchall()
        for track_id, db_path, size, mtime in rows:
            if stop():
                summary.cancelled = True
                break
            path = path_from_db(db_path)
            digest = blob = keys = error = None
            seconds = None
            try:
                digest = audio_hash(path, stop)
                summary.hashed += 1
                if fingerprints:
                    values = fingerprint_file(path, should_stop=stop)
                    blob, keys, seconds = to_blob(values), index_keys(values), len(values) / 8.0
                    summary.fingerprinted += 1
            except HashCancelled:
                summary.cancelled = True
                break
            except (AudioHashError, FingerprintError) as exc:
                error = str(exc)
                summary.failed += 1
            pending.append((track_id, size, mtime, digest, blob, seconds, error, keys))
            meter.update(advance=1, current=path, failed=1 if error else 0)
            if len(pending) >= BATCH or time.monotonic() - last_write >= BATCH_SECONDS:
                store_hashes(library, pending)
                pending, last_write = [], time.monotonic()
        if summary.cancelled:
            break
    store_hashes(library, pending)
    meter.finish()
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def hash_library(
    library: Library,
    *,
    fingerprints: bool = False,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> HashSummary:
    """The background pass: hash every readable track whose audio hash is missing or stale, folder by
    folder (sequential reads at disk speed).  Stops between files (or 1 MB blocks) when
    ``should_stop`` says so; what was hashed is kept, and the next pass goes on from there."""
    prune_hash_queue(library)
    return compute_hashes(
        library, tracks_to_hash(library, fingerprints=fingerprints), fingerprints=fingerprints,
        progress=progress, should_stop=should_stop,
    )  # fmt: skip


def store_hashes(library: Library, results: Sequence[tuple]) -> None:
    """Write (track_id, size, mtime, audio_hash, fingerprint, seconds, error, keys) in one transaction."""
    if not results:
        return
    with library.write() as conn:
        conn.executemany(_STORE_SQL, [row[:7] for row in results])
        conn.executemany("DELETE FROM hash_queue WHERE track_id = ?", [(row[0],) for row in results])
        for row in results:
            keys = row[7]
            if keys is not None:
                conn.execute("DELETE FROM fingerprint_keys WHERE track_id = ?", (row[0],))
                conn.executemany(
                    "INSERT OR IGNORE INTO fingerprint_keys (key, track_id) VALUES (?, ?)",
                    [(key, row[0]) for key in keys],
                )
