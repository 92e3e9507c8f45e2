"""A rescan that sees a file vanish in one place and the same file appear in another: a move.

After a scan, each track that went missing in it is compared with the tracks the scan added: the same
size, format, artist, title, album and duration (to 0.1 s), one vanished and one new with that
identity (never a guess between several), and, when the vanished track's audio hash is known, the
same audio hash.  Each such pair becomes one track: the old one (its id, and with it analysis, crates
and history) takes the new file's path and tags; the new row is deleted.  One transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from crate_app.domain.track import path_from_db, path_to_db
from crate_app.library.audiohash import AudioHashError, audio_hash
from crate_app.store.library import Library
from crate_app.store.rows import UPSERT_COLUMNS, rescan_assignment

_IDENTITY = "size, format, artist, title, album, ROUND(COALESCE(duration, -1), 1)"
# What the old track takes from the new row: the file and its tags, not its date added; analysed or
# locked BPM and key, and a rating or colour the file does not carry, are kept (as a rescan keeps them).
_TAKEN = [c for c in UPSERT_COLUMNS if c != "date_added"]


def _chunks(items: Sequence, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _has_hashes(library: Library) -> bool:
    return library.execute("SELECT 1 FROM sqlite_master WHERE name = 'track_hashes'").fetchone() is not None


def find_moves(
    library: Library, vanished_ids: Sequence[int], new_paths: Sequence[str]
) -> list[tuple[int, int]]:
    """(vanished track id, new track id) pairs that are the same file moved."""
    if not vanished_ids or not new_paths:
        return []
    hashes = _has_hashes(library)
    vanished: dict[tuple, list[tuple[int, str | None]]] = {}
    for chunk in _chunks(list(vanished_ids)):
        marks = ",".join("?" * len(chunk))
        select_hash = (
            "(SELECT audio_hash FROM track_hashes h WHERE h.track_id = t.id AND h.size = t.size)"
            if hashes
            else "NULL"
        )
        for track_id, digest, *identity in library.execute(
            f"SELECT id, {select_hash}, {_IDENTITY} FROM tracks t WHERE id IN ({marks})", chunk
        ):
            vanished.setdefault(tuple(identity), []).append((track_id, digest))
    appeared: dict[tuple, list[tuple[int, str]]] = {}
    for chunk in _chunks([path_to_db(p) for p in new_paths]):
        marks = ",".join("?" * len(chunk))
        for track_id, path, *identity in library.execute(
            f"SELECT id, path, {_IDENTITY} FROM tracks WHERE path IN ({marks}) AND status = 'ok'", chunk
        ):
            appeared.setdefault(tuple(identity), []).append((track_id, path_from_db(path)))
    pairs = []
    for identity, olds in vanished.items():
        news = appeared.get(identity, [])
        if len(olds) != 1 or len(news) != 1:
            continue  # none, or several alike: a missing track and a new one, never a guess
        (old_id, digest), (new_id, path) = olds[0], news[0]
        if digest is not None:
            try:
                if audio_hash(path) != digest:
                    continue
            except AudioHashError:
                continue
        pairs.append((old_id, new_id))
    return pairs


def merge_moves(library: Library, pairs: Sequence[tuple[int, int]]) -> int:
    """Make each (old, new) pair one track with the old id and the new file; returns how many."""
    if not pairs:
        return 0
    columns = ", ".join(_TAKEN)
    assignments = ", ".join(f"{c} = {rescan_assignment(c, '?')}" for c in _TAKEN)
    hashes = _has_hashes(library)
    merged = 0
    with library.write() as conn:
        for old_id, new_id in pairs:
            row = conn.execute(f"SELECT {columns} FROM tracks WHERE id = ?", (new_id,)).fetchone()
            if row is None:
                continue
            conn.execute("DELETE FROM tracks WHERE id = ?", (new_id,))
            conn.execute(f"UPDATE tracks SET {assignments} WHERE id = ?", (*row, old_id))
            if hashes:
                size, mtime = row[_TAKEN.index("size")], row[_TAKEN.index("mtime")]
                conn.execute(
                    "UPDATE track_hashes SET mtime = ? WHERE track_id = ? AND size = ?", (mtime, old_id, size)
                )
            merged += 1
    return merged
