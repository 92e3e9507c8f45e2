"""Finding duplicates at three levels, each its own query, and suggesting which copy to keep.

- ``by="tags"``: the same normalised artist and title, durations within ``DURATION_TOLERANCE``
  (grouped in SQL on a normalised key; a group is split where durations drift apart).
- ``by="audio"``: the same hash of the audio payload (``track_hashes.audio_hash``, still valid for the
  file's size and mtime): a re-tagged copy.
- ``by="fingerprint"``: the same recording (Chromaprint), candidates from equal min-hash keys
  (``fingerprint_keys``), confirmed by comparing the two fingerprints.

Only readable tracks (status ok) take part.  "Keep the best": lossless over lossy, then the higher
bitrate, analysed, in more crates, the older date added (then the lower id).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from crate_app.domain.track import TrackRecord
from crate_app.hygiene.fingerprint import from_blob, same_recording
from crate_app.store.library import Library

LEVELS = ("tags", "audio", "fingerprint")
DURATION_TOLERANCE = 2.0
MAX_BUCKET = 64  # a min-hash key shared by more tracks than this says nothing (silence, test tones)
LOSSLESS_CODECS = frozenset({"flac", "pcm", "alac", "ape", "wavpack", "dsd", "tta", "optimfrog", "tak"})
LOSSLESS_FORMATS = frozenset({"flac", "wav", "aiff", "ape", "wv", "dsf", "dff", "tta", "ofr", "tak"})


@dataclass(frozen=True, slots=True)
class DuplicateSet:
    """Tracks that are the same by one level; ``keep`` is the suggested one to keep."""

    by: str
    track_ids: tuple[int, ...]
    keep: int


_BRACKETS = re.compile(r"[\(\[][^\)\]]*(?:original mix|radio edit|remaster(?:ed)?[^\)\]]*)[\)\]]")
_NON_WORD = re.compile(r"[\W_]+")
_FEAT = re.compile(r"[\s(\[](?:feat\.?|ft\.?|featuring)\s.*$")


def normalise(text: str | None) -> str:
    """Case, accents, punctuation and '(Original Mix)'-like suffixes removed; 'feat. X' dropped."""
    if not text:
        return ""
    if text.isascii():  # the common case, without Unicode decomposition
        value = text.lower()
    else:
        value = unicodedata.normalize("NFKD", text.casefold())
        value = "".join(ch for ch in value if not unicodedata.combining(ch))
    if "(" in value or "[" in value:
        value = _BRACKETS.sub(" ", value)
    if "f" in value:
        value = _FEAT.sub("", value)
    return _NON_WORD.sub(" ", value).strip()


def tag_key(artist: str | None, title: str | None) -> str:
    """What two tracks share when they are duplicates by tags (before durations are compared)."""
    return f"{normalise(artist)}\x1f{normalise(title)}"


def refresh_tag_keys(
    library: Library, batch: int = 20_000, should_stop: Callable[[], bool] | None = None
) -> int:
    """Make the missing normalised keys (new tracks, changed artist or title); returns how many.  Goes
    through the tracks in id order, one transaction per batch; stops between batches when asked."""
    made, last = 0, 0
    while not (should_stop is not None and should_stop()):
        rows = library.execute(
            "SELECT t.id, t.artist, t.title FROM tracks t LEFT JOIN track_tag_keys k ON k.track_id = t.id "
            "WHERE k.track_id IS NULL AND t.id > ? ORDER BY t.id LIMIT ?",
            (last, batch),
        ).fetchall()
        if not rows:
            break
        keys = [(track_id, tag_key(artist, title)) for track_id, artist, title in rows]
        with library.write() as conn:
            conn.executemany("INSERT OR REPLACE INTO track_tag_keys (track_id, key) VALUES (?, ?)", keys)
        made += len(keys)
        last = rows[-1][0]
    return made


def find_duplicates(library: Library, by: str) -> list[DuplicateSet]:
    """Every duplicate set at one level, with the copy to keep suggested."""
    if by == "tags":
        groups = tag_groups(library)
    elif by == "audio":
        groups = audio_groups(library)
    elif by == "fingerprint":
        groups = fingerprint_groups(library)
    else:
        raise ValueError(f"unknown duplicate level {by!r} (one of {', '.join(LEVELS)})")
    return [
        DuplicateSet(by, tuple(ids), keep)
        for ids, keep in zip(groups, suggest_keep(library, groups), strict=True)
    ]


def tag_groups(library: Library) -> list[list[int]]:
    """Tracks with the same normalised artist and title whose durations lie within the tolerance (one
    scan of the key index; keys are made first for tracks that have none).  A track without an artist
    is never a duplicate by tags: untagged files are named by their file names, and every album's
    "01 - Intro.mp3" would otherwise be one song."""
    refresh_tag_keys(library)
    # Driven from the keys that occur more than once (CROSS JOIN keeps that order): an index scan,
    # then one lookup per candidate, instead of a probe per track.
    rows = library.execute(
        "WITH dupes AS MATERIALIZED (SELECT key FROM track_tag_keys GROUP BY key HAVING COUNT(*) > 1) "
        "SELECT k.key, t.id, COALESCE(t.duration, -1) FROM dupes d "
        "CROSS JOIN track_tag_keys k ON k.key = d.key CROSS JOIN tracks t ON t.id = k.track_id "
        "WHERE t.status = 'ok' AND t.title != '' AND t.artist != '' ORDER BY k.key, 3, t.id"
    ).fetchall()
    groups: list[list[int]] = []
    current_key, start_duration, current = None, 0.0, []
    for key, track_id, duration in rows:
        if key != current_key or duration < 0 or duration - start_duration > DURATION_TOLERANCE:
            if len(current) > 1:
                groups.append(current)
            current_key, start_duration, current = key, duration, []
            if duration < 0:  # no duration known: never a duplicate by tags alone
                current_key = None
                continue
        current.append(track_id)
    if len(current) > 1:
        groups.append(current)
    return groups


def audio_groups(library: Library) -> list[list[int]]:
    """Tracks whose audio payload hashes are equal (hashes still valid for the files as they are)."""
    rows = library.execute(
        "SELECT h.audio_hash, h.track_id FROM track_hashes h JOIN tracks t ON t.id = h.track_id "
        "WHERE h.audio_hash IN (SELECT audio_hash FROM track_hashes WHERE audio_hash IS NOT NULL "
        "GROUP BY audio_hash HAVING COUNT(*) > 1) "
        "AND t.status = 'ok' AND t.size = h.size AND t.mtime = h.mtime ORDER BY h.audio_hash, h.track_id"
    )
    groups: dict[str, list[int]] = {}
    for digest, track_id in rows:
        groups.setdefault(digest, []).append(track_id)
    return [ids for ids in groups.values() if len(ids) > 1]


def fingerprint_groups(library: Library) -> list[list[int]]:
    """Tracks that are the same recording: candidates share a min-hash key, confirmed pairwise."""
    rows = library.execute(
        "SELECT k.key, k.track_id FROM fingerprint_keys k WHERE k.key IN "
        "(SELECT key FROM fingerprint_keys GROUP BY key HAVING COUNT(*) > 1) ORDER BY k.key"
    )
    pairs: set[tuple[int, int]] = set()
    bucket: list[int] = []
    current = None

    def add_bucket(ids: list[int]) -> None:
        if 1 < len(ids) <= MAX_BUCKET:
            ids = sorted(ids)
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    pairs.add((a, b))

    for key, track_id in rows:
        if key != current:
            add_bucket(bucket)
            bucket, current = [], key
        bucket.append(track_id)
    add_bucket(bucket)
    if not pairs:
        return []
    involved = sorted({i for pair in pairs for i in pair})
    prints = {}
    for start in range(0, len(involved), 500):
        chunk = involved[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for track_id, blob in library.execute(
            "SELECT h.track_id, h.fingerprint FROM track_hashes h JOIN tracks t ON t.id = h.track_id "
            f"WHERE h.track_id IN ({marks}) AND t.status = 'ok' AND h.fingerprint IS NOT NULL",
            chunk,
        ):
            prints[track_id] = from_blob(blob)
    union = _UnionFind()
    for a, b in sorted(pairs):
        if (
            a in prints
            and b in prints
            and union.find(a) != union.find(b)
            and same_recording(prints[a], prints[b])
        ):
            union.join(a, b)
    return union.groups()


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        parent = self.parent.setdefault(item, item)
        while parent != self.parent[parent]:
            self.parent[parent] = self.parent[self.parent[parent]]
            parent = self.parent[parent]
        self.parent[item] = parent
        return parent

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        found: dict[int, list[int]] = {}
        for item in self.parent:
            found.setdefault(self.find(item), []).append(item)
        return sorted((sorted(ids) for ids in found.values() if len(ids) > 1), key=lambda ids: ids[0])


def is_lossless(track: TrackRecord) -> bool:
    return (track.codec or "").lower() in LOSSLESS_CODECS or (
        (track.format or "").lower() in LOSSLESS_FORMATS and (track.codec or "") in ("", "pcm")
    )


def crate_counts(library: Library, ids: Iterable[int]) -> dict[int, int]:
    """How many crates each track is in (0 for all when the library has no crates yet)."""
    if not _has_table(library, "crate_entries"):
        return {}
    wanted = list(ids)
    counts: dict[int, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        counts.update(
            library.execute(
                f"SELECT track_id, COUNT(*) FROM crate_entries WHERE track_id IN ({marks}) GROUP BY track_id",
                chunk,
            ).fetchall()
        )
    return counts


def _has_table(library: Library, name: str) -> bool:
    return (
        library.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        is not None
    )


def keep_rank(track: TrackRecord, crates: int) -> tuple:
    """Sort key of "keep the best" (the smallest is kept)."""
    return (
        not is_lossless(track),
        -(track.bitrate or 0),
        track.analyzed_at is None,
        -crates,
        track.date_added or float("inf"),
        track.id,
    )


def suggest_keep(library: Library, groups: Sequence[Sequence[int]]) -> list[int]:
    """The suggested track to keep of each group."""
    all_ids = [i for ids in groups for i in ids]
    records = {t.id: t for t in library.tracks_by_ids(all_ids)}
    crates = crate_counts(library, all_ids)
    return [
        min((records[i] for i in ids), key=lambda t: keep_rank(t, crates.get(t.id, 0))).id for ids in groups
    ]
