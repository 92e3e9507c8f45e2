"""Overview waveforms (analysis.waveform blobs) in their side table, one row per analysed track."""

from __future__ import annotations

from crate_app.store.library import Library


def waveform_of(library: Library, track_id: int) -> bytes | None:
    """The stored overview of a track, or None when it has not been analysed with one."""
    row = library.execute("SELECT data FROM waveforms WHERE track_id = ?", (track_id,)).fetchone()
    return bytes(row[0]) if row else None


def waveforms_of(library: Library, track_ids: list[int]) -> dict[int, bytes]:
    """The stored overviews of these tracks (one indexed query per 500 ids; tracks without one are left
    out)."""
    found: dict[int, bytes] = {}
    for start in range(0, len(track_ids), 500):
        chunk = track_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT track_id, data FROM waveforms WHERE track_id IN ({marks})"
        for track_id, data in library.execute(sql, chunk):
            found[track_id] = bytes(data)
    return found


def save_waveform(library: Library, track_id: int, data: bytes) -> None:
    """Store (or replace) a track's overview."""
    with library.write() as conn:
        conn.execute("INSERT OR REPLACE INTO waveforms (track_id, data) VALUES (?, ?)", (track_id, data))
