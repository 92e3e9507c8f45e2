"""Batch renames for the window: planning previews and running journaled batches on worker threads.

Planning (selecting up to a million tracks and planning their moves) takes seconds, so it never runs
on the GUI thread: ``request_plan`` debounces template edits (~250 ms) and keeps at most one planning
job running; a newer request supersedes an older one (a running job's result is dropped, a queued one
is replaced).

A batch runs as a ``BatchJob``: a new plan is journaled first (``start_batch``), then executed step by
step (``run_batch``).  Pause makes ``run_batch`` return at the next safe point with the journal marked
``paused`` (no pool thread sits idle, and a crash while paused still finds a resumable batch); Resume
starts a new job on the same batch.  Cancel = pause at a safe point, then ``cancel_batch``.  Shutting
the service down pauses a running batch the same way, so the next start of Crate can resume it.
"""

from __future__ import annotations

import gc
import heapq
import threading
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal

from crate_app.domain.progress import Progress
from crate_app.domain.rename import PlanFailure, PlannedMove, RenamePlan, StepKind
from crate_app.domain.search import ParsedQuery
from crate_app.domain.track import TrackRecord
from crate_app.rename import batch_lock, executor
from crate_app.rename.batch import RenameRequest, plan_for_tracks, select_tracks
from crate_app.rename.executor import BatchResult
from crate_app.rename.planner import PlanningStopped
from crate_app.store import journal
from crate_app.store.journal import BatchInfo
from crate_app.store.library import Library

from .jobs import Job, JobRunner, JobSignals

PLAN_DEBOUNCE_MS = 250


@dataclass(frozen=True, slots=True)
class RenameSelection:
    """Which tracks a batch applies to: explicit ids (the selected rows) or every track of a query."""

    ids: tuple[int, ...] | None = None
    query: ParsedQuery | None = None
    description: str = ""  # for people: "12 selected tracks", "all 3,000 shown tracks"
    count: int | None = None  # how many tracks that is, when known (missing files are left out of plans)


@dataclass(frozen=True)
class PlanPreview:
    """A finished plan and what the preview needs of it, all computed on the worker."""

    generation: int
    request: RenameRequest
    plan: RenamePlan
    track_count: int  # tracks in the selection (files known to be missing are left out)
    unchanged_paths: tuple[str, ...]  # the paths of ``plan.unchanged``, same order
    move_order: Sequence[int]  # indexes into ``plan.moves`` by wanted path (how the preview lists them)
    conflict_rows: Sequence[int]  # the same for the moves renamed on collision
    collision_tracks: int  # tracks with a target renamed on collision
    changed_tracks: int  # tracks with at least one file moving (``plan.changed_count``, counted once)
    sidecar_files: int  # sidecar files carried along
    seconds: float

    @property
    def moves(self) -> tuple[PlannedMove, ...]:
        return self.plan.moves

    @property
    def failures(self) -> tuple[PlanFailure, ...]:
        return self.plan.failures

    @property
    def can_execute(self) -> bool:
        return bool(self.plan.steps)


@dataclass(frozen=True)
class BatchOutcome:
    """How a run of a batch ended: ``status`` is done, paused, cancelled or failed."""

    batch_id: int | None
    kind: str  # "rename" or "undo"
    status: str
    result: BatchResult | None = None
    message: str = ""  # why it failed
    moved_ids: tuple[int, ...] = ()  # tracks whose stored path changed
    plan_failures: tuple[PlanFailure, ...] = field(default=())  # tracks the plan could not rename


class PlanJob(Job):
    """Select the tracks (once per dialog; reused after) and plan the batch."""

    def __init__(
        self,
        library: Library,
        selection: RenameSelection,
        request: RenameRequest,
        generation: int,
        tracks: Sequence[TrackRecord] | None,
    ) -> None:
        super().__init__("Planning the rename")
        self.library = library
        self.selection = selection
        self.request = request
        self.generation = generation
        self.tracks = tracks

    def work(self) -> tuple[PlanPreview, list[TrackRecord], RenameSelection] | None:
        started = time.monotonic()
        with _no_cyclic_gc():
            return self._plan(started)

    def _plan(self, started: float) -> tuple[PlanPreview, list[TrackRecord], RenameSelection] | None:
        try:
            tracks = list(self.tracks) if self.tracks is not None else None
            if tracks is None:
                tracks = select_tracks(self.library, self.selection.query, self.selection.ids)
            if self.should_stop():
                return None
            try:
                plan = plan_for_tracks(self.library, tracks, self.request, self.should_stop)
            except PlanningStopped:
                return None  # a newer template or option came in: its plan starts at once
        finally:
            self.library.close()  # this pool thread's connection
        paths = {track.id: track.path for track in tracks}
        moves = plan.moves
        move_order = array("l", _order_by_wanted_path(moves))
        conflict_rows = array("l", (i for i in move_order if moves[i].renamed_on_collision))
        preview = PlanPreview(
            generation=self.generation,
            request=self.request,
            plan=plan,
            track_count=len(tracks),
            unchanged_paths=tuple(paths.get(track_id, "") for track_id in plan.unchanged),
            move_order=move_order,
            conflict_rows=conflict_rows,
            collision_tracks=len({moves[i].track_id for i in conflict_rows}),
            changed_tracks=plan.changed_count,
            sidecar_files=sum(1 for move in moves if move.kind is StepKind.SIDECAR),
            seconds=time.monotonic() - started,
        )
        return preview, tracks, self.selection


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Keep Python's cycle collector off a plan's hundreds of thousands of objects.

    A full collection walks every tracked object with the GIL held: measured on 100,000 tracks, ten
    collections of 0.2-0.7 s froze the window during one plan, and merely pausing the collector moved
    one 0.7 s pause to the end.  So the collector is off while planning (the plan makes no reference
    cycles: reference counting frees everything as usual), and what is alive at the end is frozen
    (``gc.freeze``: left out of later collections, still freed by reference counting).
    ``thaw_collector()`` hands it back to the collector when the dialog is done.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def thaw_collector() -> None:
    """Give the objects frozen by planning back to the cycle collector (no work is done now)."""
    gc.unfreeze()


def _order_by_wanted_path(moves: Sequence[PlannedMove], chunk: int = 4096) -> Iterator[int]:
    """Indexes of ``moves`` by the path each file wanted, a " (2)" right after the file that kept it.

    Sorted in chunks and merged, so that no single C-level sort holds the GIL (and stalls the window)
    for long on a big plan.
    """
    keys = [f"{m.wanted.casefold()}\0{int(m.renamed_on_collision)}{m.dst}" for m in moves]
    runs = [
        sorted(range(s, min(s + chunk, len(keys))), key=keys.__getitem__) for s in range(0, len(keys), chunk)
    ]
    return heapq.merge(*runs, key=keys.__getitem__)


class BatchSignals(JobSignals):
    batch_created = Signal(int)  # the id of a batch journaled by the job (new plan or undo)


class BatchJob(Job):
    """Start (from a plan), resume or undo a batch, and run it until it is done or told to stop.

    ``pause()`` and ``cancel()`` (sent by ``JobRunner.shutdown``) stop at the next safe point with the
    batch paused; a paused batch is resumed by a new job.  ``give_up()`` stops and cancels the rest.
    """

    def __init__(
        self,
        library: Library,
        *,
        plan: PlanPreview | None = None,
        batch_id: int | None = None,
        undo_of: int | None = None,
    ) -> None:
        super().__init__("Undoing a rename" if undo_of is not None else "Renaming files")
        self.library = library
        self.preview = plan
        self.batch_id = batch_id
        self.undo_of = undo_of
        self.kind = "undo" if undo_of is not None else "rename"
        self.signals = BatchSignals()
        self._stop = threading.Event()
        self._give_up = threading.Event()

    # -- control, any thread -------------------------------------------------------------------------
    def pause(self) -> None:
        self._stop.set()

    def cancel(self) -> None:
        self._stop.set()
        super().cancel()

    def give_up(self) -> None:
        self._give_up.set()
        self._stop.set()

    def _should_stop(self) -> bool:
        return self._stop.is_set()

    # -- worker --------------------------------------------------------------------------------------
    def work(self) -> BatchOutcome:
        try:
            return self._run()
        finally:
            self.library.close()

    def _run(self) -> BatchOutcome:
        plan_failures: tuple[PlanFailure, ...] = ()
        if self.preview is not None:
            request = self.preview.request
            plan_failures = self.preview.failures
            self.batch_id = executor.start_batch(
                self.library,
                self.preview.plan,
                description=request.describe(),
                remove_empty_folders=request.remove_empty_folders,
            )
        elif self.undo_of is not None:
            self.batch_id = executor.create_undo(self.library, self.undo_of)
        assert self.batch_id is not None
        if self.preview is not None or self.undo_of is not None:
            self.signals.batch_created.emit(self.batch_id)
        info = journal.batch_info(self.library, self.batch_id)
        kind = info.kind if info is not None else self.kind
        result = executor.run_batch(
            self.library, self.batch_id, progress=self.emit_progress, should_stop=self._should_stop
        )
        if self.last_progress is not None:
            self.emit_progress(self.last_progress, force=True)
        status = result.status
        if status == "paused" and self._give_up.is_set():
            executor.cancel_batch(self.library, self.batch_id)
            status = "cancelled"
        moved = tuple(
            step.track_id
            for step in journal.steps(self.library, self.batch_id, "done")
            if step.kind == "move" and step.track_id is not None
        )
        return BatchOutcome(
            self.batch_id, kind, status, result=result, moved_ids=moved, plan_failures=plan_failures
        )


class RenameService(QObject):
    """Plans and runs rename batches for one library; one batch runs at a time.

    Signals: ``planning_changed(bool)``, ``plan_ready(PlanPreview)``, ``plan_failed(message)``;
    ``batch_started(batch_id, kind)``, ``batch_progress(Progress)``, ``batch_pausing()``,
    ``batch_ended(BatchOutcome)``, ``paths_changed(track ids)`` (the table should re-read them),
    ``running_changed(bool)``.
    """

    planning_changed = Signal(bool)
    plan_ready = Signal(object)  # PlanPreview
    plan_failed = Signal(str)
    batch_started = Signal(int, str)  # batch id, kind
    batch_progress = Signal(object)  # Progress
    batch_pausing = Signal()
    batch_ended = Signal(object)  # BatchOutcome
    paths_changed = Signal(object)  # tuple[int, ...] of track ids
    running_changed = Signal(bool)

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.runner = JobRunner(max_threads=2, parent=self)  # one planning job + one batch
        self._generation = 0
        self._plan_job: PlanJob | None = None
        self._next_plan: tuple[RenameSelection, RenameRequest, int] | None = None
        self._selection: RenameSelection | None = None
        self._tracks: list[TrackRecord] | None = None  # the selection's tracks, read once
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(PLAN_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._on_debounce_timeout)
        self._pending_request: RenameRequest | None = None
        self._batch_job: BatchJob | None = None
        self._outcome: BatchOutcome | None = None  # of the batch job that is ending

    # -- state ---------------------------------------------------------------------------------------
    @property
    def is_planning(self) -> bool:
        return self._plan_job is not None or self._next_plan is not None or self._debounce.isActive()

    @property
    def is_running(self) -> bool:
        return self._batch_job is not None

    @property
    def current_batch(self) -> int | None:
        return self._batch_job.batch_id if self._batch_job is not None else None

    # -- planning ------------------------------------------------------------------------------------
    def set_selection(self, selection: RenameSelection) -> None:
        """The tracks the next plans are for (their records are read once, on the first plan)."""
        self._selection = selection
        self._tracks = None

    def request_plan(self, request: RenameRequest, *, immediately: bool = False) -> int:
        """Plan ``request`` for the selection after a short quiet time; returns the plan's generation.

        Every call supersedes the previous one: only the plan of the latest request is delivered.
        """
        if self._selection is None:
            raise RuntimeError("set_selection() first")
        self._generation += 1
        self._pending_request = request
        was_planning = self.is_planning
        if immediately:
            self._debounce.stop()
            self._on_debounce_timeout()
        else:
            self._debounce.start()
        if not was_planning:
            self.planning_changed.emit(True)
        return self._generation

    def cancel_planning(self) -> None:
        """Forget requested plans (a running planning job finishes and is ignored)."""
        self._generation += 1
        self._debounce.stop()
        self._pending_request = None
        self._next_plan = None
        if self._plan_job is not None:
            self._plan_job.cancel()
        self._emit_planning_if_idle()

    def end_planning(self) -> None:
        """The preview is closed: forget plans and the selection's tracks, thaw the collector."""
        self.cancel_planning()
        self._selection, self._tracks = None, None
        thaw_collector()

    def _on_debounce_timeout(self) -> None:
        request, self._pending_request = self._pending_request, None
        if request is None or self._selection is None:
            return
        self._next_plan = (self._selection, request, self._generation)
        if self._plan_job is None:
            self._start_next_plan()
        else:
            self._plan_job.cancel()  # it stops before planning if it is still selecting

    def _start_next_plan(self) -> None:
        if self._next_plan is None:
            return
        selection, request, generation = self._next_plan
        self._next_plan = None
        job = PlanJob(self.library, selection, request, generation, self._tracks)
        self._plan_job = job
        job.signals.finished.connect(self._on_plan_job_finished)
        job.signals.failed.connect(self._on_plan_job_failed)
        job.signals.ended.connect(self._on_plan_job_ended)
        self.runner.start(job)

    def _on_plan_job_finished(self, result: object) -> None:
        if result is None:
            return
        preview, tracks, selection = result  # type: ignore[misc]
        if selection is self._selection and self._tracks is None:
            self._tracks = tracks
        if preview.generation == self._generation:
            self.plan_ready.emit(preview)

    def _on_plan_job_failed(self, message: str) -> None:
        job = self._plan_job
        if job is not None and job.generation == self._generation:
            self.plan_failed.emit(message)

    def _on_plan_job_ended(self, job: Job) -> None:
        if job is self._plan_job:
            self._plan_job = None
            self._start_next_plan()
        self._emit_planning_if_idle()

    def _emit_planning_if_idle(self) -> None:
        if not self.is_planning:
            self.planning_changed.emit(False)

    # -- batches -------------------------------------------------------------------------------------
    def execute(self, preview: PlanPreview) -> None:
        """Journal ``preview``'s plan and run it."""
        self._start_batch(BatchJob(self.library, plan=preview))

    def resume(self, batch_id: int) -> None:
        """Continue a paused or interrupted batch."""
        self._start_batch(BatchJob(self.library, batch_id=batch_id))

    def undo(self, batch_id: int) -> None:
        """Move back the files a batch moved (as a new, resumable batch)."""
        self._start_batch(BatchJob(self.library, undo_of=batch_id))

    def pause(self) -> None:
        """Stop the running batch at the next safe point (it ends with status ``paused``)."""
        if self._batch_job is not None:
            self._batch_job.pause()
            self.batch_pausing.emit()

    def cancel(self, batch_id: int | None = None) -> None:
        """Give up on the running batch, or on a paused batch ``batch_id`` (done steps stay done)."""
        if self._batch_job is not None:
            self._batch_job.give_up()
            self.batch_pausing.emit()
            return
        if batch_id is not None:
            info = journal.batch_info(self.library, batch_id)
            executor.cancel_batch(self.library, batch_id)  # one small write
            self.batch_ended.emit(BatchOutcome(batch_id, info.kind if info else "rename", "cancelled"))

    def _start_batch(self, job: BatchJob) -> None:
        if self._batch_job is not None:
            raise RuntimeError("a rename batch is already running")
        self.cancel_planning()
        self._tracks = None  # paths are about to change: read the selection again next time
        self._batch_job = job
        job.signals.batch_created.connect(self._on_batch_job_batch_created)
        job.signals.progress.connect(self.batch_progress)
        job.signals.finished.connect(self._on_batch_job_finished)
        job.signals.failed.connect(self._on_batch_job_failed)
        job.signals.ended.connect(self._on_batch_job_ended)
        self.runner.start(job)
        self.running_changed.emit(True)
        if job.batch_id is not None:
            self.batch_started.emit(job.batch_id, job.kind)

    def _on_batch_job_batch_created(self, batch_id: int) -> None:
        job = self._batch_job
        self.batch_started.emit(batch_id, job.kind if job is not None else "rename")

    def _on_batch_job_finished(self, outcome: object) -> None:
        assert isinstance(outcome, BatchOutcome)
        self._outcome = outcome  # announced once the job has ended (is_running is False by then)

    def _on_batch_job_failed(self, message: str) -> None:
        job = self._batch_job
        kind = job.kind if job is not None else "rename"
        batch_id = job.batch_id if job is not None else None
        self._outcome = BatchOutcome(batch_id, kind, "failed", message=message)

    def _on_batch_job_ended(self, job: Job) -> None:
        if job is not self._batch_job:
            return
        assert isinstance(job, BatchJob)
        outcome = self._outcome or BatchOutcome(job.batch_id, job.kind, "paused")  # stopped before it ran
        self._batch_job, self._outcome = None, None
        self.running_changed.emit(False)
        if outcome.moved_ids or outcome.status == "failed":
            self.paths_changed.emit(outcome.moved_ids)  # empty after a failure: re-read everything
        self.batch_ended.emit(outcome)

    # -- journal -------------------------------------------------------------------------------------
    def batches(self, limit: int = 200) -> list[BatchInfo]:
        return journal.list_batches(self.library, limit)

    def unfinished_batches(self) -> list[BatchInfo]:
        """Batches left unfinished, without those another Crate process is running right now."""
        batches = journal.unfinished_batches(self.library)
        busy = self.running_elsewhere(batches)
        return [info for info in batches if info.id not in busy]

    def running_elsewhere(self, batches: Iterable[BatchInfo]) -> frozenset[int]:
        """Those of ``batches`` another process (a second window, crate-cli) is running now."""
        return frozenset(
            info.id
            for info in batches
            if info.status in ("running", "pending")
            and batch_lock.running_elsewhere(self.library.path, info.id) is not None
        )

    def batch_info(self, batch_id: int) -> BatchInfo | None:
        return journal.batch_info(self.library, batch_id)

    # -- lifetime ------------------------------------------------------------------------------------
    def set_library(self, library: Library) -> None:
        """Work on another library (call ``shutdown()`` first if anything runs)."""
        if self._batch_job is not None:
            raise RuntimeError("cannot change the library while a rename batch runs")
        self.cancel_planning()
        self.runner.wait()
        self.library = library
        self._selection, self._tracks = None, None

    def wait(self, timeout_ms: int = -1) -> bool:
        return self.runner.wait(timeout_ms)

    def shutdown(self, timeout_ms: int = -1) -> bool:
        """Pause a running batch at a safe point (resumable next time) and wait for every job."""
        self.cancel_planning()
        return self.runner.shutdown(timeout_ms)


def progress_text(kind: str, progress: Progress) -> str:
    """'Renaming: 1,234 / 50,000 · 812/s · 1 min left · /music/a.mp3' without the path."""
    verb = "Undoing" if kind == "undo" else "Renaming"
    return f"{verb}: {progress.describe()}"
