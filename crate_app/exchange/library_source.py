"""The export side's edge: Crate's library (tracks, crates, cues) as an ExportSource.

Tracks are streamed from SQLite in id order; cues are fetched per chunk; MP3 timing facts are read only
for MP3s that carry a grid or cues (the only times that an offset changes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from crate_app import crates
from crate_app.domain.crates import CrateNode, CrateTreeError
from crate_app.domain.cues import CuePoint
from crate_app.domain.track import path_from_db
from crate_app.exchange.model import EntryRow, ExchangeCue, ExportTrack, PlaylistNode
from crate_app.exchange.timing import mp3_facts, offset_seconds
from crate_app.store.cues import cues_in_id_range, cues_of_tracks
from crate_app.store.library import Library

# The SELECT list in ExportTrack's field order (text columns are NOT NULL in the store), so that a row
# becomes an ExportTrack without a dict per track; columns a library lacks are selected as NULL.
_SELECT = (
    "id", "path", "title", "artist", "album", "genre", "label", "comment", "year", "track_no",
    "duration", "COALESCE(size, 0)", "bitrate", "sample_rate", "format", "bpm", "key", "first_beat",
    "first_downbeat", "COALESCE(date_added, 0.0)",
)  # fmt: skip
_OPTIONAL = ("first_beat", "first_downbeat")
CHUNK = 1000


def exchange_cue(cue: CuePoint) -> ExchangeCue:
    """A stored cue as the formats carry it (colour as 0xRRGGBB)."""
    color = int(cue.color[1:], 16) if cue.color else None
    return ExchangeCue(cue.kind, cue.number, cue.start, cue.end, cue.name or "", color)


def cue_point(cue: ExchangeCue, shift: float = 0.0) -> CuePoint | None:
    """An imported cue as Crate stores it, moved by ``shift`` seconds; None if it cannot be one (a
    position before the start, a loop ending before it begins)."""
    start = cue.start + shift
    end = None if cue.end is None else cue.end + shift
    color = None if cue.color is None else f"#{cue.color & 0xFFFFFF:06x}"
    number = cue.number if cue.number is not None and cue.number >= 0 else None
    if cue.kind == "hot" and number is None:
        return None
    if start < -0.001:  # before the audio starts (a timing shift can push a cue at 0 s below it)
        return None
    try:
        return CuePoint(cue.kind, number, max(0.0, start), end, cue.name, color)  # type: ignore[arg-type]
    except ValueError:
        return None


class CrateNotFound(LookupError):
    pass


class LibrarySource:
    """An ExportSource over a library: every track and crate, or only the crates at ``crate_paths``."""

    def __init__(self, library: Library, target: str, crate_paths: Sequence[str] = ()) -> None:
        self.library = library
        self.target = target
        names = {row[1] for row in library.execute("PRAGMA table_info(tracks)")}
        self._select = ", ".join(c if c not in _OPTIONAL or c in names else "NULL" for c in _SELECT)
        self._top = self._build_tree(crate_paths)
        self._selected: list[int] | None = None
        if crate_paths:
            wanted: dict[int, None] = {}
            for node in self._top:
                for _, n in node.walk():
                    if not n.is_folder:
                        wanted.update(dict.fromkeys(self.entries(n)))
            self._selected = sorted(wanted)

    # -- the tree ------------------------------------------------------------------------------------
    def _build_tree(self, crate_paths: Sequence[str]) -> list[PlaylistNode]:
        nodes = crates.list_nodes(self.library, with_counts=False)
        by_parent: dict[int | None, list[CrateNode]] = {}
        for node in nodes:
            by_parent.setdefault(node.parent_id, []).append(node)

        def build(node: CrateNode) -> PlaylistNode:
            children = sorted(by_parent.get(node.id, []), key=lambda n: (n.position, n.id))
            return PlaylistNode(
                node.name, node.is_folder, [build(c) for c in children], ref=node.id,
                query=node.query if node.is_smart else None, limit=node.limit if node.is_smart else None,
            )  # fmt: skip

        if crate_paths:
            chosen = []
            for path in crate_paths:
                try:
                    chosen.append(build(crates.node_by_path(self.library, path, with_counts=False)))
                except CrateTreeError as exc:
                    raise CrateNotFound(str(exc)) from None
            return chosen
        return [build(n) for n in sorted(by_parent.get(None, []), key=lambda n: (n.position, n.id))]

    def playlists(self) -> list[PlaylistNode]:
        return self._top

    def entries(self, node: PlaylistNode) -> list[int]:
        if node.is_folder:
            return []
        return crates.crate_track_ids(self.library, node.ref)  # type: ignore[arg-type]

    # -- tracks ----------------------------------------------------------------------------------------
    def track_count(self) -> int:
        if self._selected is not None:
            return len(self._selected)
        return self.library.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]

    def iter_tracks(self) -> Iterator[ExportTrack]:
        if self._selected is not None:
            for start in range(0, len(self._selected), CHUNK):
                yield from self._fetch(self._selected[start : start + CHUNK])
            return
        cursor = self.library.execute(f"SELECT {self._select} FROM tracks ORDER BY id")
        make = self._track
        while rows := cursor.fetchmany(CHUNK):
            tracks = [make(row) for row in rows]
            by_track = cues_in_id_range(self.library, tracks[0].id, tracks[-1].id)
            yield from self._complete(tracks, by_track)

    def tracks_by_ids(self, ids: Sequence[int]) -> list[ExportTrack]:
        """Tracks for playlist entries: id, path, title, artist and duration only (what a playlist
        line shows; the collection has the rest), in the order of ``ids``."""
        found: dict[int, ExportTrack] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.library.execute(
                f"SELECT id, path, title, artist, duration FROM tracks WHERE id IN ({marks})", chunk
            )
            for track_id, path, title, artist, duration in rows:
                found[track_id] = ExportTrack(track_id, path_from_db(path), title, artist, duration=duration)
        return [found[i] for i in ids if i in found]

    def iter_entry_rows(self) -> Iterator[EntryRow]:
        """(id, local path, title, artist, duration) of every track (or of the chosen crates' tracks),
        in id order: one pass over the table."""
        wanted = None if self._selected is None else set(self._selected)
        cursor = self.library.execute("SELECT id, path, title, artist, duration FROM tracks ORDER BY id")
        while rows := cursor.fetchmany(CHUNK):
            for track_id, path, title, artist, duration in rows:
                if wanted is None or track_id in wanted:
                    yield track_id, path_from_db(path), title, artist, duration

    def _fetch(self, ids: Sequence[int]) -> list[ExportTrack]:
        """Whole tracks (with cues and timing) by id, in the order of ``ids``."""
        found: dict[int, ExportTrack] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.library.execute(f"SELECT {self._select} FROM tracks WHERE id IN ({marks})", chunk)
            tracks = [self._track(row) for row in rows]
            for track in self._complete(tracks):
                found[track.id] = track
        return [found[i] for i in ids if i in found]

    @staticmethod
    def _track(row: Sequence[object]) -> ExportTrack:
        return ExportTrack(row[0], path_from_db(row[1]), *row[2:])  # type: ignore[arg-type]

    def _complete(
        self, tracks: list[ExportTrack], by_track: dict[int, list[CuePoint]] | None = None
    ) -> list[ExportTrack]:
        """Add cues and the target's MP3 timing offset (``by_track``: the cues, when already read)."""
        if by_track is None and tracks:
            by_track = cues_of_tracks(self.library, [t.id for t in tracks])
        for track in tracks:
            cues = by_track.get(track.id) if by_track else None
            if cues:
                track.cues = [exchange_cue(c) for c in cues]
            if (track.first_beat is not None or cues) and track.format.lower() == "mp3":
                track.time_offset = offset_seconds(self.target, mp3_facts(track.path))
        return tracks
