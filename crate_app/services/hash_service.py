"""Audio hashes in the background: the window hashes new and changed files after scans, at disk speed,
so that "same audio" duplicates and relinking find their hashes ready (and the keys of duplicates by
tags are made first, so that a search after a big import does not make a million of them).

One job at a time on its own pool thread, over ``hygiene.hashing.hash_library``.  The user can pause it
(``set_paused``); other work can hold it (``hold(reason)`` / ``release(reason)``: a scan reading the
same disk, a duplicate search hashing the same files), and it goes on when nothing holds it.  A scan
that finishes while a pass runs asks for another pass when this one ends.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from crate_app.domain.progress import Progress
from crate_app.hygiene import duplicates, hashing
from crate_app.services.jobs import FunctionJob, Job, JobRunner
from crate_app.store.library import Library


class HashService(QObject):
    """Runs background hashing passes over one library."""

    progress = Signal(object)  # Progress of the pass
    running_changed = Signal(bool)
    paused_changed = Signal(bool)  # the pass waits (paused by the user, or held by other work)
    finished = Signal(object)  # hashing.HashSummary of a pass that ran to its end or was cancelled
    failed = Signal(str)

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.runner = JobRunner(max_threads=1, parent=self)
        self.runner.busy_changed.connect(self._on_runner_busy_changed)
        self.job: Job | None = None
        self.user_paused = False
        self._holds: set[str] = set()
        self._again = False  # another pass when this one ends (tracks were added meanwhile)

    @property
    def is_running(self) -> bool:
        return self.runner.is_busy

    @property
    def is_waiting(self) -> bool:
        """Paused by the user or held by other work."""
        return self.user_paused or bool(self._holds)

    def start(self) -> Job | None:
        """Start a pass (if one runs, another follows it).  Nothing after ``shutdown``."""
        if self.runner.is_closed:
            return None
        if self.runner.is_busy:
            self._again = True
            return None
        self._again = False
        job = FunctionJob(self._pass, "Hashing audio")
        job.signals.progress.connect(self._on_job_progress)
        job.signals.finished.connect(self._on_job_finished)
        job.signals.failed.connect(self.failed)
        self.job = job
        if self.is_waiting:
            job.pause()
        return self.runner.start(job)

    def set_paused(self, paused: bool) -> None:
        """The user's Pause / Resume."""
        self.user_paused = bool(paused)
        self._apply()

    def hold(self, reason: str) -> None:
        """Other work needs the disk (or hashes the same files): wait until ``release(reason)``."""
        self._holds.add(reason)
        self._apply()

    def release(self, reason: str) -> None:
        self._holds.discard(reason)
        self._apply()

    def set_library(self, library: Library) -> None:
        self.runner.shutdown()
        self.library = library
        self._again = False

    def shutdown(self) -> None:
        """Stop the pass (what was hashed is kept) and wait for its thread; no pass starts after."""
        self.runner.close()

    # -- plumbing ----------------------------------------------------------------------------------
    def _pass(self, job: Job) -> hashing.HashSummary:
        library = self.library
        try:
            # The keys of duplicates by tags first (CPU only, ~30 µs a track): a million new tracks' keys
            # are made here, not by the user's first search.
            duplicates.refresh_tag_keys(library, should_stop=job.should_stop)
            return hashing.hash_library(library, progress=job.emit_progress, should_stop=job.should_stop)
        finally:
            library.close()  # this pool thread's connection

    def _apply(self) -> None:
        job = self.job
        if job is not None and self.runner.is_busy:
            if self.is_waiting:
                job.pause()
            else:
                job.resume()
        self.paused_changed.emit(self.is_waiting)

    def _on_job_progress(self, progress: Progress) -> None:
        self.progress.emit(progress)

    def _on_job_finished(self, summary: object) -> None:
        self.finished.emit(summary)

    def _on_runner_busy_changed(self, busy: bool) -> None:
        self.running_changed.emit(busy)
        if not busy:
            self.job = None
            if self._again:
                self.start()
