"""Relinking missing tracks to files that were moved or renamed outside Crate, by content.

``plan_relink`` walks a folder and matches each missing track to the files there:
1. the same size and, when the track's audio hash is known, the same audio hash; a track without a
   hash matches a same-size file only when the file's tags say the same (format, artist, title,
   duration to 0.5 s);
2. then, for tracks still unmatched that have an audio hash or a fingerprint (a moved file that was
   also re-tagged or re-encoded): the same audio hash, else the same recording by Chromaprint, among
   the remaining files whose duration is within 2 s and whose file name holds every word of the
   track's title or its old file name (a tagger names files after their tags; a hand-moved file keeps
   its name).  In a folder of at most ``BLIND_POOL`` remaining files every file is a candidate, so
   that a renamed and re-tagged file is still found; in a big folder, decoding every file for its
   fingerprint would take hours, and such a track is reported not found.  Per track, at most
   ``MAX_DECODES_PER_TRACK`` files are decoded, those closest in duration first; a match found while
   other candidates were left undecoded is not sure to be the only one, and is left to the user.
A track with several matching files, or a file matched by several tracks, is ambiguous: the user
chooses (``relink_one``), Crate never guesses.  Files already in the library are never candidates,
so two tracks never point at one file.  ``apply_relink`` moves the tracks in one transaction; each
keeps its id, and with it analysis, crates and history.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from crate_app.domain.errors import CrateError
from crate_app.domain.track import path_from_db, path_to_db
from crate_app.hygiene.duplicates import normalise
from crate_app.hygiene.fingerprint import FingerprintError, fingerprint_file, from_blob, same_recording
from crate_app.library.audiohash import AudioHashError, audio_hash
from crate_app.library.scanner import AUDIO_EXTENSIONS
from crate_app.library.tags import TagReadError, read_tags
from crate_app.library.walk import walk_audio
from crate_app.store.library import Library

DURATION_TOLERANCE = 2.0
BLIND_POOL = 200  # remaining files up to which each is a candidate for every track, whatever its name
SAME_AUDIO_DURATION = 0.5  # the same audio with other tags: its duration barely differs (estimates)
MAX_DECODES_PER_TRACK = 16  # files decoded for their fingerprint per track, the closest durations first


class RelinkError(CrateError):
    """A relink cannot be done as asked; the message says why."""


@dataclass
class RelinkPlan:
    """What a relink found: ``relinked`` (track id, old path, new path), ``ambiguous`` (track id, old
    path, candidate paths), ``not_found`` (track id, old path)."""

    relinked: list[tuple[int, str, str]] = field(default_factory=list)
    ambiguous: list[tuple[int, str, list[str]]] = field(default_factory=list)
    not_found: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False


@dataclass
class _Missing:
    id: int
    path: str
    size: int
    format: str
    artist: str
    title: str
    duration: float | None
    digest: str | None
    fingerprint: bytes | None


def missing_tracks(library: Library) -> list[_Missing]:
    rows = library.execute(
        "SELECT t.id, t.path, t.size, t.format, t.artist, t.title, t.duration, "
        "CASE WHEN h.size = t.size THEN h.audio_hash END, CASE WHEN h.size = t.size THEN h.fingerprint END "
        "FROM tracks t LEFT JOIN track_hashes h ON h.track_id = t.id WHERE t.status = 'missing' ORDER BY t.id"
    )
    return [_Missing(r[0], path_from_db(r[1]), *r[2:]) for r in rows]


def plan_relink(
    library: Library,
    folder: str,
    *,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RelinkPlan:
    """Match the library's missing tracks to the files below ``folder`` (nothing is changed)."""
    started = time.monotonic()
    stop = should_stop or (lambda: False)
    folder = os.path.abspath(folder)
    if not os.path.isdir(folder):
        raise RelinkError(f"{folder} is not a folder")
    plan = RelinkPlan()
    missing = missing_tracks(library)
    if not missing:
        plan.seconds = round(time.monotonic() - started, 3)
        return plan
    known = set(library.file_states_under(folder))
    by_size: dict[int, list[str]] = {}
    for listing in walk_audio(folder, AUDIO_EXTENSIONS, should_stop=stop):
        for path, size, _mtime in listing.files:
            if path not in known:
                by_size.setdefault(size, []).append(path)
    hashes: dict[str, str | None] = {}

    def hash_of(path: str) -> str | None:
        if path not in hashes:
            try:
                hashes[path] = audio_hash(path, stop)
            except AudioHashError:
                hashes[path] = None
        return hashes[path]

    matches: dict[int, list[str]] = {}
    for done, track in enumerate(missing):
        if stop():
            plan.cancelled = True
            break
        candidates = by_size.get(track.size, [])
        if track.digest is not None:
            found = [p for p in candidates if hash_of(p) == track.digest]
        else:
            found = [p for p in candidates if _tags_agree(track, p)]
        if found:
            matches[track.id] = found
        if progress is not None:
            progress(done + 1, len(missing))
    unmatched = [
        t for t in missing if t.id not in matches and (t.digest is not None or t.fingerprint is not None)
    ]
    if unmatched and not plan.cancelled:
        claimed = {p for paths in matches.values() for p in paths}
        pool = [p for paths in by_size.values() for p in paths if p not in claimed]
        found, unsure = _by_content(unmatched, pool, hash_of, stop)
        matches.update(found)
        plan.cancelled = stop()
    else:
        unsure = set()
    _decide(plan, missing, matches, unsure)
    plan.seconds = round(time.monotonic() - started, 3)
    return plan


def _tags_agree(track: _Missing, path: str) -> bool:
    try:
        tags = read_tags(path)
    except (TagReadError, OSError):
        return False
    return (
        (tags.format or "") == (track.format or "")
        and normalise(tags.artist) == normalise(track.artist)
        and normalise(tags.title) == normalise(track.title)
        and tags.duration is not None
        and track.duration is not None
        and abs(tags.duration - track.duration) <= 0.5
    )


def _words(text: str | None) -> list[str]:
    return normalise(text).split()


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _named_like(track: _Missing, by_word: dict[str, list[int]], names: Sequence[set[str]]) -> set[int]:
    """Indexes of the files whose name holds every word of the track's title, or of its old name."""
    found: set[int] = set()
    for words in (_words(track.title), _words(_stem(track.path))):
        if not words:
            continue
        lists = sorted((by_word.get(word, []) for word in set(words)), key=len)
        found.update(i for i in lists[0] if all(word in names[i] for word in words))
    return found


def _by_content(
    tracks: Sequence[_Missing],
    pool: Sequence[str],
    hash_of: Callable[[str], str | None],
    stop: Callable[[], bool],
) -> tuple[dict[int, list[str]], set[int]]:
    """Matches of tracks whose files changed size: the same audio hash, else the same fingerprint,
    among the files named like them (every file of a small pool) whose duration is close; and the
    tracks for which some candidates were left undecoded (a match of theirs is not sure to be the only
    one: the user chooses)."""
    names = [set(_words(_stem(path))) for path in pool]
    by_word: dict[str, list[int]] = {}
    for index, words in enumerate(names):
        for word in words:
            by_word.setdefault(word, []).append(index)
    blind = len(pool) <= BLIND_POOL
    durations: dict[int, float | None] = {}
    prints: dict[int, object] = {}
    found: dict[int, list[str]] = {}
    unsure: set[int] = set()
    for track in tracks:
        if stop():
            break
        if track.duration is None:
            continue
        wanted = from_blob(track.fingerprint) if track.fingerprint is not None else None
        close = []  # (how far its duration is, index): sorted, the closest first
        for index in range(len(pool)) if blind else sorted(_named_like(track, by_word, names)):
            if index not in durations:
                try:
                    durations[index] = read_tags(pool[index]).duration
                except (TagReadError, OSError):
                    durations[index] = None
            duration = durations[index]
            if duration is not None and abs(duration - track.duration) <= DURATION_TOLERANCE:
                close.append((abs(duration - track.duration), index))
        close.sort()
        if track.digest is not None:  # the same audio with other tags: as in the first stage, that is all
            same = [
                pool[i] for gap, i in close if gap <= SAME_AUDIO_DURATION and hash_of(pool[i]) == track.digest
            ]
            if same:
                found[track.id] = same
                continue
        if wanted is None:
            continue
        decoded = 0
        for _gap, index in close:
            if index not in prints:
                if decoded >= MAX_DECODES_PER_TRACK:
                    unsure.add(track.id)  # a match found is not sure to be the only one
                    continue
                decoded += 1
                try:
                    prints[index] = fingerprint_file(pool[index], should_stop=stop)
                except FingerprintError:
                    prints[index] = None
            candidate = prints[index]
            if candidate is not None and same_recording(wanted, candidate):  # type: ignore[arg-type]
                found.setdefault(track.id, []).append(pool[index])
    return found, unsure


def _decide(
    plan: RelinkPlan, missing: Sequence[_Missing], matches: dict[int, list[str]], unsure: set[int]
) -> None:
    claims: dict[str, int] = {}
    for paths in matches.values():
        for path in paths:
            claims[path] = claims.get(path, 0) + 1
    for track in missing:
        paths = sorted(matches.get(track.id, []))
        if not paths:
            plan.not_found.append((track.id, track.path))
        elif len(paths) == 1 and claims[paths[0]] == 1 and track.id not in unsure:
            plan.relinked.append((track.id, track.path, paths[0]))
        else:
            plan.ambiguous.append((track.id, track.path, paths))


def apply_relink(library: Library, moves: Sequence[tuple[int, str, str]]) -> int:
    """Point each track at its new file (status ok, new size and mtime), in one transaction: all or
    nothing.  Refuses a file another track already has."""
    if not moves:
        return 0
    targets = [new for _id, _old, new in moves]
    if len(set(targets)) != len(targets):
        raise RelinkError("two tracks cannot be relinked to one file")
    now = time.time()
    updates, hash_updates = [], []
    for track_id, _old, new in moves:
        info = os.stat(new)
        folder, filename = os.path.split(new)
        names = (path_to_db(new), path_to_db(folder), path_to_db(filename))
        updates.append((*names, info.st_size, info.st_mtime, now, track_id))
        hash_updates.append((info.st_mtime, track_id, info.st_size))
    owner = {track_id: new for track_id, _old, new in moves}
    with library.write() as conn:
        for start in range(0, len(targets), 500):
            chunk = [path_to_db(t) for t in targets[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            for path, taken_by in conn.execute(f"SELECT path, id FROM tracks WHERE path IN ({marks})", chunk):
                if owner.get(taken_by) != path_from_db(path):
                    raise RelinkError(f"{path_from_db(path)} already belongs to track {taken_by}")
        conn.executemany(
            "UPDATE tracks SET path = ?, folder = ?, filename = ?, size = ?, mtime = ?, status = 'ok', "
            "error = NULL, last_scanned = ? WHERE id = ?",
            updates,
        )
        conn.executemany("UPDATE track_hashes SET mtime = ? WHERE track_id = ? AND size = ?", hash_updates)
    return len(moves)


def relink_one(library: Library, track_id: int, path: str) -> None:
    """The user's choice for an ambiguous track: point it at ``path``."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise RelinkError(f"{path} is not a file")
    old = library.tracks_by_ids([track_id])
    if not old:
        raise RelinkError(f"no track {track_id}")
    apply_relink(library, [(track_id, old[0].path, path)])
