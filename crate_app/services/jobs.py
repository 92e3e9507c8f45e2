"""Background jobs: a QRunnable base with cancel, pause/resume and throttled progress, and a runner.

Every long piece of work in the window (scanning, analysis, renames, the table's own queries) runs as a
``Job`` on a ``JobRunner``'s QThreadPool.  A job's signals live on a separate QObject (``job.signals``)
created in the thread that made the job, so connected slots of GUI objects run on the GUI thread.

Writing a job::

    class CountWords(Job):
        def __init__(self, paths: list[Path]) -> None:
            super().__init__("Counting words")
            self.paths = paths

        def work(self) -> int:
            meter = self.meter(total=len(self.paths))   # progress, throttled to ~10 Hz
            words = 0
            for path in self.paths:
                if self.should_stop():                  # waits here while paused
                    break                               # (or raise JobCancelled)
                words += len(path.read_text().split())
                meter.update(advance=1, current=path.name)
            return words                                # -> signals.finished(words)

    job = runner.start(CountWords(paths))
    job.signals.progress.connect(status_bar.show_progress)   # Progress records
    job.signals.finished.connect(on_counted)
    job.pause(); job.resume(); job.cancel()

Outcome: exactly one of ``finished(result)`` (also after a cancel, when ``work`` returned a partial
result), ``cancelled()`` (``work`` raised ``JobCancelled``) or ``failed(message)``; then ``ended(job)``.
Connect them to bound methods of QObjects (not lambdas), so that Qt queues the calls onto the thread
of the receiver.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from crate_app.domain.progress import Progress, ProgressMeter

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside ``Job.work`` (by ``check()``) to stop a job that was cancelled."""


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"


class JobSignals(QObject):
    """The signals of one job (a QRunnable is not a QObject, so they live here)."""

    state_changed = Signal(object)  # JobState
    progress = Signal(object)  # Progress
    finished = Signal(object)  # the result of work()
    cancelled = Signal()
    failed = Signal(str)
    ended = Signal(object)  # the Job; always last, whatever the outcome


class Job(QRunnable):
    """A unit of background work.  Subclass and implement ``work()``; see the module docstring.

    ``cancel()``, ``pause()`` and ``resume()`` may be called from any thread; ``work()`` sees them
    at its next ``should_stop()`` / ``check()``.  Progress goes through ``meter()`` (or
    ``emit_progress()``), which throttles to ``progress_interval`` seconds.
    """

    progress_interval = 0.1

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns the job; the runner keeps it alive until it ends
        self.name = name or type(self).__name__
        self.signals = JobSignals()
        self._state = JobState.QUEUED
        self._cancelled = threading.Event()
        self._condition = threading.Condition()
        self._paused = False
        self._last_progress = float("-inf")
        self._last_snapshot: Progress | None = None

    # -- control, from any thread --------------------------------------------------------------------
    @property
    def state(self) -> JobState:
        return self._state

    @property
    def is_cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def is_paused(self) -> bool:
        return self._paused

    @property
    def last_progress(self) -> Progress | None:
        """The most recent progress snapshot the job emitted (None before the first)."""
        return self._last_snapshot

    def cancel(self) -> None:
        """Ask the job to stop at its next check (also wakes it if it is paused)."""
        self._cancelled.set()
        with self._condition:
            self._condition.notify_all()

    def pause(self) -> None:
        with self._condition:
            if self._paused or self._state not in (JobState.QUEUED, JobState.RUNNING):
                return
            self._paused = True
        if self._state is JobState.RUNNING:
            self._set_state(JobState.PAUSED)

    def resume(self) -> None:
        with self._condition:
            if not self._paused:
                return
            self._paused = False
            self._condition.notify_all()
        if self._state is JobState.PAUSED:
            self._set_state(JobState.RUNNING)

    # -- for work(), on the worker thread ------------------------------------------------------------
    def should_stop(self) -> bool:
        """Wait while paused; then True if the job was cancelled.  Call it between items."""
        if self._paused and not self._cancelled.is_set():
            with self._condition:
                while self._paused and not self._cancelled.is_set():
                    self._condition.wait(0.5)
        return self._cancelled.is_set()

    def check(self) -> None:
        """Like ``should_stop()``, but raises JobCancelled instead of returning True."""
        if self.should_stop():
            raise JobCancelled

    def meter(self, total: int | None = None) -> ProgressMeter:
        """A ProgressMeter that reports through this job's ``progress`` signal at ~10 Hz."""
        return ProgressMeter(total, report=self._report_progress, interval=self.progress_interval)

    def emit_progress(self, progress: Progress, *, force: bool = False) -> None:
        """Emit a ready-made Progress record (e.g. from a core callback), at most ~10 times a second."""
        now = time.monotonic()
        self._last_snapshot = progress
        if force or now - self._last_progress >= self.progress_interval:
            self._last_progress = now
            self.signals.progress.emit(progress)

    def _report_progress(self, progress: Progress) -> None:
        # ProgressMeter already throttles; finish() must always get through.
        self._last_snapshot = progress
        self._last_progress = time.monotonic()
        self.signals.progress.emit(progress)

    def work(self) -> Any:
        """The job's work, on a pool thread.  Return the result (it is passed to ``finished``)."""
        raise NotImplementedError

    # -- QRunnable ----------------------------------------------------------------------------------
    def run(self) -> None:  # Qt override
        if self._cancelled.is_set():
            self._end(JobState.CANCELLED)
            return
        self._set_state(JobState.PAUSED if self._paused else JobState.RUNNING)
        try:
            result = self.work()
        except JobCancelled:
            self._end(JobState.CANCELLED)
        except Exception as exc:  # a job must never take the pool thread (or the window) down
            log.error("job %s failed:\n%s", self.name, traceback.format_exc())
            self._end(JobState.FAILED, message=str(exc) or type(exc).__name__)
        else:
            self._end(JobState.FINISHED, result=result)

    def _end(self, state: JobState, *, result: Any = None, message: str = "") -> None:
        self._set_state(state)
        if state is JobState.FINISHED:
            self.signals.finished.emit(result)
        elif state is JobState.CANCELLED:
            self.signals.cancelled.emit()
        else:
            self.signals.failed.emit(message)
        self.signals.ended.emit(self)

    def _set_state(self, state: JobState) -> None:
        self._state = state
        self.signals.state_changed.emit(state)


class FunctionJob(Job):
    """A job that calls ``function(job)``: for small jobs that need no class of their own."""

    def __init__(self, function: Callable[[Job], Any], name: str = "") -> None:
        super().__init__(name or getattr(function, "__name__", "job"))
        self._function = function

    def work(self) -> Any:
        return self._function(self)


def start_on_pool(pool: QThreadPool, job: QRunnable, priority: int = 0) -> None:
    """Run ``job`` on ``pool`` without giving it to the pool for good.

    PySide6 makes a QRunnable passed to ``QThreadPool.start`` a child of the pool, referenced until
    the pool is destroyed: every job a window ever ran (table pages, covers, tag writes) stayed in
    memory.  A callable is released as soon as it has run, so the job lives as long as Python holds it.
    """
    pool.start(job.run, priority)


class JobRunner(QObject):
    """Owns a QThreadPool, starts jobs on it and keeps each job alive until it has ended.

    ``shutdown()`` cancels what is running and waits for the pool (call it before the library the
    jobs use is closed); the runner can start jobs again afterwards.  ``close()`` does the same and
    then refuses every later ``start``: a timer or queued signal firing after the window shut down
    must not start a job that outlives the pool (Qt's C++ destructor of a QThreadPool waits for its
    jobs while holding the GIL such a job needs, and the process hangs).
    """

    job_started = Signal(object)  # Job
    job_ended = Signal(object)  # Job
    busy_changed = Signal(bool)

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._jobs: list[Job] = []
        self._closed = False

    @property
    def is_closed(self) -> bool:
        """True after ``close()``: ``start`` refuses."""
        return self._closed

    @property
    def jobs(self) -> list[Job]:
        """Jobs started and not yet ended, oldest first."""
        return list(self._jobs)

    @property
    def is_busy(self) -> bool:
        return bool(self._jobs)

    def start(self, job: Job, priority: int = 0) -> Job:
        """Queue ``job`` on the pool; returns it so that callers can connect to ``job.signals``.

        After ``close()`` the job is cancelled instead and never runs (nor emits anything).
        """
        if self._closed:
            log.debug("job %s refused: its runner is closed", job.name)
            job.cancel()
            return job
        was_busy = self.is_busy
        self._jobs.append(job)
        job.signals.ended.connect(self._on_job_ended)  # a bound slot: queued onto the runner's thread
        start_on_pool(self.pool, job, priority)
        self.job_started.emit(job)
        if not was_busy:
            self.busy_changed.emit(True)
        return job

    def cancel_all(self) -> None:
        for job in self._jobs:
            job.cancel()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Wait for every queued and running job (True if they all ended in time)."""
        return self.pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = -1) -> bool:
        """Cancel every job and wait for the pool; True if everything stopped in time."""
        self.cancel_all()
        return self.pool.waitForDone(timeout_ms)

    def close(self, timeout_ms: int = -1) -> bool:
        """Shut down for good: cancel and wait like ``shutdown``, then refuse every later start."""
        self._closed = True
        return self.shutdown(timeout_ms)

    def _on_job_ended(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
            self.job_ended.emit(job)
            if not self._jobs:
                self.busy_changed.emit(False)
