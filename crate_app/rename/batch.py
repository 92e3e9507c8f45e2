"""Planning a rename over library tracks: selection, sidecars, what is taken on disk and in the library.

This is what the CLI and the GUI call; the pure planning itself is ``planner.plan_renames``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from crate_app.domain.keys import KeyNotation
from crate_app.domain.rename import RenamePlan
from crate_app.domain.search import ParsedQuery
from crate_app.domain.track import TrackRecord, TrackStatus
from crate_app.rename.planner import CHECK_STOP_EVERY, PlanningStopped, plan_renames
from crate_app.rename.sanitize import DEFAULT_OPTIONS, SanitizeOptions
from crate_app.rename.template import compile_template
from crate_app.store import journal
from crate_app.store.library import Library

SIDECAR_EXTENSIONS = (".cue", ".lrc", ".txt")


@dataclass(frozen=True, slots=True)
class RenameRequest:
    """What the user asked for: a template, where to, and how."""

    template: str
    destination: str | None = None
    key_notation: KeyNotation = KeyNotation.CAMELOT
    carry_sidecars: bool = False
    remove_empty_folders: bool = False
    sanitize: SanitizeOptions = DEFAULT_OPTIONS

    def describe(self) -> str:
        where = f" into {self.destination}" if self.destination else ""
        return f"{self.template}{where}"


def is_case_insensitive(folder: str) -> bool:
    """Whether the filesystem holding ``folder`` ignores case in names (macOS, Windows, FAT/exFAT)."""
    probe = os.path.abspath(folder)
    while True:
        parent, name = os.path.split(probe)
        if name.swapcase() != name:
            flipped = os.path.join(parent, name.swapcase())
            try:
                return os.path.samefile(probe, flipped)
            except OSError:
                return False
        if parent == probe:
            return False
        probe = parent


def find_sidecars(path: str, extensions: Sequence[str] = SIDECAR_EXTENSIONS) -> list[str]:
    """Files next to ``path`` with the same stem and one of ``extensions`` (e.g. a .cue or .lrc)."""
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry == name or not entry.startswith(stem + "."):
            continue
        if os.path.splitext(entry)[1].lower() in extensions:
            found.append(os.path.join(folder, entry))
    return sorted(found)


def select_tracks(
    library: Library, query: ParsedQuery | None = None, ids: Iterable[int] | None = None
) -> list[TrackRecord]:
    """The tracks a batch applies to: by ids or by query; files known to be missing are left out."""
    wanted = list(ids) if ids is not None else list(library.iter_track_ids(query))
    tracks: list[TrackRecord] = []
    for start in range(0, len(wanted), 2000):
        chunk = library.tracks_by_ids(wanted[start : start + 2000])
        tracks.extend(t for t in chunk if t.status != TrackStatus.MISSING.value)
    return tracks


def plan_for_tracks(
    library: Library,
    tracks: Sequence[TrackRecord],
    request: RenameRequest,
    should_stop: Callable[[], bool] | None = None,
) -> RenamePlan:
    """Plan the batch; a path is taken if a file is there or a library entry (even a missing one) uses it.

    Raises PlanningStopped part-way when ``should_stop()`` says so (a newer template was typed)."""
    stop = should_stop or (lambda: False)
    template = compile_template(request.template)
    roots = library.roots()
    anchor = request.destination or (
        roots[0] if roots else (os.path.dirname(tracks[0].path) if tracks else ".")
    )
    case_insensitive = is_case_insensitive(
        anchor if os.path.exists(anchor) else os.path.dirname(anchor) or "."
    )

    def taken(path: str) -> bool:
        return os.path.lexists(path) or journal.track_id_at(library, path) is not None

    sidecars = None
    if request.carry_sidecars:
        sidecars = {}
        for number, track in enumerate(tracks):
            if number % CHECK_STOP_EVERY == 0 and stop():
                raise PlanningStopped
            sidecars[track.id] = find_sidecars(track.path)
    return plan_renames(
        tracks,
        template,
        exists=taken,
        library_roots=roots,
        destination=request.destination,
        case_insensitive=case_insensitive,
        sidecars=sidecars,
        key_notation=request.key_notation,
        options=request.sanitize,
        should_stop=stop,
    )
