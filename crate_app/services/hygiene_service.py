"""Duplicates and relinking for the window: each request runs as a job on a pool thread.

``find_duplicates(by)`` first hashes (or fingerprints) the tracks that need it, with progress, Pause
and Cancel (what was hashed is kept), then runs that level's query.  ``resolve`` and ``undo`` remove
duplicates reversibly; ``plan_relink`` and ``apply_relink`` find moved files.  Every change to the
library ends with ``library_changed`` so the table reloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from crate_app.hygiene import dedupe, duplicates, hashing, relink
from crate_app.services.jobs import FunctionJob, Job, JobRunner
from crate_app.store.library import Library


class HygieneService(QObject):
    """One hygiene job at a time (the others are refused while it runs)."""

    progress = Signal(object)  # Progress of hashing or fingerprinting
    duplicates_found = Signal(object)  # list[DuplicateSet]
    resolved = Signal(object)  # list[DedupeOutcome]
    undone = Signal(object)  # list[DedupeOutcome]
    relink_planned = Signal(object)  # RelinkPlan
    relinked = Signal(int)
    failed = Signal(str)
    running_changed = Signal(bool)
    library_changed = Signal()

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.runner = JobRunner(max_threads=1, parent=self)
        self.runner.busy_changed.connect(self.running_changed)
        self.job: Job | None = None

    @property
    def is_running(self) -> bool:
        return self.runner.is_busy

    def set_library(self, library: Library) -> None:
        self.runner.shutdown()
        self.library = library

    def shutdown(self) -> None:
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
    ) -> Job | None:
        """(keep, others) per set; each set is one reversible action."""

        def work(_job: Job) -> Any:
            return [
                dedupe.resolve(self.library, keep, others, action=action, folder=folder)
                for keep, others in choices
            ]

        return self._start(work, "Removing duplicates", self._on_resolved)

    def undo(self, action_ids: Sequence[int]) -> Job | None:
        def work(_job: Job) -> Any:
            return [dedupe.undo(self.library, action_id) for action_id in reversed(list(action_ids))]

        return self._start(work, "Undoing the removal", self._on_undone)

    def plan_relink(self, folder: str) -> Job | None:
        def work(job: Job) -> Any:
            return relink.plan_relink(self.library, folder, should_stop=job.should_stop)

        return self._start(work, "Looking for moved files", self._on_planned)

    def apply_relink(self, moves: Sequence[tuple[int, str, str]]) -> Job | None:
        def work(_job: Job) -> Any:
            return relink.apply_relink(self.library, list(moves))

        return self._start(work, "Relinking", self._on_relinked)

    # -- plumbing ----------------------------------------------------------------------------------
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
