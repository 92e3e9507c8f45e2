"""Scanning folders into the library on a worker thread, with progress, cancel and live batch events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from crate_app.domain.progress import Progress
from crate_app.services.jobs import Job, JobRunner, JobSignals
from crate_app.services.memory import release_free_memory
from crate_app.store.library import Library


class ScanSignals(JobSignals):
    batch_committed = Signal(int, int)  # added, updated: rows are in the library now


class ScanJob(Job):
    """Runs ``scan_paths`` (or ``rescan_library`` when ``paths`` is None) on a pool thread."""

    def __init__(self, library: Library, paths: Sequence[str] | None, workers: int | None = None) -> None:
        super().__init__("Rescanning the library" if paths is None else "Adding files")
        self.signals = ScanSignals()
        self.library = library
        self.paths = list(paths) if paths is not None else None
        self.workers = workers

    def work(self) -> Any:
        from crate_app.library import scanner  # imported on the worker: keeps window start-up light

        kwargs = {
            "progress": self.emit_progress,
            "should_stop": self.should_stop,
            "on_batch": self.signals.batch_committed.emit,
            "workers": self.workers,
        }
        try:
            if self.paths is None:
                summary = scanner.rescan_library(self.library, **kwargs)
            else:
                summary = scanner.scan_paths(self.library, self.paths, **kwargs)
        finally:
            self.library.close()  # this pool thread's connection
        if self.last_progress is not None:
            self.emit_progress(self.last_progress, force=True)
        return summary


class ScanService(QObject):
    """One scan at a time; folders dropped while a scan runs are scanned right after it.

    Signals carry plain values: ``progress(Progress)``, ``tracks_committed(added, updated)`` after
    each committed batch, ``finished(ScanSummary)``, ``failed(message)``, ``running_changed(bool)``.
    """

    started = Signal(str)  # what is being done, for the status bar
    progress = Signal(object)  # Progress
    tracks_committed = Signal(int, int)  # added, updated
    finished = Signal(object)  # ScanSummary
    failed = Signal(str)
    running_changed = Signal(bool)

    def __init__(self, runner: JobRunner, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.library = library
        self.workers: int | None = None  # scanner default
        self._job: ScanJob | None = None
        self._queued: list[str] = []
        self._rescan_queued = False

    @property
    def is_running(self) -> bool:
        return self._job is not None

    def scan(self, paths: Sequence[str]) -> None:
        """Add folders or files to the library (queued if a scan is running)."""
        if not paths:
            return
        if self._job is not None:
            self._queued.extend(p for p in paths if p not in self._queued)
            return
        self._start(ScanJob(self.library, paths, self.workers))

    def rescan(self) -> None:
        """Rescan every library root: new, changed, missing and restored files."""
        if self._job is not None:
            self._rescan_queued = True
            return
        self._start(ScanJob(self.library, None, self.workers))

    def cancel(self) -> None:
        """Stop the running scan (what was committed stays) and forget queued ones."""
        self._queued.clear()
        self._rescan_queued = False
        if self._job is not None:
            self._job.cancel()

    def set_library(self, library: Library) -> None:
        """Scan into another library from now on (cancel and wait for a running scan first)."""
        if self._job is not None:
            raise RuntimeError("cannot change the library while a scan is running")
        self.library = library

    def _start(self, job: ScanJob) -> None:
        self._job = job
        job.signals.progress.connect(self.progress)
        job.signals.batch_committed.connect(self.tracks_committed)
        job.signals.finished.connect(self._on_job_finished)
        job.signals.failed.connect(self.failed)
        job.signals.ended.connect(self._on_job_ended)
        self.runner.start(job)
        self.started.emit(job.name)
        self.running_changed.emit(True)

    def _on_job_finished(self, summary: object) -> None:
        self.finished.emit(summary)

    def _on_job_ended(self, job: Job) -> None:
        if job is not self._job:
            return
        self._job = None
        if self._queued:
            paths, self._queued = self._queued, []
            self._start(ScanJob(self.library, paths, self.workers))
        elif self._rescan_queued:
            self._rescan_queued = False
            self._start(ScanJob(self.library, None, self.workers))
        else:
            release_free_memory()
            self.running_changed.emit(False)

    def progress_text(self, progress: Progress) -> str:
        """'Adding files: 1,234 / 50,000 · 812/s · 1 min left'."""
        name = self._job.name if self._job is not None else "Scanning"
        return f"{name}: {progress.describe()}"
