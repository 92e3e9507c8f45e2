"""BPM and key analysis of library tracks in the background: warm-up, workers, batched writes.

Shape (one batch at a time; requests made while it runs join it)::

    AnalysisService (GUI thread)
      ├─ _WarmUpJob        once: starts one analysis process per worker, each loads numpy, scipy.fft
      │                    and PyAV and analyses a tiny loop (well under a second)
      ├─ _BatchJob         the coordinator, on a pool thread: waits for the warm-up, turns requests into
      │                    track ids (the store decides what is left to do), feeds paths to the workers,
      │                    writes results through the library's single writer every 20 results or 1 s,
      │                    reports one throttled Progress, and watches the per-file time limit
      └─ _AnalysisWorker×N threads; each hands one file at a time to its process (``ProcessAnalyzer``)
                           and waits.  Processes, because the core holds the GIL for much of its work
                           (PyAV's per-frame loop, the tempo fit): measured on 2 cores, 2 processes did
                           ~20 % more tracks/min than 2 threads, and a process can be killed.

Time limit: the decoder bounds itself (deadline between packets, FFmpeg I/O timeout, capped length).
A file still running past its limit has its process killed (a fresh one takes over) and is recorded
as failed (``AnalysisTimeout``).  Behind that, the coordinator's watchdog gives up on any worker
still stuck ``WATCHDOG_MARGIN`` later and starts a replacement, so the batch always goes on (with
``use_processes=False`` it is the only guard, at the limit itself: a thread cannot be killed, so the
abandoned one finishes or stays stuck on its own; at most ``MAX_ABANDONED_WORKERS`` are replaced).

The processes hold ~270 MB each: after ``RELEASE_PROCESSES_AFTER_S`` without work they are stopped,
and the next request prepares them again (they load numpy, scipy.fft and PyAV: nothing is compiled).

"What is left" comes from the library (tracks neither analysed nor failed), so a batch interrupted by
quitting continues where it stopped when it is requested again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from crate_app.analysis.outcome import AnalyzeFunction, FileOutcome, analyse_track
from crate_app.analysis.processes import (
    TIME_LIMIT_GRACE,
    ProcessAnalyzer,
    analyze_in_process,
    prepare_in_process,
)
from crate_app.domain.errors import AnalysisUnavailable
from crate_app.domain.keys import KeyNotation
from crate_app.domain.progress import ProgressMeter
from crate_app.domain.search import ParsedQuery
from crate_app.domain.track import AnalysisOptions, AnalysisResult, display_path
from crate_app.services.jobs import Job, JobRunner, JobSignals, JobState, start_on_pool
from crate_app.store import writer
from crate_app.store.library import Library

log = logging.getLogger(__name__)

WRITE_EVERY_RESULTS = 20  # results per write transaction ...
WRITE_EVERY_SECONDS = 1.0  # ... or sooner, so that the table keeps up
WATCHDOG_MARGIN = 5.0  # with processes: a worker still waiting this long after its file's limit is replaced
MAX_ABANDONED_WORKERS = 4  # stuck threads replaced per batch before the batch stops
CANCEL_WAIT_SECONDS = 2.0  # after a cancel, results still this close are kept
# Each analysis process holds ~100 MB at rest (numpy, scipy.fft, PyAV): they are stopped after this long
# without work, and started again by the next request (under a second).
RELEASE_PROCESSES_AFTER_S = 300


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    """Tracks to analyse: explicit ids (a selection) or a search (None = the whole library)."""

    ids: tuple[int, ...] | None = None
    query: ParsedQuery | None = None
    force: bool = False  # also tracks analysed (or failed) before


@dataclass(frozen=True, slots=True)
class AnalysisSummary:
    """How a batch ended."""

    analyzed: int
    failed: int
    total: int
    seconds: float
    cancelled: bool = False
    timed_out: int = 0
    tags_written: int = 0
    tag_errors: tuple[tuple[str, str], ...] = ()  # (path, reason) of files whose tags were not written
    stopped_reason: str = ""  # set when the batch stopped by itself before the end


@dataclass(frozen=True, slots=True)
class _Item:
    track_id: int
    path: str
    name: str  # what the progress shows


@dataclass(slots=True)
class _Running:
    item: _Item
    worker: _AnalysisWorker
    started: float


@dataclass
class _BatchSettings:
    options: AnalysisOptions
    write_tags: bool
    tag_notation: KeyNotation
    time_limit: float
    analyze: AnalyzeFunction
    library: Library | None = None  # read for the user's locked values before writing tags


class _Shared:
    """What the coordinator and its workers share (all access under ``lock`` or through queues)."""

    def __init__(self, settings: _BatchSettings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.work: queue.Queue[_Item] = queue.Queue()
        self.outcomes: queue.Queue[FileOutcome | _AnalysisWorker] = queue.Queue()
        self.running: dict[int, _Running] = {}  # token -> file being analysed
        self.no_more_work = threading.Event()
        self.unavailable: str | None = None  # analysis cannot go on (its processes keep dying): why
        self._next_token = 0

    def begin(self, item: _Item, worker: _AnalysisWorker) -> int:
        with self.lock:
            self._next_token += 1
            self.running[self._next_token] = _Running(item, worker, time.monotonic())
            return self._next_token

    def is_running(self, token: int) -> bool:
        with self.lock:
            return token in self.running

    def complete(self, token: int) -> _Item | None:
        """The worker's claim on a finished file: its item, or None if the coordinator gave up on it."""
        with self.lock:
            running = self.running.pop(token, None)
            return running.item if running is not None else None

    def give_up(self, token: int) -> _Running | None:
        """The coordinator's claim on an overdue file (the worker's result will be dropped)."""
        with self.lock:
            running = self.running.pop(token, None)
            if running is not None:
                running.worker.abandoned = True
            return running


class _AnalysisWorker(Job):
    """Analyses files from the shared queue, one at a time, until told there is no more work."""

    def __init__(self, shared: _Shared) -> None:
        super().__init__("Analysing")
        self.shared = shared
        self.abandoned = False  # set by the coordinator when a file overran the time limit

    def work(self) -> None:
        shared = self.shared
        try:
            while not self.should_stop() and not self.abandoned:
                try:
                    item = shared.work.get(timeout=0.2)
                except queue.Empty:
                    if shared.no_more_work.is_set():
                        break
                    continue
                token = shared.begin(item, self)
                try:
                    outcome = self._analyse(item, token)
                except AnalysisUnavailable as error:  # not this file's fault: the batch stops
                    with shared.lock:
                        shared.running.pop(token, None)
                        shared.unavailable = shared.unavailable or str(error)
                        shared.work.put(item)  # left for a later batch
                    break
                if shared.complete(token) is None:
                    return  # given up on by the coordinator; a replacement has taken this one's place
                if outcome.result is None and self.is_cancelled:
                    continue  # interrupted by the cancel (quitting stops the processes): left for later
                shared.outcomes.put(outcome)
        finally:
            if shared.settings.write_tags and shared.settings.library is not None:
                shared.settings.library.close()  # this pool thread's connection (read for locked values)
            if not self.abandoned:
                shared.outcomes.put(self)  # "this worker has ended"

    def _analyse(self, item: _Item, token: int) -> FileOutcome:
        settings = self.shared.settings
        return analyse_track(
            item.track_id,
            item.path,
            settings.analyze,
            settings.options,
            tag_notation=settings.tag_notation if settings.write_tags else None,
            stored=lambda: settings.library.track_by_id(item.track_id) if settings.library else None,
            still_wanted=lambda: self.shared.is_running(token),
            quiet=lambda: self.is_cancelled,
        )


class _Tally:
    """Counts and the results not yet written, on the coordinator's thread."""

    def __init__(self, meter: ProgressMeter) -> None:
        self.meter = meter
        self.results: list[tuple[int, AnalysisResult]] = []
        self.failures: list[tuple[int, str]] = []
        self.analyzed = self.failed = self.timed_out = self.tags_written = 0
        self.abandoned = 0  # workers given up on (stuck past the limit) and replaced
        self.tag_errors: list[tuple[str, str]] = []

    @property
    def unsaved(self) -> bool:
        return bool(self.results or self.failures)

    def record(self, outcome: FileOutcome) -> None:
        if outcome.result is not None:
            self.results.append((outcome.track_id, outcome.result))
            self.analyzed += 1
        else:
            self.failures.append((outcome.track_id, outcome.error or "analysis failed"))
            self.failed += 1
            self.timed_out += outcome.timed_out
        self.tags_written += outcome.tags_written
        if outcome.tag_error is not None and len(self.tag_errors) < 100:
            self.tag_errors.append((display_path(outcome.path), outcome.tag_error))
        self.meter.update(self.analyzed + self.failed, failed=0 if outcome.result is not None else 1)


class _BatchSignals(JobSignals):
    saved = Signal(list)  # track ids whose results are in the library now


class _BatchJob(Job):
    """The coordinator of one batch (see the module docstring)."""

    def __init__(
        self,
        library: Library,
        settings: _BatchSettings,
        workers: int,
        ready: threading.Event,
        warm_up_error: Callable[[], str | None],
        start_worker: Callable[[_AnalysisWorker], None],
    ) -> None:
        super().__init__("Analysing BPM and key")
        self.signals = _BatchSignals()
        self.library = library
        self.shared = _Shared(settings)
        self.worker_count = workers
        self._ready = ready
        self._warm_up_error = warm_up_error
        self._start_worker = start_worker
        self._requests: deque[AnalysisRequest] = deque()
        self._closed = False  # no more requests accepted (the batch is ending)
        self._workers: list[_AnalysisWorker] = []
        self._paused = False
        self.pending_ids: deque[int] = deque()  # requested, not yet queued for a worker
        self.warm_up_failed = False  # ended at once: the analysis processes could not start
        self.seen: set[int] = set()  # every id this batch took on

    # -- from the GUI thread ------------------------------------------------------------------------
    def offer(self, request: AnalysisRequest) -> bool:
        """Add a request to this batch; False when the batch is already ending."""
        with self.shared.lock:
            if self._closed or self.is_cancelled:
                return False
            self._requests.append(request)
            return True

    def pause(self) -> None:
        super().pause()
        with self.shared.lock:
            self._paused = True
            workers = list(self._workers)
        for worker in workers:
            worker.pause()

    def resume(self) -> None:
        super().resume()
        with self.shared.lock:
            self._paused = False
            workers = list(self._workers)
        for worker in workers:
            worker.resume()

    def cancel(self) -> None:
        super().cancel()
        with self.shared.lock:
            workers = list(self._workers)
        for worker in workers:
            worker.cancel()

    def should_stop(self) -> bool:
        return self.is_cancelled  # the coordinator keeps writing while the workers are paused

    def requests_left(self) -> list[AnalysisRequest]:
        """Requests this batch did not take on (after it ended because the warm-up failed)."""
        with self.shared.lock:
            return list(self._requests)

    # -- on the pool thread -------------------------------------------------------------------------
    def work(self) -> AnalysisSummary:
        started = time.monotonic()
        try:
            return self._run(started)
        finally:
            self.shared.no_more_work.set()
            for worker in list(self._workers):
                worker.cancel()
            self.library.close()  # this pool thread's connection

    def _run(self, started: float) -> AnalysisSummary:
        meter = self.meter(total=0)
        while not self._ready.wait(0.1):
            if self.is_cancelled:
                return AnalysisSummary(0, 0, 0, round(time.monotonic() - started, 3), cancelled=True)
        if self._warm_up_error() is not None:  # the requests wait for a Retry (the service keeps them)
            with self.shared.lock:
                self._closed = True
            self.warm_up_failed = True
            return AnalysisSummary(0, 0, 0, round(time.monotonic() - started, 3))
        tally = _Tally(meter)
        for _ in range(self.worker_count):
            self._add_worker()
        live = self.worker_count
        last_write = time.monotonic()
        cancel_deadline: float | None = None
        limit = self.shared.settings.time_limit
        while live > 0:
            if self.shared.unavailable is not None and not self.shared.no_more_work.is_set():
                self._drain_work()
                self.shared.no_more_work.set()
            if not self.is_cancelled and self.shared.unavailable is None:
                self._take_requests(meter)
                self._feed()
                if self._finished():
                    self.shared.no_more_work.set()  # the workers end once the queue is empty
            elif cancel_deadline is None:
                cancel_deadline = time.monotonic() + CANCEL_WAIT_SECONDS
                self._drain_work()
            for message in self._messages(timeout=0.1):
                if isinstance(message, _AnalysisWorker):
                    live -= 1
                else:
                    tally.record(message)
            # The per-file time limit, and after a cancel the short wait for files nearly done.
            now = time.monotonic()
            with self.shared.lock:
                overdue = [
                    token
                    for token, running in self.shared.running.items()
                    if now - running.started > limit
                    or (cancel_deadline is not None and now > cancel_deadline)
                ]
            for token in overdue:
                running = self.shared.give_up(token)
                if running is None:
                    continue  # it finished just now
                live -= 1
                if self.is_cancelled:
                    continue  # not recorded: it is left for the next batch
                log.warning("analysis of %s overran %g s", display_path(running.item.path), limit)
                tally.abandoned += 1
                tally.record(FileOutcome.overran(running.item.track_id, running.item.path, limit))
                if tally.abandoned <= MAX_ABANDONED_WORKERS:
                    self._add_worker()
                    live += 1
            meter.update(current=self._latest_name())
            if tally.unsaved and (
                len(tally.results) + len(tally.failures) >= WRITE_EVERY_RESULTS
                or now - last_write >= WRITE_EVERY_SECONDS
                or self._idle_while_paused()  # paused: save what the last files gave at once
            ):
                self._write(tally)
                last_write = now
        self._write(tally)
        stopped_reason = ""
        if self.shared.unavailable is not None:
            stopped_reason = self.shared.unavailable
        elif not self.is_cancelled and self._has_work():
            stopped_reason = f"{tally.abandoned} files made the analysis hang, so the batch stopped"
        meter.finish()
        return AnalysisSummary(
            analyzed=tally.analyzed,
            failed=tally.failed,
            total=meter.total or 0,
            seconds=round(time.monotonic() - started, 3),
            cancelled=self.is_cancelled,
            timed_out=tally.timed_out,
            tags_written=tally.tags_written,
            tag_errors=tuple(tally.tag_errors),
            stopped_reason=stopped_reason,
        )

    def _messages(self, timeout: float) -> Iterable[FileOutcome | _AnalysisWorker]:
        """What the workers reported: waits up to ``timeout`` for the first message, then takes the rest."""
        try:
            yield self.shared.outcomes.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            try:
                yield self.shared.outcomes.get_nowait()
            except queue.Empty:
                return

    def _idle_while_paused(self) -> bool:
        with self.shared.lock:
            return self._paused and not self.shared.running

    def _latest_name(self) -> str:
        with self.shared.lock:
            if not self.shared.running:
                return ""
            return max(self.shared.running.values(), key=lambda running: running.started).item.name

    def _add_worker(self) -> None:
        worker = _AnalysisWorker(self.shared)
        with self.shared.lock:
            self._workers.append(worker)
            paused = self._paused
        if paused:
            worker.pause()
        if self.is_cancelled:
            worker.cancel()
        self._start_worker(worker)

    def _take_requests(self, meter: ProgressMeter) -> None:
        while True:
            with self.shared.lock:
                if not self._requests:
                    return
                request = self._requests.popleft()
            if request.ids is not None:
                ids = self.library.filter_ids_to_analyze(request.ids, force=request.force)
            else:
                ids = self.library.ids_to_analyze(request.query, force=request.force)
            new = [track_id for track_id in ids if track_id not in self.seen]
            self.seen.update(new)
            self.pending_ids.extend(new)
            meter.update(total=(meter.total or 0) + len(new))

    def _feed(self) -> None:
        """Keep a few files queued per worker (paths are read in small chunks: fine for 1M tracks)."""
        want = 2 * self.worker_count - self.shared.work.qsize()
        if want <= 0 or not self.pending_ids:
            return
        chunk = [self.pending_ids.popleft() for _ in range(min(max(want, 16), len(self.pending_ids)))]
        for record in self.library.tracks_by_ids(chunk):
            name = f"{record.artist} \u2013 {record.title}" if record.artist and record.title else ""
            self.shared.work.put(_Item(record.id, record.path, name or display_path(record.filename)))

    def _drain_work(self) -> None:
        while True:
            try:
                self.shared.work.get_nowait()
            except queue.Empty:
                return

    def _has_work(self) -> bool:
        with self.shared.lock:
            return (
                bool(self.pending_ids or self._requests or self.shared.running)
                or not self.shared.work.empty()
            )

    def _finished(self) -> bool:
        """True (and no more requests accepted) when every requested track has been dealt with."""
        with self.shared.lock:
            if self.pending_ids or self._requests or self.shared.running or not self.shared.work.empty():
                return False
            self._closed = True
            return True

    def _write(self, tally: _Tally) -> None:
        """One transaction per kind through the library's single writer; then tell the window."""
        if not tally.unsaved:
            return
        if tally.results:
            writer.save_analysis(self.library, tally.results)
        if tally.failures:
            writer.save_analysis_failures(self.library, tally.failures)
        ids = [track_id for track_id, _ in tally.results] + [track_id for track_id, _ in tally.failures]
        tally.results.clear()
        tally.failures.clear()
        self.signals.saved.emit(ids)


class _WarmUpJob(Job):
    def __init__(self, warm_up: Callable[[], None]) -> None:
        super().__init__("Preparing analysis")
        self._warm_up = warm_up

    def work(self) -> float:
        started = time.monotonic()
        self._warm_up()
        return time.monotonic() - started


@dataclass
class WarmUpState:
    """Where the one-off preparation of the analysis libraries is."""

    started: bool = False
    ready: bool = False
    error: str | None = None
    seconds: float | None = None
    events: list[str] = field(default_factory=list)
    started_at: float | None = None  # time.monotonic() when it started


class AnalysisService(QObject):
    """Analyses library tracks in the background; see the module docstring.

    Settings (change them between batches): ``options`` (AnalysisOptions), ``write_tags`` and
    ``tag_notation`` (write-back into the files), ``time_limit`` (seconds per file), and for tests or
    other engines ``analyze_function(path, options)`` and ``warm_up_function()``.

    Preparing has a deadline (``warm_up_timeout``, the processes') and reports its elapsed time every
    second; when it fails, ``warm_up_state.error`` says why, requests made meanwhile are kept, and
    ``retry_warm_up()`` tries again and then runs them.

    Signals: ``warm_up_changed(str)`` with the status text while preparing ("" when ready);
    ``started()``; ``progress(Progress)`` at ~10 Hz; ``tracks_saved(list[int])`` after each written
    batch; ``finished(AnalysisSummary)``; ``failed(str)``; ``running_changed(bool)``;
    ``paused_changed(bool)``.
    """

    warm_up_changed = Signal(str)
    started = Signal()
    progress = Signal(object)  # Progress
    tracks_saved = Signal(list)
    finished = Signal(object)  # AnalysisSummary
    failed = Signal(str)
    running_changed = Signal(bool)
    paused_changed = Signal(bool)

    def __init__(
        self,
        library: Library,
        workers: int = 2,
        parent: QObject | None = None,
        *,
        analyze: AnalyzeFunction | None = None,
        warm_up: Callable[[], None] | None = None,
        use_processes: bool = True,
    ) -> None:
        super().__init__(parent)
        self.library = library
        self.workers = max(1, workers)
        self.options = AnalysisOptions()
        self.write_tags = False
        self.tag_notation = KeyNotation.CAMELOT
        self.time_limit: float | None = None  # None: the decoder's deadline plus a grace period
        self.processes = ProcessAnalyzer() if analyze is None and use_processes else None
        self.analyze_function: AnalyzeFunction = analyze or self.processes or analyze_in_process
        self.warm_up_function: Callable[[], None] = warm_up or self._default_warm_up
        self.runner = JobRunner(max_threads=self.workers + 2, parent=self)  # + warm-up + coordinator
        self.warm_up_state = WarmUpState()
        self._ready = threading.Event()
        self._job: _BatchJob | None = None
        self._workers: list[_AnalysisWorker] = []
        self._waiting: list[AnalysisRequest] = []  # requests that arrived while a batch was ending
        self._held: list[AnalysisRequest] = []  # requests kept while the warm-up has failed (Retry)
        self._warm_up_ticker = QTimer(self)  # the elapsed time of the warm-up, every second
        self._warm_up_ticker.setInterval(1000)
        self._warm_up_ticker.timeout.connect(self._on_warm_up_ticker_timeout)
        self._release_timer = QTimer(self)
        self._release_timer.setSingleShot(True)
        self._release_timer.setInterval(int(RELEASE_PROCESSES_AFTER_S * 1000))
        self._release_timer.timeout.connect(self.release_processes)

    # -- state --------------------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        return self._job is not None

    @property
    def is_paused(self) -> bool:
        return self._job is not None and self._job.is_paused

    @property
    def is_ready(self) -> bool:
        return self.warm_up_state.ready

    # -- commands -----------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Start the analysis processes in the background (once); analysis requests wait for them."""
        state = self.warm_up_state
        if state.started:
            return
        state.started = True
        state.started_at = time.monotonic()
        job = _WarmUpJob(self.warm_up_function)
        job.signals.finished.connect(self._on_warm_up_finished)
        job.signals.failed.connect(self._on_warm_up_failed)
        self.runner.start(job)
        self._warm_up_ticker.start()
        self.warm_up_changed.emit(self.warm_up_text())

    @property
    def warm_up_failed(self) -> bool:
        """True when the analysis processes could not start (``retry_warm_up`` tries again)."""
        return self.warm_up_state.error is not None

    @property
    def has_held_requests(self) -> bool:
        """Requests kept while the warm-up has failed (run by ``retry_warm_up``)."""
        return bool(self._held) or (self._job is not None and not self.is_ready)

    def retry_warm_up(self) -> None:
        """After a failed warm-up: try again, then run the requests made meanwhile."""
        if not self.warm_up_failed:
            return
        if self.processes is not None:
            self.processes.reset()
        self._ready.clear()
        self.warm_up_state = WarmUpState()
        held, self._held = self._held, []
        self.warm_up()
        for request in held:
            self._request(request)

    def _default_warm_up(self) -> None:
        if self.processes is not None:
            self.processes.warm_up(self.workers)
        else:
            prepare_in_process()

    def warm_up_text(self) -> str:
        state = self.warm_up_state
        if state.error is not None:
            return f"Analysis could not start: {state.error}"
        if state.ready or not state.started:
            return ""
        elapsed = f" {time.monotonic() - state.started_at:.0f} s" if state.started_at is not None else ""
        return f"Preparing analysis\u2026{elapsed}"

    def analyze_ids(self, ids: Iterable[int], *, force: bool = True) -> None:
        """Analyse these tracks (a selection: by default again, even if analysed before)."""
        ids = tuple(ids)
        if ids:
            self._request(AnalysisRequest(ids=ids, force=force))

    def analyze_query(self, query: ParsedQuery | None = None, *, force: bool = False) -> None:
        """Analyse the tracks matching ``query`` (None: the whole library) not analysed yet."""
        self._request(AnalysisRequest(query=query, force=force))

    def pause(self) -> None:
        if self._job is not None and not self._job.is_paused:
            self._job.pause()
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self._job is not None and self._job.is_paused:
            self._job.resume()
            self.paused_changed.emit(False)

    def cancel(self) -> None:
        """Stop the batch: results already computed are kept, the rest is left for later."""
        self._waiting.clear()
        self._held.clear()
        if self._job is not None:
            self._job.cancel()

    def set_library(self, library: Library, timeout_ms: int = 10_000) -> None:
        """Analyse another library from now on: a running batch is cancelled and waited for first
        (what it finished is saved; the rest is left for later)."""
        self.cancel()
        job = self._job
        if job is not None:
            self.runner.shutdown(timeout_ms)  # its signals still queued are ignored: it is not current
            self._job = None
            self._waiting.clear()
            self.running_changed.emit(False)
        self.library = library

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel and wait for the workers; False if a thread stuck in a file did not stop in time."""
        self.cancel()
        self._release_timer.stop()
        if self.stuck_workers():
            timeout_ms = min(timeout_ms, 500)  # no use waiting long for a thread given up on
        if self.processes is not None:
            self.processes.close()  # threads waiting for a process get an error and end at once
        return self.runner.shutdown(timeout_ms)

    def stuck_workers(self) -> int:
        """Worker threads given up on (over the time limit) that are still inside their file."""
        running = (JobState.RUNNING, JobState.PAUSED)
        return sum(worker.abandoned and worker.state in running for worker in list(self._workers))

    # -- internals ----------------------------------------------------------------------------------
    def release_processes(self) -> None:
        """Stop the idle analysis processes (done by itself after ``RELEASE_PROCESSES_AFTER_S`` without
        work); the next request prepares them again."""
        if self._job is not None or self.processes is None or not self.warm_up_state.ready:
            return
        stopped = self.processes.stop_idle()
        self._ready.clear()
        self.warm_up_state = WarmUpState()
        log.info("stopped %d idle analysis processes", stopped)

    def _request(self, request: AnalysisRequest) -> None:
        self._release_timer.stop()
        if self.warm_up_failed:
            self._held.append(request)  # kept for a Retry
            return
        self.warm_up()
        if self._job is not None:
            if not self._job.offer(request):
                self._waiting.append(request)
            return
        self._start([request])

    def _start(self, requests: Sequence[AnalysisRequest]) -> None:
        options = self.options
        limit = self.time_limit if self.time_limit is not None else options.timeout_seconds + TIME_LIMIT_GRACE
        if self.processes is not None:  # the process of a file over the limit is killed: the usual case
            self.processes.time_limit = limit
            limit += WATCHDOG_MARGIN  # the coordinator's watchdog only backs that up
        settings = _BatchSettings(
            options, self.write_tags, self.tag_notation, limit, self.analyze_function, self.library
        )
        job = _BatchJob(
            self.library, settings, self.workers, self._ready, self._warm_up_error, self._start_worker
        )
        for request in requests:
            job.offer(request)
        self._job = job
        # Bound slots, so that events of a batch dropped by set_library (still queued) are ignored.
        job.signals.progress.connect(self._on_job_progress)
        job.signals.saved.connect(self._on_job_saved)
        job.signals.finished.connect(self._on_job_finished)
        job.signals.failed.connect(self._on_job_failed)
        job.signals.ended.connect(self._on_job_ended)
        self.runner.start(job)
        self.started.emit()
        self.running_changed.emit(True)

    def _start_worker(self, worker: _AnalysisWorker) -> None:
        """Called on the coordinator's thread: make room for the worker on the pool and start it."""
        pool = self.runner.pool
        busy = pool.activeThreadCount()
        if busy >= pool.maxThreadCount():
            pool.setMaxThreadCount(busy + 1)  # a replacement for a thread stuck in a file
        # Python owns the worker: keep it referenced until it has ended (a worker stuck in a file may
        # outlive its batch).
        self._workers = [
            w for w in self._workers if w.state in (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED)
        ]
        self._workers.append(worker)
        start_on_pool(pool, worker)

    def _warm_up_error(self) -> str | None:
        return self.warm_up_state.error

    def _on_warm_up_ticker_timeout(self) -> None:
        if self.warm_up_state.ready or self.warm_up_state.error is not None or not self.warm_up_state.started:
            self._warm_up_ticker.stop()
            return
        self.warm_up_changed.emit(self.warm_up_text())

    def _on_warm_up_finished(self, seconds: object) -> None:
        self._warm_up_ticker.stop()
        state = self.warm_up_state
        state.ready, state.seconds = True, float(seconds)  # type: ignore[arg-type]
        log.info("analysis warm-up took %.1f s", state.seconds)
        self._ready.set()
        self.warm_up_changed.emit("")
        if self._job is None and self.processes is not None:
            self._release_timer.start()

    def _on_warm_up_failed(self, message: str) -> None:
        self._warm_up_ticker.stop()
        self.warm_up_state.error = message
        self._ready.set()
        self.warm_up_changed.emit(self.warm_up_text())

    def _from_current_job(self) -> bool:
        return self._job is not None and self.sender() is self._job.signals

    def _on_job_progress(self, progress: Any) -> None:
        if self._from_current_job():
            self.progress.emit(progress)

    def _on_job_saved(self, ids: list) -> None:
        if self._from_current_job():
            self.tracks_saved.emit(ids)

    def _on_job_failed(self, message: str) -> None:
        if self._from_current_job():
            self.failed.emit(message)

    def _on_job_finished(self, summary: Any) -> None:
        if self._from_current_job() and not self._job.warm_up_failed:
            self.finished.emit(summary)

    def _on_job_ended(self, job: Job) -> None:
        if job is not self._job:
            return
        if job.is_paused:
            self.paused_changed.emit(False)
        self._job = None
        if job.warm_up_failed:  # its requests wait for a Retry (or run now: a Retry came first)
            if self.warm_up_failed:
                self._held += job.requests_left() + self._waiting
                self._waiting = []
            else:
                self._waiting = job.requests_left() + self._waiting
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            self._start(waiting)
        else:
            self.running_changed.emit(False)
            if self.processes is not None:
                self._release_timer.start()
