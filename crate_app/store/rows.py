"""Rows as the tracks table stores them, built without the database (no peewee import here).

The scanner's worker processes build their rows with ``scanned_row`` and import only this module
and the tag reader, so that they start quickly.
"""

from __future__ import annotations

import os

from crate_app.domain.track import TAG_FIELDS, ScannedFile, TrackStatus, path_to_db

_TEXT_TAGS = {"format", "codec", "title", "artist", "album", "albumartist", "genre", "comment", "label"}
_FILE_COLUMNS = ("path", "folder", "filename", "size", "mtime")
UPSERT_COLUMNS = (*_FILE_COLUMNS, *TAG_FIELDS, "date_added", "last_scanned", "status", "error")


def scanned_row(item: ScannedFile, now: float) -> tuple[object, ...]:
    """The UPSERT_COLUMNS values for one scanned file."""
    folder, filename = os.path.split(item.path)
    tags = item.tags
    values: list[object] = [
        path_to_db(item.path),
        path_to_db(folder),
        path_to_db(filename),
        item.size,
        item.mtime,
    ]
    for name in TAG_FIELDS:
        value = getattr(tags, name) if tags is not None else None
        if value is None and name in _TEXT_TAGS:
            value = ""
        values.append(value)
    status = TrackStatus.OK if item.error is None else TrackStatus.ERROR
    values += [now, now, status.value, item.error]
    return tuple(values)
