"""The import side's edge: another program's collection into Crate's library, all or nothing.

Phase 1 reads the whole file and resolves every track (by path after ``--map``, in NFC and NFD, then by
size + name/content for files that moved) with read-only queries; a file that cannot be read stops the
import before anything is written.  Phase 2 writes everything in one transaction: tracks added, the
source's BPM/key/grid/cues kept beside Crate's own (``imported_analysis``), Crate's values filled in
where it has none (or replaced, with ``prefer="source"``), playlists as crates under a folder named after
the source (re-importing updates those crates instead of making new ones).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crate_app import crates
from crate_app.domain.crates import MAX_NAME_LENGTH, CrateNode, name_key
from crate_app.domain.cues import CuePoint
from crate_app.domain.errors import ExchangeError
from crate_app.domain.progress import Progress, ProgressMeter
from crate_app.domain.track import path_from_db, path_to_db
from crate_app.exchange import m3u, rekordbox_xml, traktor_nml
from crate_app.exchange.library_source import cue_point
from crate_app.exchange.model import ExchangeCue, ImportedTrack, PlaylistNode
from crate_app.exchange.paths import PathMapper, same_path_forms
from crate_app.exchange.timing import mp3_facts, offset_seconds
from crate_app.library.tags import scan_file
from crate_app.store.cues import cues_of_tracks, replace_cues_of_tracks
from crate_app.store.library import Library
from crate_app.store.rows import scanned_row
from crate_app.store.writer import upsert_rows

IMPORT_SOURCES = ("rekordbox", "traktor", "serato", "m3u8")
SOURCE_FOLDER = {"rekordbox": "rekordbox", "traktor": "Traktor", "serato": "Serato", "m3u8": "M3U"}
BATCH = 2000


@dataclass(slots=True)
class ImportReport:
    source: str
    path: str
    tracks: int = 0  # tracks in the file
    matched: int = 0
    added: int = 0
    not_found: list[tuple[str, str]] = field(default_factory=list)
    playlists: int = 0
    skipped: int = 0  # entries of the file left out (see warnings)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "tracks": self.tracks,
            "playlists": self.playlists,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "matched": self.matched,
            "added": self.added,
            "not_found": len(self.not_found),
        }

    def describe(self) -> str:
        return (
            f"{'Cancelled: nothing imported' if self.cancelled else 'Imported'} from {self.path}: "
            f"{self.tracks:,} tracks ({self.matched:,} matched, {self.added:,} added, "
            f"{len(self.not_found):,} not found), {self.playlists:,} playlists, {self.skipped:,} entries "
            f"left out, in {self.seconds:.1f} s"
        )


@dataclass(slots=True)
class _Resolved:
    """What phase 2 writes for one track of the file."""

    track_id: int | None
    path: str  # local path
    bpm: float | None
    key: int | None
    first_beat: float | None  # Crate's timeline
    cues: Sequence[object]
    row: tuple[object, ...] | None = None  # a file to add


_NO_CUES: tuple[object, ...] = ()


def read_source(
    kind: str, source: Path, warnings: list[str], partial: bool = False
) -> Iterator[ImportedTrack | list[PlaylistNode]]:
    """The reader of ``kind``: tracks as they are parsed, then the list of top-level playlists
    (``partial``: what can be read of a damaged file, the rest named in ``warnings``)."""
    if kind == "rekordbox":
        return rekordbox_xml.iter_read(source, warnings, partial=partial)
    if kind == "traktor":
        return traktor_nml.iter_read(source, warnings, partial=partial)
    if kind == "m3u8":
        collection = m3u.read(source, partial=partial)
        warnings.extend(collection.warnings)
        return iter([*collection.tracks, collection.playlists])
    if kind == "serato":
        from crate_app.exchange import serato_crates

        collection = serato_crates.read(source, partial=partial)
        warnings.extend(collection.warnings)
        return iter([*collection.tracks, collection.playlists])
    raise ExchangeError(f"cannot import from {kind!r} (one of {', '.join(IMPORT_SOURCES)})")


def content_digest(path: str) -> str | None:
    """A quick identity of a file's content: its size and a hash of its first and last 256 KB."""
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            digest = hashlib.blake2b(str(size).encode(), digest_size=16)
            digest.update(stream.read(1 << 18))
            if size > 1 << 19:
                stream.seek(-(1 << 18), os.SEEK_END)
                digest.update(stream.read())
            return digest.hexdigest()
    except OSError:
        return None


def import_file(
    library: Library,
    kind: str,
    source: Path,
    *,
    mapper: PathMapper | None = None,
    add_unknown: bool = True,
    prefer: str = "crate",
    partial: bool = False,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ImportReport:
    """Import ``source`` (a file of ``kind``) into ``library``; raises ExchangeError when unreadable,
    before anything is written.  With ``partial``, a damaged file gives what can be read of it (the
    report's warnings say what was left out), still written in one transaction."""
    if prefer not in ("crate", "source"):
        raise ValueError(f"prefer is 'crate' or 'source', not {prefer!r}")
    started = time.monotonic()
    mapper = mapper or PathMapper(normalization="")
    # Reads every page of the library once: no memory map (it would count the whole file as resident).
    library.limit_memory(cache_mb=64, mmap_mb=0)
    report = ImportReport(kind, str(source))
    meter = ProgressMeter(None, progress)
    ids_by_key: dict[object, int] = {}
    resolved: list[_Resolved] = []
    pending: list[tuple[ImportedTrack, str]] = []
    top: list[PlaylistNode] = []
    now = time.time()

    def flush() -> None:
        _match_by_path(library, pending, resolved, ids_by_key, kind)
        pending.clear()

    for item in read_source(kind, Path(source), report.warnings, partial):
        if isinstance(item, list):
            top = item
            continue
        report.tracks += 1
        pending.append((item, mapper.map_local(item.path)))
        if len(pending) >= BATCH:
            flush()
            meter.update(report.tracks)
            if should_stop is not None and should_stop():
                report.cancelled = True
                report.seconds = time.monotonic() - started
                return report
    flush()
    if kind == "traktor":  # playlists may name tracks the collection part does not hold
        for node in (n for top_node in top for _, n in top_node.walk()):
            for key in node.entries:
                if key not in ids_by_key and (path := traktor_nml.path_of_key(str(key))):
                    ids_by_key[key] = 0  # reserved until resolved by flush()
                    pending.append((ImportedTrack(key=key, path=path), mapper.map_local(path)))
                    report.tracks += 1
    flush()
    _key_by_location(top, resolved, ids_by_key, mapper)
    unmatched = [r for r in resolved if r.track_id is None]
    if unmatched:
        _match_moved(library, unmatched)
    for entry in resolved:
        if entry.track_id is not None:
            report.matched += 1
            continue
        try:
            stat = os.stat(entry.path)
        except OSError:
            report.not_found.append((entry.path, "the file is not on this computer (try --map FROM=TO)"))
            continue
        if not add_unknown:
            report.not_found.append((entry.path, "not in the library (adding was not chosen)"))
            continue
        entry.row = scanned_row(scan_file(entry.path, stat.st_size, stat.st_mtime), now)
    report.skipped = len(report.warnings)
    if should_stop is not None and should_stop():
        report.cancelled = True
        report.seconds = time.monotonic() - started
        return report
    _write(library, kind, resolved, ids_by_key, top, prefer, now, report)
    report.seconds = time.monotonic() - started
    meter.finish()
    return report


def _match_by_path(
    library: Library, pending: list[tuple[ImportedTrack, str]], resolved: list[_Resolved],
    ids_by_key: dict[object, int], kind: str,
) -> None:  # fmt: skip
    forms: dict[str, Sequence[str]] = {local: same_path_forms(local) for _, local in pending}
    # in path order: neighbouring lookups share the path index's pages (a quarter less CPU)
    states = library.file_states_of(sorted(f for spellings in forms.values() for f in spellings))
    for track, local in pending:
        state = None
        found = local
        for form in forms[local]:
            state = states.get(form)
            if state is not None:
                found = form
                break
        first_beat = track.first_beat
        if first_beat is not None or track.cues:
            shift = offset_seconds(kind, mp3_facts(found)) if found.lower().endswith(".mp3") else 0.0
            if shift:
                first_beat = None if first_beat is None else first_beat - shift
                for cue in track.cues:
                    cue.start -= shift
                    cue.end = None if cue.end is None else cue.end - shift
        cues = track.cues or _NO_CUES  # a million empty lists are 56 MB
        entry = _Resolved(state.id if state else None, found, track.bpm, track.key_code, first_beat, cues)
        resolved.append(entry)
        # < 0: an index into ``resolved`` (a file the library does not have yet)
        ids_by_key[track.key] = state.id if state is not None else -len(resolved)


def _key_by_location(
    top: list[PlaylistNode], resolved: list[_Resolved], ids_by_key: dict[object, int], mapper: PathMapper
) -> None:
    """rekordbox playlists with KeyType 1 name their tracks by Location (a path by now): add those
    paths as keys.  Done only when such a playlist exists (keys for a million paths cost ~100 MB)."""
    by_location = [n for top_node in top for _, n in top_node.walk() if n.ref == "location"]
    if not by_location:
        return
    by_path = {e.path: (e.track_id if e.track_id is not None else -(i + 1)) for i, e in enumerate(resolved)}
    for node in by_location:
        for entry in node.entries:
            if entry in ids_by_key:
                continue
            for form in same_path_forms(mapper.map_local(str(entry))):
                if form in by_path:
                    ids_by_key[entry] = by_path[form]
                    break


def _match_moved(library: Library, unmatched: list[_Resolved]) -> None:
    """Files the library knows under another path: same size and name (content compared when both
    files can be read), or same size and content."""
    sizes: dict[int, list[_Resolved]] = {}
    for entry in unmatched:
        try:
            size = os.path.getsize(entry.path)
        except OSError:
            continue
        sizes.setdefault(size, []).append(entry)
    if not sizes:
        return
    candidates: dict[int, list[tuple[int, str]]] = {}
    for track_id, path, size in library.execute("SELECT id, path, size FROM tracks"):
        if size in sizes:
            candidates.setdefault(size, []).append((track_id, path_from_db(path)))
    for size, entries in sizes.items():
        for entry in entries:
            digest = content_digest(entry.path)
            same = [
                track_id for track_id, path in candidates.get(size, [])
                if path != entry.path and digest is not None and content_digest(path) == digest
            ]  # fmt: skip
            if len(same) == 1:
                entry.track_id = same[0]
                entry.path = next(p for i, p in candidates[size] if i == same[0])


def _write(
    library: Library, kind: str, resolved: list[_Resolved], ids_by_key: dict[object, int],
    top: list[PlaylistNode], prefer: str, now: float, report: ImportReport,
) -> None:  # fmt: skip
    columns = {row[1] for row in library.execute("PRAGMA table_info(tracks)")}
    with library.write() as conn:
        # a file the source lists twice gives two equal rows; upsert_rows keeps one per path
        rows = [e.row for e in resolved if e.track_id is None and e.row is not None]
        added: set[int] = set()
        if rows:
            upsert_rows(library, rows)
            for entry in resolved:
                if entry.track_id is None and entry.row is not None:
                    found = conn.execute(
                        "SELECT id FROM tracks WHERE path = ?", (path_to_db(entry.path),)
                    ).fetchone()
                    if found:
                        entry.track_id = found[0]
                        added.add(found[0])
            report.added = len(added)
        for key in [k for k, v in ids_by_key.items() if v < 0]:
            track_id = resolved[-ids_by_key[key] - 1].track_id
            if track_id is None:
                del ids_by_key[key]
            else:
                ids_by_key[key] = track_id
        known = [e for e in resolved if e.track_id is not None]
        conn.executemany(
            "INSERT OR REPLACE INTO imported_analysis "
            "(track_id, source, bpm, key, first_beat, cues, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (e.track_id, kind, e.bpm, e.key, e.first_beat, _cues_json(e.cues), now)
                for e in known
                if e.bpm is not None or e.key is not None or e.first_beat is not None or e.cues
            ),
        )
        if prefer == "source":
            conn.executemany(
                "UPDATE tracks SET bpm = COALESCE(?, bpm), key = COALESCE(?, key) WHERE id = ?",
                ((e.bpm, e.key, e.track_id) for e in known if e.bpm is not None or e.key is not None),
            )
        else:
            conn.executemany(
                "UPDATE tracks SET bpm = COALESCE(bpm, ?), key = COALESCE(key, ?) WHERE id = ? "
                "AND (bpm IS NULL OR key IS NULL)",
                ((e.bpm, e.key, e.track_id) for e in known if e.bpm is not None or e.key is not None),
            )
        if "first_beat" in columns:
            op = "COALESCE(?, first_beat)" if prefer == "source" else "COALESCE(first_beat, ?)"
            conn.executemany(
                f"UPDATE tracks SET first_beat = {op} WHERE id = ?",
                ((e.first_beat, e.track_id) for e in known if e.first_beat is not None),
            )
        _store_cues(library, [e for e in known if e.cues], prefer, report)
        if top:
            report.playlists = _write_crates(library, SOURCE_FOLDER[kind], top, ids_by_key)


def _cues_json(cues: list[object]) -> str | None:
    if not cues:
        return None
    items = []
    for cue in cues:
        c: ExchangeCue = cue  # type: ignore[assignment]
        end = None if c.end is None else round(c.end, 4)
        items.append(
            {
                "kind": c.kind,
                "number": c.number,
                "start": round(c.start, 4),
                "end": end,
                "name": c.name,
                "color": c.color,
            }
        )
    return json.dumps(items, ensure_ascii=False)


def _store_cues(library: Library, entries: list[_Resolved], prefer: str, report: ImportReport) -> None:
    """The imported cues become the track's cues where it has none (all of them with prefer="source")."""
    have = cues_of_tracks(library, [e.track_id for e in entries])  # type: ignore[misc]
    replace: dict[int, list[CuePoint]] = {}
    dropped = 0
    for entry in entries:
        if prefer == "crate" and have.get(entry.track_id):  # type: ignore[arg-type]
            continue
        points = [cue_point(c) for c in entry.cues]  # type: ignore[arg-type]
        dropped += sum(1 for p in points if p is None)
        replace[entry.track_id] = [p for p in points if p is not None]  # type: ignore[index]
    if dropped:
        report.warnings.append(
            f"{dropped:,} cues could not be kept (before the start, or unnumbered hot cues)"
        )
    replace_cues_of_tracks(library, replace)


def crate_name(name: str) -> str:
    """A playlist name another program allowed, as a crate name Crate allows."""
    cleaned = "".join(ch for ch in name if ord(ch) >= 32 and ch != "\x7f").strip()
    return cleaned[:MAX_NAME_LENGTH].strip() or "Untitled"


def _child(
    library: Library,
    parent_id: int | None,
    name: str,
    kind: str,
    taken: set[str],
    existing: dict[str, CrateNode],
) -> CrateNode:
    """The child of ``parent_id`` called ``name`` of this kind (made if missing; ``existing``: its children
    by name key); a second playlist of the same name in the same folder gets " (2)"."""
    candidate, number = name, 2
    while True:
        key = name_key(candidate)
        node = existing.get(key)
        if key not in taken and (node is None or node.kind == kind):
            taken.add(key)
            if node is not None:
                return node
            return crates.create_node(library, parent_id, candidate, kind)
        suffix = f" ({number})"
        candidate = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
        number += 1


def _write_crates(
    library: Library, folder_name: str, top: list[PlaylistNode], ids_by_key: dict[object, int]
) -> int:
    """Playlists as crates below a folder named after the source, in order; crates there already get
    their entries replaced (a re-import updates, never duplicates)."""
    made = 0

    def place(nodes: list[PlaylistNode], parent_id: int) -> None:
        nonlocal made
        taken: set[str] = set()
        existing = {name_key(c.name): c for c in crates.children_of(library, parent_id)}
        for node in nodes:
            kind = "folder" if node.is_folder else "crate"
            crate = _child(library, parent_id, crate_name(node.name), kind, taken, existing)
            if node.is_folder:
                place(node.children, crate.id)
                continue
            ids = list(dict.fromkeys(ids_by_key[k] for k in node.entries if k in ids_by_key))
            old = crates.crate_track_ids(library, crate.id)
            if old != ids:
                if old:
                    crates.remove_tracks(library, crate.id, old)
                crates.add_tracks(library, crate.id, ids, known_tracks=True)  # ids_by_key: tracks' ids
            made += 1

    top_level = {name_key(c.name): c for c in crates.children_of(library, None)}
    root = _child(library, None, folder_name, "folder", set(), top_level)
    place(top, root.id)
    return made
