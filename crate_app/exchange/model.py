"""The neutral records every format module reads and writes."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

CUE_KINDS = ("hot", "memory", "loop")


@dataclass(slots=True)
class ExchangeCue:
    """A cue point or loop as the formats carry it (seconds on Crate's timeline)."""

    kind: str  # "hot" | "memory" | "loop"
    number: int | None  # hot cue pad, 0 = A; None for memory cues and unnumbered loops
    start: float
    end: float | None = None  # loops only
    name: str = ""
    color: int | None = None  # 0xRRGGBB


@dataclass(slots=True)
class ExportTrack:
    """One track as an export writes it (local path; the writer maps it for the target)."""

    id: int
    path: str
    title: str = ""
    artist: str = ""
    album: str = ""
    genre: str = ""
    label: str = ""
    comment: str = ""
    year: int | None = None
    track_no: int | None = None
    duration: float | None = None
    size: int = 0
    bitrate: int | None = None  # kbit/s
    sample_rate: int | None = None
    format: str = ""
    bpm: float | None = None
    key: int | None = None  # canonical key code (crate_app.domain.keys)
    first_beat: float | None = None  # seconds, Crate's decoder timeline
    first_downbeat: float | None = None
    date_added: float = 0.0
    cues: list[ExchangeCue] = field(default_factory=list)
    # Seconds to add to every time for the target (MP3 decoder conventions, see ``timing``).
    time_offset: float = 0.0


@dataclass(slots=True)
class PlaylistNode:
    """A folder or a playlist.  Export: ``ref`` is the source's handle (a crate id) and the entries are
    asked for when written; import: ``entries`` are the source's track keys in order."""

    name: str
    is_folder: bool
    children: list[PlaylistNode] = field(default_factory=list)
    entries: list[object] = field(default_factory=list)
    ref: object = None
    query: str | None = None  # export: a smart crate's query (its entries are its tracks now)
    limit: int | None = None  # export: a smart crate's limit on its number of tracks

    def walk(self, parents: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], PlaylistNode]]:
        """(path of names, node) for this node and every node below it, depth first, in order."""
        here = (*parents, self.name)
        yield here, self
        for child in self.children:
            yield from child.walk(here)


def count_playlists(nodes: Sequence[PlaylistNode]) -> int:
    return sum(1 for node in nodes for _, n in node.walk() if not n.is_folder)


class ExportSource(Protocol):
    """What an export reads: the library (``library_source``) or plain lists in tests."""

    def track_count(self) -> int:
        """How many tracks ``iter_tracks`` yields (an upper bound is enough)."""
        ...

    def iter_tracks(self) -> Iterator[ExportTrack]:
        """Every exported track, streamed."""
        ...

    def playlists(self) -> list[PlaylistNode]:
        """The top-level folders and playlists, in the user's order."""
        ...

    def entries(self, node: PlaylistNode) -> list[int]:
        """Track ids of a playlist, in order."""
        ...

    def tracks_by_ids(self, ids: Sequence[int]) -> list[ExportTrack]:
        """The tracks with these ids, in the order given (unknown ids left out): for playlist entries,
        so only id, path, title, artist and duration need to be filled in."""
        ...

    def iter_entry_rows(self) -> Iterator[EntryRow]:
        """(id, path, title, artist, duration) of every track, in one pass: for writers that need these
        for most tracks (a pass costs a fraction of looking each one up)."""
        ...


EntryRow = tuple[int, str, str, str, "float | None"]


@dataclass(slots=True)
class ImportedTrack:
    """One track as a reader found it in another app's file."""

    key: object  # how the source's playlists refer to it (TrackID, Traktor key, path)
    path: str  # local path after decoding the source's notation (before --map)
    title: str = ""
    artist: str = ""
    album: str = ""
    genre: str = ""
    label: str = ""
    comment: str = ""
    year: int | None = None
    track_no: int | None = None
    duration: float | None = None
    size: int | None = None
    bpm: float | None = None
    key_code: int | None = None
    first_beat: float | None = None  # on the source app's timeline
    cues: list[ExchangeCue] = field(default_factory=list)


@dataclass(slots=True)
class ImportedCollection:
    """What a reader returns: tracks (possibly streamed by the reader), playlists and warnings."""

    source: str  # "rekordbox", "traktor", ...
    tracks: list[ImportedTrack]
    playlists: list[PlaylistNode]
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ExportReport:
    """What an export wrote; ``skipped`` holds (path, reason) for every track left out."""

    target: str
    dest: str
    tracks: int = 0
    playlists: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the target changed something (in words)
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    cancelled: bool = False

    def finish(self) -> ExportReport:
        self.seconds = time.monotonic() - self.started
        return self

    def as_dict(self) -> dict[str, object]:
        return {
            "tracks": self.tracks,
            "playlists": self.playlists,
            "skipped": len(self.skipped),
            "seconds": round(self.seconds, 3),
        }


class ListSource:
    """An ExportSource over plain lists (tests, and exports of a few tracks)."""

    def __init__(
        self,
        tracks: Sequence[ExportTrack],
        playlists: Sequence[PlaylistNode] = (),
    ) -> None:
        self._tracks = list(tracks)
        self._by_id = {t.id: t for t in self._tracks}
        self._playlists = list(playlists)

    def track_count(self) -> int:
        return len(self._tracks)

    def iter_tracks(self) -> Iterator[ExportTrack]:
        return iter(self._tracks)

    def playlists(self) -> list[PlaylistNode]:
        return self._playlists

    def entries(self, node: PlaylistNode) -> list[int]:
        return [int(e) for e in node.entries]  # type: ignore[call-overload]

    def tracks_by_ids(self, ids: Sequence[int]) -> list[ExportTrack]:
        return [self._by_id[i] for i in ids if i in self._by_id]

    def iter_entry_rows(self) -> Iterator[EntryRow]:
        return ((t.id, t.path, t.title, t.artist, t.duration) for t in self._tracks)
