"""Rows as the tracks table stores them, built without the database (no peewee import here).

The scanner's worker processes build their rows with ``scanned_row`` and import only this module
and the tag reader, so that they start quickly.
"""

from __future__ import annotations

import os

from crate_app.domain.track import TAG_FIELDS, ScannedFile, TrackStatus, path_to_db, with_filename_names

_TEXT_TAGS = {
    "format", "codec", "title", "artist", "album", "albumartist", "genre", "comment", "label", "color",
}  # fmt: skip
_FILE_COLUMNS = ("path", "folder", "filename", "size", "mtime")
UPSERT_COLUMNS = (*_FILE_COLUMNS, *TAG_FIELDS, "date_added", "last_scanned", "status", "error")
# Values a rescan must not simply overwrite: analysed or corrected (locked) BPM and key win over the
# tags; rating and colour from the tags replace the library's, but a file without them keeps the
# library's (a rating set in Crate is not lost because another app rewrote the file without it).
_KEPT_IF_ANALYSED = ("bpm", "key")
_KEPT_IF_UNTAGGED = ("rating", "color")


def rescan_assignment(column: str, new: str, prefix: str = "") -> str:
    """The SQL expression a rescan (or a move) stores in ``column``: ``new`` is the scanned value's
    SQL (``excluded.rating``, ``?``: used once), ``prefix`` qualifies the stored row's columns."""
    if column in _KEPT_IF_ANALYSED:
        return (
            f"CASE WHEN {prefix}analyzed_at IS NULL AND NOT {prefix}{column}_locked "
            f"THEN {new} ELSE {prefix}{column} END"
        )
    if column in _KEPT_IF_UNTAGGED:
        return f"COALESCE(NULLIF({new}, ''), {prefix}{column})"
    return new


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
    names = dict(zip(("artist", "title"), with_filename_names(
        tags.artist if tags is not None else None, tags.title if tags is not None else None, filename
    ), strict=True))  # fmt: skip
    for name in TAG_FIELDS:
        value = names[name] if name in names else getattr(tags, name) if tags is not None else None
        if value is None and name in _TEXT_TAGS:
            value = ""
        values.append(value)
    status = TrackStatus.OK if item.error is None else TrackStatus.ERROR
    values += [now, now, status.value, item.error]
    return tuple(values)
