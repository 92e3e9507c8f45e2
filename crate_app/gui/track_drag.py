"""What a drag of table rows carries: the track ids (and the crate they came from) for Crate's own
views, and the files as ``text/uri-list`` for file managers and DJ software."""

from __future__ import annotations

import array
from collections.abc import Sequence

from PySide6.QtCore import QMimeData, QUrl

TRACKS_MIME = "application/x-crate-track-ids"
NODES_MIME = "application/x-crate-node-ids"
# Dragging tens of thousands of rows out to another program: its file list would be megabytes and
# the paths would be read on the GUI thread; Crate's own views only need the ids.
MAX_URIS = 10_000


def tracks_mime(
    track_ids: Sequence[int], source_crate_id: int | None, paths: Sequence[str] = ()
) -> QMimeData:
    """A drag's data for these tracks; ``paths`` (the tracks' files) become the uri-list."""
    mime = QMimeData()
    payload = array.array("q", [source_crate_id or 0, *track_ids])
    mime.setData(TRACKS_MIME, payload.tobytes())
    if paths:
        mime.setUrls([QUrl.fromLocalFile(path) for path in paths])
    return mime


def tracks_from_mime(mime: QMimeData) -> tuple[list[int], int | None] | None:
    """(track ids, source crate id or None) from a drag of table rows; None if it carries none."""
    if not mime.hasFormat(TRACKS_MIME):
        return None
    payload = array.array("q")
    payload.frombytes(bytes(mime.data(TRACKS_MIME).data()))
    if not payload:
        return None
    return payload[1:].tolist(), (payload[0] or None)


def nodes_mime(node_ids: Sequence[int]) -> QMimeData:
    mime = QMimeData()
    mime.setData(NODES_MIME, array.array("q", node_ids).tobytes())
    return mime


def nodes_from_mime(mime: QMimeData) -> list[int]:
    if not mime.hasFormat(NODES_MIME):
        return []
    payload = array.array("q")
    payload.frombytes(bytes(mime.data(NODES_MIME).data()))
    return payload.tolist()


def local_paths(mime: QMimeData) -> list[str]:
    """Local files and folders in a drag from a file manager (Crate's own row drags excluded)."""
    if mime.hasFormat(TRACKS_MIME) or not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]
