"""A rescan that sees a file vanish in one place and the same file appear in another: a move.

After a scan, each track that went missing in it is compared with the tracks the scan added: the same
size, format, artist, title, album and duration (to 0.1 s), one vanished and one new with that
identity (never a guess between several), and, when the vanished track's audio hash is known, the
same audio hash.  Each such pair becomes one track: the old one (its id, and with it analysis, crates
and history) takes the new file's path and tags; the new row is deleted.  One transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from crate_app.domain.track import names_from_filename, path_from_db, path_to_db
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
    """(vanished track id, new track id) pairs that are the same file moved.

    An untagged file's artist and title come from its file name, so they change when it is renamed:
    tracks left over after matching on the whole identity are matched once more without artist and
    title where one side's names are its file name's (still one vanished and one new, never a guess)."""
    if not vanished_ids or not new_paths:
        return []
    hashes = _has_hashes(library)
    vanished: list[_Candidate] = []
    for chunk in _chunks(list(vanished_ids)):
        marks = ",".join("?" * len(chunk))
        select_hash = (
            "(SELECT audio_hash FROM track_hashes h WHERE h.track_id = t.id AND h.size = t.size)"
            if hashes
            else "NULL"
        )
        for track_id, digest, filename, *identity in library.execute(
            f"SELECT id, {select_hash}, filename, {_IDENTITY} FROM tracks t WHERE id IN ({marks})", chunk
        ):
            vanished.append(_Candidate(track_id, digest, tuple(identity), _named_by_file(identity, filename)))
    appeared: list[_Candidate] = []
    for chunk in _chunks([path_to_db(p) for p in new_paths]):
        marks = ",".join("?" * len(chunk))
        for track_id, path, filename, *identity in library.execute(
            f"SELECT id, path, filename, {_IDENTITY} FROM tracks WHERE path IN ({marks}) AND status = 'ok'",
            chunk,
        ):
            appeared.append(
                _Candidate(track_id, path_from_db(path), tuple(identity), _named_by_file(identity, filename))
            )
    pairs = _pair(vanished, appeared, lambda c: c.identity)
    paired = {i for pair in pairs for i in pair}
    vanished = [c for c in vanished if c.track_id not in paired]
    appeared = [c for c in appeared if c.track_id not in paired]
    loose = _pair(
        vanished, appeared, lambda c: c.identity[:2] + c.identity[4:], lambda a, b: a.by_file or b.by_file
    )  # the identity without artist and title
    return pairs + loose


class _Candidate(NamedTuple):
    track_id: int
    extra: str | None  # a vanished track's audio hash (if known); a new track's path
    identity: tuple
    by_file: bool  # its artist and title are what its file name gives (an untagged file)


def _named_by_file(identity: Sequence[object], filename: str) -> bool:
    artist, title = identity[2], identity[3]
    return (artist or "", title or "") == names_from_filename(path_from_db(filename))


def _pair(
    vanished: list[_Candidate], appeared: list[_Candidate], key, allowed=lambda _a, _b: True
) -> list[tuple[int, int]]:
    olds: dict[tuple, list[_Candidate]] = {}
    for candidate in vanished:
        olds.setdefault(key(candidate), []).append(candidate)
    news: dict[tuple, list[_Candidate]] = {}
    for candidate in appeared:
        news.setdefault(key(candidate), []).append(candidate)
    pairs = []
    for identity, old_ones in olds.items():
        new_ones = news.get(identity, [])
        if len(old_ones) != 1 or len(new_ones) != 1:
            continue  # none, or several alike: a missing track and a new one, never a guess
        old, new = old_ones[0], new_ones[0]
        if not allowed(old, new):
            continue
        if old.extra is not None:
            try:
                if audio_hash(new.extra) != old.extra:  # type: ignore[arg-type]
                    continue
            except AudioHashError:
                continue
        pairs.append((old.track_id, new.track_id))
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
