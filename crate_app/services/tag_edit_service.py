"""Editing tags of one or many tracks in the background, with progress, Cancel, undo and redo.

Text tags (title ... track number) are written into the files (library.tag_edit, copy, verify and
replace) and then into the library; rating and colour are library fields and change at once.  Each
edit is one step of the undo history: undo writes the values the tracks had before, redo the new ones
again, only for the files the edit changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from crate_app.domain.errors import CrateError
from crate_app.domain.track import TrackRecord, display_path
from crate_app.library.tag_edit import EDITABLE_FIELDS, TagValue, normalise_changes, write_tag_fields
from crate_app.services.jobs import Job, JobRunner
from crate_app.store import writer
from crate_app.store.library import Library

LIBRARY_FIELDS = ("rating", "color")


@dataclass(slots=True)
class TrackChange:
    """One track's part of an edit: its values before and after, for the touched fields only."""

    track_id: int
    path: str
    before: dict[str, object]
    after: dict[str, object]


@dataclass(slots=True)
class EditStep:
    """One entry of the undo history."""

    description: str
    changes: list[TrackChange] = field(default_factory=list)


@dataclass(slots=True)
class EditOutcome:
    """What a finished (or cancelled) write did: the changes that landed and the files that failed."""

    step: EditStep
    done: list[TrackChange]
    failures: list[tuple[str, str]]  # (path, reason)
    cancelled: bool = False


def plan_edit(tracks: list[TrackRecord], changes: dict[str, object]) -> list[TrackChange]:
    """The per-track changes of setting ``changes`` on ``tracks``: tracks that already hold a value
    are left out of that field, so that only what really changes is written."""
    file_changes = normalise_changes({k: v for k, v in changes.items() if k in EDITABLE_FIELDS})  # type: ignore[arg-type]
    library_changes = {k: v for k, v in changes.items() if k in LIBRARY_FIELDS}
    unknown = set(changes) - set(EDITABLE_FIELDS) - set(LIBRARY_FIELDS)
    if unknown:
        raise ValueError(f"cannot edit {', '.join(sorted(unknown))}")
    planned: list[TrackChange] = []
    for track in tracks:
        before: dict[str, object] = {}
        after: dict[str, object] = {}
        for name, value in (*file_changes.items(), *library_changes.items()):
            current = getattr(track, name)
            if name in EDITABLE_FIELDS and isinstance(value, str):
                current = current or ""
            if current != value:
                before[name], after[name] = current, value
        if after:
            planned.append(TrackChange(track.id, track.path, before, after))
    return planned


class TagEditJob(Job):
    """Writes each track's values (``after``, or ``before`` for an undo) into its file, then the library."""

    def __init__(self, library: Library, step: EditStep, *, backwards: bool = False) -> None:
        super().__init__(step.description)
        self.library = library
        self.step = step
        self.backwards = backwards

    def work(self) -> EditOutcome:
        meter = self.meter(total=len(self.step.changes))
        done: list[TrackChange] = []
        failures: list[tuple[str, str]] = []
        pending_rows: list[tuple[int, dict[str, object], int, float]] = []
        cancelled = False
        for change in self.step.changes:
            if self.should_stop():
                cancelled = True
                break
            values = change.before if self.backwards else change.after
            file_values: dict[str, TagValue] = {k: v for k, v in values.items() if k in EDITABLE_FIELDS}  # type: ignore[misc]
            try:
                if file_values:
                    write_tag_fields(change.path, file_values)
                    stat = os.stat(change.path)
                    pending_rows.append((change.track_id, dict(file_values), stat.st_size, stat.st_mtime))
                done.append(change)
                meter.update(advance=1, current=display_path(os.path.basename(change.path)))
            except (CrateError, ValueError, OSError) as error:
                failures.append((change.path, str(error)))
                meter.update(advance=1, failed=1)
            if len(pending_rows) >= 200:
                writer.update_tag_fields(self.library, pending_rows)
                pending_rows = []
        writer.update_tag_fields(self.library, pending_rows)
        _apply_library_fields(self.library, done, self.backwards)
        meter.finish()
        return EditOutcome(self.step, done, failures, cancelled)


def _apply_library_fields(library: Library, changes: list[TrackChange], backwards: bool) -> None:
    for name, setter in (("rating", writer.set_rating), ("color", writer.set_color)):
        groups: dict[object, list[int]] = {}
        for change in changes:
            values = change.before if backwards else change.after
            if name in values:
                groups.setdefault(values[name], []).append(change.track_id)
        for value, ids in groups.items():
            setter(library, ids, value)  # type: ignore[operator]


class TagEditService(QObject):
    """Runs tag edits one at a time and keeps their undo/redo history."""

    started = Signal(str)  # description
    progress = Signal(object)  # Progress
    finished = Signal(object)  # EditOutcome
    tracks_changed = Signal(list)  # ids whose values changed
    history_changed = Signal()

    def __init__(self, runner: JobRunner, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.library = library
        self.job: TagEditJob | None = None
        self.undo_steps: list[EditStep] = []
        self.redo_steps: list[EditStep] = []
        self._job_kind = "edit"

    @property
    def busy(self) -> bool:
        return self.job is not None

    def edit(self, tracks: list[TrackRecord], changes: dict[str, object]) -> EditStep | None:
        """Start writing ``changes`` into ``tracks``; None when nothing would change.  ValueError for
        a field or value that makes no sense (before anything is written)."""
        planned = plan_edit(tracks, changes)
        if not planned or self.busy:
            return None
        fields = ", ".join(sorted({name for change in planned for name in change.after}))
        step = EditStep(f"Edit {fields} of {len(planned):,} track{'s' if len(planned) != 1 else ''}", planned)
        self._start(step, backwards=False, kind="edit")
        return step

    def undo(self) -> bool:
        if self.busy or not self.undo_steps:
            return False
        self._start(self.undo_steps.pop(), backwards=True, kind="undo")
        return True

    def redo(self) -> bool:
        if self.busy or not self.redo_steps:
            return False
        self._start(self.redo_steps.pop(), backwards=False, kind="redo")
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _start(self, step: EditStep, *, backwards: bool, kind: str) -> None:
        self._job_kind = kind
        self.job = TagEditJob(self.library, step, backwards=backwards)
        self.job.signals.progress.connect(self.progress)
        self.job.signals.finished.connect(self._on_job_finished)
        self.job.signals.failed.connect(self._on_job_failed)
        self.started.emit(step.description)
        self.history_changed.emit()
        self.runner.start(self.job)

    def _on_job_finished(self, outcome: EditOutcome) -> None:
        self.job = None
        if outcome.done:
            # What landed becomes one history step (a cancelled edit can be undone as far as it went).
            landed = EditStep(outcome.step.description, outcome.done)
            if self._job_kind == "undo":
                self.redo_steps.append(landed)
            else:
                self.undo_steps.append(landed)
                if self._job_kind == "edit":
                    self.redo_steps.clear()
        self.tracks_changed.emit([change.track_id for change in outcome.done])
        self.history_changed.emit()
        self.finished.emit(outcome)

    def _on_job_failed(self, message: str) -> None:
        self.job = None
        self.history_changed.emit()
        self.finished.emit(EditOutcome(EditStep(message), [], [("", message)]))
