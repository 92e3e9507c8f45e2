"""The result of planning a batch rename: what the preview shows and what the executor runs.

A plan is pure data.  ``RenamePlan.steps`` is an ordered list of single file moves; run in that order,
no step ever moves a file onto a path that exists at that moment (swaps and cycles go through a
temporary name, see ``RenameStep.temporary``).  ``moves``, ``unchanged``, ``conflicts`` and
``failures`` are for the preview dialog.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class StepKind(enum.StrEnum):
    """Which file of a track a step moves."""

    MOVE = "move"  # the track's own audio file
    SIDECAR = "sidecar"  # a file carried along with it (.cue, .lrc, ...)


@dataclass(frozen=True, slots=True)
class RenameStep:
    """One move of one file from ``src`` to ``dst`` (absolute paths).

    ``temporary`` is true when ``dst`` is a temporary name: a later step of the same plan moves the
    file from there to its final place.  The track's stored path should follow the file only on the
    step that is not temporary (or on both, if the journal prefers the database to always say where
    the file is).
    """

    track_id: int
    kind: StepKind
    src: str
    dst: str
    temporary: bool = False


@dataclass(frozen=True, slots=True)
class PlannedMove:
    """Where one file ends up (a preview row): ``src`` -> ``dst``, ``wanted`` being the target before
    a collision forced a ``" (2)"`` suffix (equal to ``dst`` otherwise)."""

    track_id: int
    kind: StepKind
    src: str
    dst: str
    wanted: str

    @property
    def renamed_on_collision(self) -> bool:
        return self.wanted != self.dst


@dataclass(frozen=True, slots=True)
class PlanFailure:
    """A track the plan leaves where it is, and why (shown to the user as is)."""

    track_id: int
    src: str
    reason: str


@dataclass(frozen=True, slots=True)
class RenamePlan:
    """An executable, previewable batch rename."""

    steps: tuple[RenameStep, ...]
    moves: tuple[PlannedMove, ...]  # one per file that changes place, sorted by track id
    unchanged: tuple[int, ...]  # ids of tracks already at their target (skipped)
    failures: tuple[PlanFailure, ...]
    # Template fields that rendered empty (no value, no fallback), with the number of tracks each:
    # (("{artist}", 312), ...), most first.  Their names are made without them ("_" for a folder).
    empty_fields: tuple[tuple[str, int], ...] = ()

    @property
    def conflicts(self) -> tuple[PlannedMove, ...]:
        """The moves whose target had to be renamed (``name (2).mp3``) to avoid a collision."""
        return tuple(move for move in self.moves if move.renamed_on_collision)

    @property
    def changed_count(self) -> int:
        """Number of tracks with at least one file changing place."""
        return len({move.track_id for move in self.moves})

    @property
    def unchanged_count(self) -> int:
        return len(self.unchanged)

    @property
    def conflict_count(self) -> int:
        """Tracks whose target was renamed on collision, plus tracks that could not be planned."""
        return len({move.track_id for move in self.conflicts}) + len(self.failures)

    def empty_fields_note(self) -> str:
        """'312 tracks have no {artist}, 20 no {album} (a fallback helps: {artist|Unknown})', or ""."""
        if not self.empty_fields:
            return ""
        (first, count), *others = self.empty_fields
        text = f"{count:,} track{' has' if count == 1 else 's have'} no {first}"
        text += "".join(f", {n:,} no {field}" for field, n in others[:2])
        if len(others) > 2:
            text += f" and {len(others) - 2} more field{'s' if len(others) > 3 else ''}"
        return f"{text} (a fallback helps: {first[:-1]}|Unknown}})"

    def final_paths(self) -> dict[str, str]:
        """Each moving file's source path mapped to its final path."""
        return {move.src: move.dst for move in self.moves}
