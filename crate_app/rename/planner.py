"""Plan a batch rename: tracks + template -> ordered, collision-free steps.  Pure: no file is touched;
the only question asked of the outside world is ``exists(path)``.

How it decides, in order:

1. Each track's target is rendered from the template, sanitised, and placed under the library root the
   track is in (the longest matching ``library_roots`` entry) or under ``destination``.  Sidecars get
   the track's new stem with their own suffix (``.cue``, ``.en.lrc``).
2. Tracks already at their target (with their sidecars) are skipped and keep their paths.
3. The other tracks, by id, take the first free name among ``name``, ``name (2)``, ``name (3)``...; a
   name is free for a track and all its sidecars if no earlier track took it and no file is there
   that stays (a file of the batch that moves away does not count).  The same rule applied again
   after the plan has run gives the same names, so planning twice changes nothing.
4. Steps are ordered so that a file moves onto a path only after the file there has left.  Cycles
   (a -> b, b -> a) and case-only renames on case-insensitive file systems move one file to a unique
   temporary name first and finish it last.
"""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

from crate_app.domain.keys import KeyNotation
from crate_app.domain.rename import PlanFailure, PlannedMove, RenamePlan, RenameStep, StepKind
from crate_app.domain.track import TrackRecord
from crate_app.rename.sanitize import (
    DEFAULT_OPTIONS,
    SanitizeOptions,
    fit_path,
    sanitize_component,
    sanitize_suffix,
    utf8_length,
)
from crate_app.rename.template import CompiledTemplate

MAX_COLLISION_NUMBER = 9999  # "name (9999).mp3" is the last name tried
_WIDEST_TAG = f" ({MAX_COLLISION_NUMBER})"  # room kept in every name so that any number fits
TEMPORARY_PREFIX = ".crate-rename-"


CHECK_STOP_EVERY = 256  # tracks between two calls of should_stop()


class PlanningStopped(Exception):
    """Planning was stopped part-way because ``should_stop()`` said so (a newer plan is wanted)."""


def _never() -> bool:
    return False


def fold_path(path: str) -> str:
    """The key under which a case-insensitive file system sees ``path`` (NFC, case-folded)."""
    return unicodedata.normalize("NFC", path).casefold()


def _identity(path: str) -> str:
    return path


@dataclass(slots=True)
class _Item:
    """One file of a track: the track itself (suffix = its extension) or a sidecar."""

    kind: StepKind
    src: str
    suffix: str


@dataclass(slots=True)
class _Group:
    """A track and its sidecars: they move together and share a stem."""

    track_id: int
    root: str
    folders: tuple[str, ...]
    stem: str
    items: list[_Item]
    roomy: bool = False  # every collision number fits without shortening anything (see check_room)

    def check_room(self, options: SanitizeOptions) -> bool:
        """Whether even the widest collision number leaves a valid path; notes whether it needs no cut."""
        # Bytes of UTF-8 are never fewer than units of UTF-16, so counting bytes is safe for both limits.
        name = (
            utf8_length(self.stem) + len(_WIDEST_TAG) + max(utf8_length(item.suffix) for item in self.items)
        )
        relative = sum(map(utf8_length, self.folders)) + len(self.folders) + name
        self.roomy = name <= options.max_component_bytes and relative <= options.max_path_length
        suffixes = [item.suffix for item in self.items]
        return self.roomy or fit_path(self.folders, self.stem, suffixes, options, _WIDEST_TAG) is not None

    def targets(self, number: int, options: SanitizeOptions) -> list[str] | None:
        """The items' targets with collision number ``number`` (1 = no ``(n)``), or None if too long."""
        tag = "" if number == 1 else f" ({number})"
        folders, stem = self.folders, self.stem
        if not self.roomy:
            fitted = fit_path(folders, stem, [item.suffix for item in self.items], options, tag)
            if fitted is None:
                return None
            folders, stem = fitted
        prefix = _with_separator(self.root) + "".join(folder + os.sep for folder in folders) + stem + tag
        return [prefix + item.suffix for item in self.items]


def plan_renames(
    tracks: Iterable[TrackRecord],
    template: CompiledTemplate,
    *,
    exists: Callable[[str], bool] | Set[str],
    library_roots: Sequence[str] = (),
    destination: str | None = None,
    case_insensitive: bool = False,
    sidecars: Mapping[int, Sequence[str]] | None = None,
    key_notation: KeyNotation = KeyNotation.CAMELOT,
    options: SanitizeOptions = DEFAULT_OPTIONS,
    should_stop: Callable[[], bool] = _never,
) -> RenamePlan:
    """Plan moving each of ``tracks`` to the path ``template`` gives it.

    ``exists`` says whether a path is taken: a callable (``os.path.lexists``, which on a
    case-insensitive file system already ignores case) or a set of paths (folded here when
    ``case_insensitive``).  Targets go under ``destination`` if given, else under the entry of
    ``library_roots`` the track is in.  ``sidecars`` maps a track id to the files to carry along.
    Paths are absolute and in the platform's form.  Raises RuntimeError only if ``exists`` claims
    that thousands of numbered copies of one name exist where a track must move away, and
    PlanningStopped when ``should_stop()`` (asked every few hundred tracks) says so.
    """
    fold = fold_path if case_insensitive else _identity
    if isinstance(exists, Set):
        existing = {fold(path) for path in exists}

        def is_taken(path: str) -> bool:
            return fold(path) in existing
    else:
        is_taken = exists

    groups, failures, empty_fields = _build_groups(
        tracks, template, library_roots, destination, sidecars or {}, key_notation, options, fold, should_stop
    )

    def same_place(target: str, src: str) -> bool:
        # On a case-insensitive file system (macOS, Windows) a file cannot change its folder's case by
        # moving, and macOS does not keep the Unicode normalisation of names: neither is a change.
        return target == src or (
            case_insensitive
            and unicodedata.normalize("NFC", os.path.basename(target))
            == unicodedata.normalize("NFC", os.path.basename(src))
            and fold(os.path.dirname(target)) == fold(os.path.dirname(src))
        )

    claimed: set[str] = set()  # folded final paths taken by planned files
    staying: set[str] = {fold(f.src) for f in failures}  # batch files that will not move
    leaving: set[str] = set()  # folded sources of the files that may move away
    pending: list[tuple[_Group, list[str]]] = []
    unchanged: list[int] = []
    for group, wanted in groups:
        if all(same_place(target, item.src) for target, item in zip(wanted, group.items, strict=True)):
            unchanged.append(group.track_id)
            claimed.update(fold(item.src) for item in group.items)
        else:
            pending.append((group, wanted))
            leaving.update(fold(item.src) for item in group.items)

    def is_free(target: str) -> bool:
        # The same answer for every track: a track's own files are among those leaving.
        key = fold(target)
        if key in claimed:
            return False
        return key in leaving or (key not in staying and not is_taken(target))

    moves: list[PlannedMove] = []
    # Since is_free does not depend on the track, the numbers before next_number[name] are taken for
    # every later track wanting the same name: this keeps "{genre}" over 100,000 tracks linear.
    next_number: dict[tuple[object, ...], int] = {}
    for done, (group, wanted) in enumerate(pending):
        if done % CHECK_STOP_EVERY == 0 and should_stop():
            raise PlanningStopped
        name_key = (group.root, group.folders, group.stem, *(fold(item.suffix) for item in group.items))
        for number in range(next_number.get(name_key, 1), MAX_COLLISION_NUMBER + 1):
            targets = wanted if number == 1 else group.targets(number, options)
            assert targets is not None  # _build_groups checked that the widest number fits
            if all(map(is_free, targets)):
                next_number[name_key] = number + 1
                break
        else:
            own_sources = {fold(item.src) for item in group.items}
            if own_sources & claimed:  # another track already took this one's place: it must move
                raise RuntimeError(
                    f"no free name for track {group.track_id} after {MAX_COLLISION_NUMBER} tries"
                )
            failures.append(PlanFailure(group.track_id, group.items[0].src, "no free file name was found"))
            claimed.update(own_sources)
            continue
        finals = [
            item.src if same_place(t, item.src) else t for t, item in zip(targets, group.items, strict=True)
        ]
        claimed.update(fold(final) for final in finals)
        group_moves = [
            PlannedMove(group.track_id, item.kind, item.src, final, want)
            for item, final, want in zip(group.items, finals, wanted, strict=True)
            if final != item.src
        ]
        if group_moves:
            moves.extend(group_moves)
        else:
            unchanged.append(group.track_id)

    all_sources = claimed | staying | leaving
    steps = _order_steps(moves, fold, lambda path: fold(path) not in all_sources and not is_taken(path))
    return RenamePlan(
        steps=tuple(steps),
        moves=tuple(moves),
        unchanged=tuple(sorted(unchanged)),
        failures=tuple(sorted(failures, key=lambda f: f.track_id)),
        empty_fields=tuple(empty_fields.most_common()),
    )


def _build_groups(
    tracks: Iterable[TrackRecord],
    template: CompiledTemplate,
    library_roots: Sequence[str],
    destination: str | None,
    sidecars: Mapping[int, Sequence[str]],
    key_notation: KeyNotation,
    options: SanitizeOptions,
    fold: Callable[[str], str],
    should_stop: Callable[[], bool],
) -> tuple[list[tuple[_Group, list[str]]], list[PlanFailure], Counter[str]]:
    """Render and sanitise every track's target; the groups come sorted by track id, each with its
    targets without a collision number; and how many tracks left each template field empty."""
    roots = sorted(
        ((fold(_with_separator(root)), root.rstrip(os.sep) or os.sep) for root in library_roots),
        key=lambda pair: len(pair[0]),
        reverse=True,
    )
    folder_cache: dict[str, str] = {}
    sources: set[str] = set()
    empty_fields: Counter[str] = Counter()
    groups: list[tuple[_Group, list[str]]] = []
    failures: list[PlanFailure] = []
    for done, track in enumerate(sorted(tracks, key=lambda t: t.id)):
        if done % CHECK_STOP_EVERY == 0 and should_stop():
            raise PlanningStopped
        src_key = fold(track.path)
        if src_key in sources:
            failures.append(PlanFailure(track.id, track.path, "the same file is selected twice"))
            continue
        sources.add(src_key)
        root = destination or next((root for prefix, root in roots if src_key.startswith(prefix)), None)
        if root is None:
            failures.append(PlanFailure(track.id, track.path, "the file is not inside a library folder"))
            continue
        missing: set[str] = set()
        *raw_folders, raw_stem = template.render(track, key_notation, missing)
        empty_fields.update(missing)
        if not raw_stem.strip():
            failures.append(
                PlanFailure(track.id, track.path, "the template gives this track an empty file name")
            )
            continue
        folders = []
        for raw in raw_folders:
            if (folder := folder_cache.get(raw)) is None:
                folder = folder_cache[raw] = sanitize_component(raw, options)
            folders.append(folder)
        extension = os.path.splitext(track.path)[1]
        items = [_Item(StepKind.MOVE, track.path, sanitize_suffix(extension, options))]
        if track.id in sidecars:
            items += _sidecar_items(track.path, sidecars[track.id], items[0].suffix, sources, fold, options)
        group = _Group(track.id, root, tuple(folders), sanitize_component(raw_stem, options), items)
        wanted = group.targets(1, options) if group.check_room(options) else None
        if wanted is None:
            failures.append(PlanFailure(track.id, track.path, "the new path would be too long"))
            continue
        groups.append((group, wanted))
    return groups, failures, empty_fields


def _with_separator(root: str) -> str:
    return root if root.endswith(os.sep) else root + os.sep


def _sidecar_items(
    track_path: str,
    sidecar_paths: Sequence[str],
    track_suffix: str,
    sources: set[str],
    fold: Callable[[str], str],
    options: SanitizeOptions,
) -> list[_Item]:
    """The sidecars to carry along with a track, each with the suffix it keeps; ``sources`` (folded
    paths already in the batch) is updated.  A sidecar already in the batch, or whose new name would
    equal another file's of the same track, stays where it is."""
    old_stem = os.path.splitext(os.path.basename(track_path))[0]
    folder_key = fold(os.path.dirname(track_path))
    # Sidecars named after the track and next to it come first, so that when two would get one name
    # the one that already has it wins (and planning again changes nothing).
    candidates = sorted(
        (not shares_stem, fold(os.path.dirname(sidecar)) != folder_key, sidecar, suffix)
        for sidecar in sidecar_paths
        for suffix, shares_stem in [_sidecar_suffix(os.path.basename(sidecar), old_stem, fold)]
    )
    suffix_keys = {fold("x" + track_suffix)}
    items = []
    for _, _, sidecar, raw_suffix in candidates:
        suffix = sanitize_suffix(raw_suffix, options)
        if fold(sidecar) in sources or fold("x" + suffix) in suffix_keys:
            continue
        sources.add(fold(sidecar))
        suffix_keys.add(fold("x" + suffix))
        items.append(_Item(StepKind.SIDECAR, sidecar, suffix))
    return items


def _sidecar_suffix(name: str, old_stem: str, fold: Callable[[str], str]) -> tuple[str, bool]:
    """What follows the track's stem in a sidecar's name (``.cue``, ``.en.lrc``), else its extension;
    and whether the sidecar is named after the track."""
    if fold(name[: len(old_stem) + 1]) == fold(old_stem + "."):
        return name[len(old_stem) :], True
    return os.path.splitext(name)[1], False


def _order_steps(
    moves: list[PlannedMove], fold: Callable[[str], str], is_free: Callable[[str], bool]
) -> list[RenameStep]:
    """Order the moves so that none lands on a path still occupied; break cycles with temporary names.

    Each target is at most one other move's source, so the moves form chains and cycles: a chain runs
    from a move onto a free path backwards through the moves waiting for it; a cycle is opened by
    parking its first move under a temporary name.
    """
    index_of_source = {fold(move.src): index for index, move in enumerate(moves)}
    waiter: dict[int, int] = {}  # index of a move -> the move whose target is that move's source
    blocked: set[int] = set()
    for index, move in enumerate(moves):
        blocker = index_of_source.get(fold(move.dst))
        if blocker is not None:
            waiter[blocker] = index
            blocked.add(index)
    steps: list[RenameStep] = []
    done = [False] * len(moves)

    def run_chain(index: int | None) -> None:
        while index is not None and not done[index]:
            move = moves[index]
            steps.append(RenameStep(move.track_id, move.kind, move.src, move.dst))
            done[index] = True
            index = waiter.get(index)

    for index in range(len(moves)):
        if index not in blocked:
            run_chain(index)
    temporaries: set[str] = set()
    for index, move in enumerate(moves):
        if done[index]:
            continue
        temporary = _temporary_path(move.src, lambda p: fold(p) not in temporaries and is_free(p))
        temporaries.add(fold(temporary))
        steps.append(RenameStep(move.track_id, move.kind, move.src, temporary, temporary=True))
        done[index] = True
        run_chain(waiter[index])
        steps.append(RenameStep(move.track_id, move.kind, temporary, move.dst))
    return steps


def _temporary_path(src: str, is_free: Callable[[str], bool]) -> str:
    folder = os.path.dirname(src)
    number = 1
    while not is_free(path := os.path.join(folder, f"{TEMPORARY_PREFIX}{number}.tmp")):
        number += 1
    return path
