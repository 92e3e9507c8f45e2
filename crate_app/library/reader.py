"""The worker-process side of a scan: read a chunk of files into rows ready for the store.

Kept apart from ``scanner`` so that a worker process imports only the tag reader and the row
builder (mutagen, no peewee): workers start in about half the time.
"""

from __future__ import annotations

from collections.abc import Sequence

from crate_app.library.tags import scan_file
from crate_app.store.rows import scanned_row

Entry = tuple[str, int, float]  # path, size, mtime
Row = tuple[object, ...]  # values in crate_app.store.rows.UPSERT_COLUMNS order


def read_chunk(entries: Sequence[Entry], now: float) -> list[Row]:
    """Read a chunk of files (never raises for a file) and return their rows."""
    return [scanned_row(scan_file(path, size, mtime), now) for path, size, mtime in entries]
