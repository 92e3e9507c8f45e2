"""Duplicates and relinking for the window: each request runs as a job on a pool thread.

``find_duplicates(by)`` first hashes (or fingerprints) the tracks that need it, with progress, Pause
and Cancel (what was hashed is kept), then runs that level's query.  ``resolve`` removes duplicates
as one command on the undo stack (the window's: Edit ▸ Undo / Ctrl+Z undoes it beside crate and tag
edits, Ctrl+Shift+Z removes them again); ``undo_last_removal`` is the Duplicates view's Undo, through
the same stack.  ``plan_relink`` and ``apply_relink`` find moved files.  Every change to the library
ends with ``library_changed`` so the table reloads.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from crate_app.hygiene import dedupe, duplicates, hashing, relink
from crate_app.services.jobs import FunctionJob, Job, JobRunner
from crate_app.store.library import Library


class _DedupeCommand(QUndoCommand):
    """The undo stack's handle on one duplicate removal (one journalled action per set):
    redo resolves the sets (again), undo puts back what the last redo removed.  An ``adopted``
    command wraps removals made earlier (another session): it is pushed done, so its first redo
    does nothing."""

    def __init__(
        self,
        service: HygieneService,
        choices: Sequence[tuple[int, Sequence[int]]],
        action: str,
        folder: str | None,
        text: str,
        adopted: Sequence[int] = (),
    ) -> None:
        super().__init__(text)
        self.service = service
        self.choices = [(keep, list(others)) for keep, others in choices]
        self.action = action
        self.folder = folder
        self.action_ids: list[int] = list(adopted)  # the journal's actions of the last redo
        self._skip_redo = bool(adopted)

    def redo(self) -> None:  # Qt override
        if self._skip_redo:
            self._skip_redo = False
            return
        self.service._queue(self._resolve_work, "Removing duplicates", self.service._on_resolved)

    def undo(self) -> None:  # Qt override
        self.service._queue(self._undo_work, "Undoing the removal", self.service._on_undone)

    def _resolve_work(self, _job: Job) -> list[dedupe.DedupeOutcome]:
        """Resolve every set (on the pool thread); a set that cannot be resolved any more (a track
        gone since) is reported and the others go ahead."""
        self.action_ids = []
        outcomes = []
        for keep, others in self.choices:
            try:
                outcome = dedupe.resolve(
                    self.service.library, keep, others, action=self.action, folder=self.folder
                )
            except dedupe.DedupeError as exc:
                outcomes.append(dedupe.DedupeOutcome(0, problems=[f"set keeping track {keep}: {exc}"]))
                continue
            self.action_ids.append(outcome.action_id)  # at once: undo finds what landed
            outcomes.append(outcome)
        return outcomes

    def _undo_work(self, _job: Job) -> list[dedupe.DedupeOutcome]:
        done, self.action_ids = self.action_ids, []
        outcomes = []
        for action_id in reversed(done):
            try:
                outcomes.append(dedupe.undo(self.service.library, action_id))
            except dedupe.DedupeError as exc:
                outcomes.append(dedupe.DedupeOutcome(action_id, problems=[str(exc)]))
        return outcomes


class HygieneService(QObject):
    """One hygiene job at a time: a search or relink is refused while another job runs; removals
    and their undo/redo (from the undo stack) wait their turn in order."""

    progress = Signal(object)  # Progress of hashing or fingerprinting
    duplicates_found = Signal(object)  # list[DuplicateSet]
    resolved = Signal(object)  # list[DedupeOutcome]
    undone = Signal(object)  # list[DedupeOutcome]
    relink_planned = Signal(object)  # RelinkPlan
    relinked = Signal(int)
    failed = Signal(str)
    running_changed = Signal(bool)
    library_changed = Signal()

    def __init__(
        self, library: Library, parent: QObject | None = None, undo_stack: QUndoStack | None = None
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self.runner = JobRunner(max_threads=1, parent=self)
        self.runner.busy_changed.connect(self._on_runner_busy_changed)
        self.job: Job | None = None
        self._waiting: deque[tuple[Callable[[Job], Any], str, Callable[[object], None]]] = deque()

    @property
    def is_running(self) -> bool:
        return self.runner.is_busy or bool(self._waiting)

    def set_library(self, library: Library) -> None:
        self._waiting.clear()
        self.runner.shutdown()
        self._drop_commands()
        self.library = library

    def shutdown(self) -> None:
        self._waiting.clear()
        self.runner.shutdown()

    def pause(self) -> None:
        if self.job is not None:
            self.job.pause()

    def resume(self) -> None:
        if self.job is not None:
            self.job.resume()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    # -- requests ----------------------------------------------------------------------------------
    def find_duplicates(self, by: str) -> Job | None:
        def work(job: Job) -> Any:
            if by != "tags":
                todo = hashing.tracks_to_hash(self.library, fingerprints=by == "fingerprint")
                summary = hashing.compute_hashes(
                    self.library, todo, fingerprints=by == "fingerprint",
                    progress=job.emit_progress, should_stop=job.should_stop,
                )  # fmt: skip
                if summary.cancelled:
                    return None
            return duplicates.find_duplicates(self.library, by)

        return self._start(work, "Finding duplicates", self._on_found)

    def resolve(
        self, choices: Sequence[tuple[int, Sequence[int]]], action: str, folder: str | None = None
    ) -> bool:
        """(keep, others) per set, removed as one command on the undo stack (each set is one
        journalled action; it waits for a job that runs).  False when there is nothing to remove."""
        choices = [(keep, list(others)) for keep, others in choices if others]
        if not choices:
            return False
        copies = sum(len(others) for _keep, others in choices)
        verb = {"remove": "Remove", "move": "Move", "trash": "Trash"}[action]
        text = f"{verb} {copies:,} duplicate cop{'ies' if copies != 1 else 'y'}"
        self.undo_stack.push(_DedupeCommand(self, choices, action, folder, text))
        return True

    def next_undo(self) -> str | None:
        """What the Duplicates view's Undo would reverse (a description), or None: the removal on
        top of the undo stack, else the journal's newest removal not undone yet when no command on
        the stack holds it (made in an earlier session).  None when another edit is on top."""
        command = self._top_command()
        if command is not None:
            return command.text() if isinstance(command, _DedupeCommand) else None
        latest = dedupe.history(self.library, limit=1)
        if not latest or latest[0].undone_at is not None or latest[0].id in self._held_action_ids():
            return None
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(latest[0].created_at))
        return f"the removal of {when}: {latest[0].description}"

    def undo_last_removal(self) -> bool:
        """The Duplicates view's Undo: undo the stack's top command when it is a removal; else
        adopt the journal's newest removal as a command and undo it (so that Redo repeats it)."""
        if self.next_undo() is None:
            return False
        if self._top_command() is None:
            latest = dedupe.history(self.library, limit=1)[0]
            action, keep, others, folder = dedupe.replay(self.library, latest.id)
            text = f"Remove duplicates ({latest.description})"
            self.undo_stack.push(_DedupeCommand(self, [(keep, others)], action, folder, text, [latest.id]))
        self.undo_stack.undo()
        return True

    def plan_relink(self, folder: str) -> Job | None:
        def work(job: Job) -> Any:
            return relink.plan_relink(self.library, folder, should_stop=job.should_stop)

        return self._start(work, "Looking for moved files", self._on_planned)

    def apply_relink(self, moves: Sequence[tuple[int, str, str]]) -> Job | None:
        def work(_job: Job) -> Any:
            return relink.apply_relink(self.library, list(moves))

        return self._start(work, "Relinking", self._on_relinked)

    # -- plumbing ----------------------------------------------------------------------------------
    def _top_command(self) -> QUndoCommand | None:
        index = self.undo_stack.index()
        return self.undo_stack.command(index - 1) if index > 0 else None

    def _commands(self) -> list[_DedupeCommand]:
        stack = self.undo_stack
        commands = (stack.command(i) for i in range(stack.count()))
        return [c for c in commands if isinstance(c, _DedupeCommand)]

    def _held_action_ids(self) -> set[int]:
        return {i for command in self._commands() for i in command.action_ids}

    def _drop_commands(self) -> None:
        """Another library: this one's removals cannot be undone from the stack any more."""
        for command in self._commands():
            command.setObsolete(True)
            command.action_ids = []

    def _queue(self, work: Callable[[Job], Any], name: str, on_finished: Callable[[object], None]) -> None:
        """Run ``work`` after the jobs before it (undo and redo arrive faster than files move)."""
        self._waiting.append((work, name, on_finished))
        if not self.runner.is_busy:
            self._start_next()

    def _start_next(self) -> None:
        if self._waiting and not self.runner.is_busy:
            self._start(*self._waiting.popleft())

    def _on_runner_busy_changed(self, busy: bool) -> None:
        if busy or not self._waiting:
            self.running_changed.emit(busy)
        if not busy:
            self._start_next()

    def _start(self, work, name: str, on_finished) -> Job | None:  # type: ignore[no-untyped-def]
        if self.runner.is_busy:
            self.failed.emit("another duplicate or relink job is still running")
            return None

        def run(job: Job) -> Any:
            try:
                return work(job)
            finally:
                self.library.close()  # this pool thread's connection

        job = FunctionJob(run, name)
        job.signals.progress.connect(self.progress)
        job.signals.finished.connect(on_finished)
        job.signals.failed.connect(self.failed)
        self.job = job
        return self.runner.start(job)

    def _on_found(self, sets: object) -> None:
        if sets is not None:
            self.duplicates_found.emit(sets)

    def _on_resolved(self, outcomes: object) -> None:
        self.resolved.emit(outcomes)
        self.library_changed.emit()

    def _on_undone(self, outcomes: object) -> None:
        self.undone.emit(outcomes)
        self.library_changed.emit()

    def _on_planned(self, plan: object) -> None:
        self.relink_planned.emit(plan)

    def _on_relinked(self, count: object) -> None:
        self.relinked.emit(int(count))  # type: ignore[arg-type]
        self.library_changed.emit()
