"""Editing tags of one or many tracks in the background, with progress, Cancel, undo and redo.

Tags (title ... track number, rating, colour) are written into the files (library.tag_edit, copy,
verify and replace) and then into the library.  Rating and colour are the user's own library fields
first: a file that cannot be written still gets them in the library (and the failure says so).  Each
edit is one command on an undo stack (the window's, shared with the crate edits and the corrections,
so that Ctrl+Z undoes the last edit whatever it was): undo writes the values the tracks had before,
redo the new ones again, only for the files the edit changed.  Writes run one at a time, in the
order they were asked for, so an undo never overtakes the edit it undoes.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from crate_app.domain.errors import CrateError
from crate_app.domain.track import TrackRecord, display_path
from crate_app.library.tag_edit import (
    EDITABLE_FIELDS,
    USER_FIELDS,
    TagValue,
    normalise_changes,
    write_tag_fields,
)
from crate_app.services.jobs import Job, JobRunner
from crate_app.store import writer
from crate_app.store.library import Library


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
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"cannot edit {', '.join(sorted(unknown))}")
    file_changes = normalise_changes(changes)  # type: ignore[arg-type]
    planned: list[TrackChange] = []
    for track in tracks:
        before: dict[str, object] = {}
        after: dict[str, object] = {}
        for name, value in file_changes.items():
            current = getattr(track, name)
            if isinstance(value, str):
                current = current or ""
            elif name == "rating":
                current = current or None  # 0 stars is unrated in every tag format
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
            file_values: dict[str, TagValue] = dict(values)  # type: ignore[arg-type]
            try:
                if file_values:
                    write_tag_fields(change.path, file_values)
                    stat = os.stat(change.path)
                    pending_rows.append((change.track_id, dict(file_values), stat.st_size, stat.st_mtime))
                done.append(change)
                meter.update(advance=1, current=display_path(os.path.basename(change.path)))
            except (CrateError, ValueError, OSError) as error:
                reason = str(error)
                kept = [name for name in USER_FIELDS if name in values]
                if kept:  # the user's rating/colour still go into the library
                    before = {n: change.before[n] for n in kept}
                    done.append(
                        TrackChange(change.track_id, change.path, before, {n: change.after[n] for n in kept})
                    )
                    reason += f" ({' and '.join(kept).replace('color', 'colour')} kept in the library only)"
                failures.append((change.path, reason))
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


class _TagEditCommand(QUndoCommand):
    """The undo stack's handle on one tag edit: redo/undo queue the edit's write forwards/backwards."""

    def __init__(self, service: TagEditService, step: EditStep) -> None:
        super().__init__(step.description)
        self.service = service
        self.step = step
        self._first = True

    def redo(self) -> None:  # Qt override
        kind, self._first = ("edit" if self._first else "redo"), False
        self.service._queue(self.step, backwards=False, kind=kind)

    def undo(self) -> None:  # Qt override
        if not self.step.changes:  # nothing landed (cancelled at once, or every file failed)
            self.setObsolete(True)
            return
        self.service._queue(self.step, backwards=True, kind="undo")


class TagEditService(QObject):
    """Runs tag edits one at a time; each edit is a command on ``undo_stack`` (the window's, or its own)."""

    started = Signal(str)  # description
    progress = Signal(object)  # Progress
    finished = Signal(object)  # EditOutcome
    tracks_changed = Signal(list)  # ids whose values changed

    def __init__(
        self,
        runner: JobRunner,
        library: Library,
        parent: QObject | None = None,
        undo_stack: QUndoStack | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.library = library
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self.job: TagEditJob | None = None
        self._waiting: deque[tuple[EditStep, bool, str]] = deque()  # (step, backwards, kind) to run next
        self._job_kind = "edit"

    @property
    def busy(self) -> bool:
        return self.job is not None or bool(self._waiting)

    def edit(self, tracks: list[TrackRecord], changes: dict[str, object]) -> EditStep | None:
        """Start writing ``changes`` into ``tracks`` (one undoable command); None when nothing would
        change or another write is running.  ValueError for a field or value that makes no sense
        (before anything is written)."""
        planned = plan_edit(tracks, changes)
        if not planned or self.busy:
            return None
        fields = ", ".join(sorted({name for change in planned for name in change.after}))
        step = EditStep(f"Edit {fields} of {len(planned):,} track{'s' if len(planned) != 1 else ''}", planned)
        self.undo_stack.push(_TagEditCommand(self, step))
        return step

    def undo(self) -> bool:
        """Undo the stack's last command (with the window's stack: whatever edit it was)."""
        if not self.undo_stack.canUndo():
            return False
        self.undo_stack.undo()
        return True

    def redo(self) -> bool:
        if not self.undo_stack.canRedo():
            return False
        self.undo_stack.redo()
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _queue(self, step: EditStep, *, backwards: bool, kind: str) -> None:
        self._waiting.append((step, backwards, kind))
        if self.job is None:
            self._start_next()

    def _start_next(self) -> None:
        if self.job is not None or not self._waiting:
            return
        step, backwards, self._job_kind = self._waiting.popleft()
        self.job = TagEditJob(self.library, step, backwards=backwards)
        self.job.signals.progress.connect(self.progress)
        self.job.signals.finished.connect(self._on_job_finished)
        self.job.signals.failed.connect(self._on_job_failed)
        self.started.emit(step.description)
        self.runner.start(self.job)

    def _on_job_finished(self, outcome: EditOutcome) -> None:
        self.job = None
        if self._job_kind == "edit":
            # What landed is what the command undoes and redoes (a cancelled edit, as far as it went).
            outcome.step.changes[:] = outcome.done
        self.tracks_changed.emit([change.track_id for change in outcome.done])
        self.finished.emit(outcome)
        self._start_next()

    def _on_job_failed(self, message: str) -> None:
        job, self.job = self.job, None
        if job is not None and self._job_kind == "edit":
            job.step.changes.clear()  # nothing is known to have landed: undo does nothing
        step = job.step if job is not None else EditStep(message)
        self.finished.emit(EditOutcome(step, [], [("", message)]))
        self._start_next()
