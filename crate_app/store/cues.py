"""Cue points of tracks (domain.cues.CuePoint) in the library: read, replace, read many at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from crate_app.domain.cues import CuePoint, sorted_cues
from crate_app.store.library import Library

_COLUMNS = 'track_id, kind, number, start, "end", name, color'


def _cue(row: Sequence[object]) -> CuePoint:
    kind, number, start, end, name, color = row
    return CuePoint(kind, number, float(start), None if end is None else float(end), name or "", color)  # type: ignore[arg-type]


def cues_of(library: Library, track_id: int) -> list[CuePoint]:
    """The cues of one track, by start (hot before memory before loops at the same position)."""
    rows = library.execute(f"SELECT {_COLUMNS} FROM cues WHERE track_id = ?", (track_id,))
    return sorted_cues([_cue(row[1:]) for row in rows])


def cues_of_tracks(library: Library, ids: Iterable[int]) -> dict[int, list[CuePoint]]:
    """track id -> its cues, for the given ids (every id is a key; tracks without cues get [])."""
    wanted = list(dict.fromkeys(ids))
    found: dict[int, list[CuePoint]] = {track_id: [] for track_id in wanted}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in library.execute(f"SELECT {_COLUMNS} FROM cues WHERE track_id IN ({marks})", chunk):
            found[row[0]].append(_cue(row[1:]))
    return {track_id: sorted_cues(cues) for track_id, cues in found.items()}


def cues_in_id_range(library: Library, low: int, high: int) -> dict[int, list[CuePoint]]:
    """track id -> its cues, for the tracks with ids in ``low..high`` that have cues (one indexed range
    read: what a stream over the library in id order needs, without a key per track)."""
    found: dict[int, list[CuePoint]] = {}
    rows = library.execute(f"SELECT {_COLUMNS} FROM cues WHERE track_id BETWEEN ? AND ?", (low, high))
    for row in rows:
        found.setdefault(row[0], []).append(_cue(row[1:]))
    return {track_id: sorted_cues(cues) for track_id, cues in found.items()}


def replace_cues(library: Library, track_id: int, cues: Iterable[CuePoint]) -> None:
    """Make ``cues`` the track's cues (all others are removed), in one transaction."""
    replace_cues_of_tracks(library, {track_id: list(cues)})


def replace_cues_of_tracks(library: Library, cues_by_track: dict[int, list[CuePoint]]) -> None:
    """``replace_cues`` for many tracks in one transaction (imports)."""
    with library.write() as conn:
        for track_id, cues in cues_by_track.items():
            conn.execute("DELETE FROM cues WHERE track_id = ?", (track_id,))
            conn.executemany(
                f"INSERT INTO cues ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(track_id, c.kind, c.number, c.start, c.end, c.name, c.color) for c in cues],
            )
