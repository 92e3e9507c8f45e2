"""Running a rename plan against the checkpoint journal: start, pause, resume after a crash, undo.

The journal (``crate_app.store.journal``) is written before the first file moves.  Each step is
then reconciled with the disk and executed:

* the target already holds the step's file (same identity)  -> it was moved before a crash: done
* the source still holds the step's file                    -> move it now (never onto a taken path)
* neither                                                   -> the file was changed or removed by
  someone else: the step fails with that reason, and nothing is touched

A step and its track's new path are committed in one transaction, in small groups; a crash between
a move and its commit is healed by the first rule, so correctness never depends on the group size.
A batch stops (pause or cancel) only where no file sits at a temporary name.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from crate_app.domain.progress import Progress, ProgressMeter
from crate_app.domain.rename import RenamePlan
from crate_app.domain.track import display_path
from crate_app.rename import fsops
from crate_app.rename.batch_lock import BatchLock
from crate_app.store import journal
from crate_app.store.journal import FileIdentity, JournalStep, NewStep
from crate_app.store.library import Library


@dataclass
class BatchResult:
    """What a run of a batch did (the CLI's JSON summary and the GUI's final report)."""

    batch: int
    status: str
    planned: int
    moved: int = 0
    skipped: int = 0
    failed: int = 0
    sidecars: int = 0  # sidecar files carried along
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def as_dict(self) -> dict[str, object]:
        return {
            "batch": self.batch,
            "status": self.status,
            "planned": self.planned,
            "moved": self.moved,
            "skipped": self.skipped,
            "failed": self.failed,
            "sidecars": self.sidecars,
            "seconds": round(self.seconds, 3),
            "errors": [{"path": display_path(p), "reason": r} for p, r in self.errors],
        }


def start_batch(
    library: Library,
    plan: RenamePlan,
    *,
    description: str = "",
    remove_empty_folders: bool = False,
) -> int:
    """Record the plan as a journal (before anything moves); returns the batch id."""
    new_steps = _with_identities(
        (step.track_id, step.kind.value, step.src, step.dst, step.temporary) for step in plan.steps
    )
    options = {"remove_empty_folders": remove_empty_folders, "skipped": plan.unchanged_count}
    return journal.create_batch(library, new_steps, description=description, options=options)


def _with_identities(steps: Iterable[tuple[int | None, str, str, str, bool]]) -> list[NewStep]:
    """Journal steps (track id, kind, src, dst, temporary), each with the identity of the file it moves,
    read now.  A file keeps its identity along a chain of steps (a -> temporary -> b): the temporary
    path does not exist yet, and resuming needs to know it is the same file all along."""
    identities: dict[str, FileIdentity | None] = {}
    new_steps: list[NewStep] = []
    for track_id, kind, src, dst, temporary in steps:
        identity = identities.pop(src) if src in identities else FileIdentity.of(src)
        identities[dst] = identity
        new_steps.append(NewStep(track_id, kind, src, dst, temporary, identity))
    return new_steps


class _StepRunner:
    """Carries out steps, remembering what it learnt of folders and library entries on the way."""

    def __init__(self, library: Library, all_steps: Sequence[JournalStep]) -> None:
        # A library entry stored at a target may be one that an earlier step of this batch moved
        # away (not yet committed): those are fine to move onto.
        self._moving_away = {s.src: s.track_id for s in all_steps if s.kind == "move"}
        self._steps_from = steps_by_source(all_steps)
        self._holders = journal.track_ids_at(library, [s.dst for s in all_steps if s.status == "pending"])
        self._folders_made: set[str] = set()
        self._devices: dict[str, int | None] = {}

    def _device_of_folder(self, folder: str) -> int | None:
        """st_dev of ``folder`` or of its nearest existing ancestor (cached per folder)."""
        if folder not in self._devices:
            probe = folder
            while True:
                try:
                    self._devices[folder] = os.stat(probe).st_dev
                    break
                except OSError:
                    parent = os.path.dirname(probe)
                    if parent == probe:
                        self._devices[folder] = None
                        break
                    probe = parent
        return self._devices[folder]

    def _finish_interrupted_copy(
        self, step: JournalStep, source_stat: os.stat_result, target_stat: os.stat_result
    ) -> bool:
        """A move across filesystems interrupted after its verified copy was put in place but before
        the source was deleted: both hold the same bytes.  Finishes it (deletes the source) and says so;
        False, touching nothing, when the target is anything else."""
        if source_stat.st_dev == target_stat.st_dev or source_stat.st_size != target_stat.st_size:
            return False
        try:
            if fsops.file_digest(step.src) != fsops.file_digest(step.dst):
                return False
            os.unlink(step.src)
        except OSError:
            return False
        return True

    def run(self, step: JournalStep) -> str | None:
        """Reconcile one step with the disk and carry it out; None when done, else the reason."""
        identity = step.identity
        target_stat, source_stat = _lstat(step.dst), _lstat(step.src)
        at_target = FileIdentity.from_stat(target_stat) if target_stat else None
        at_source = FileIdentity.from_stat(source_stat) if source_stat else None
        if identity is not None and identity.same_file(at_target):
            return None  # moved before an interruption, not yet committed
        moved_on = identity is not None and not identity.same_file(at_source)
        if moved_on and went_further(step, self._steps_from):
            return None  # moved, then on along its chain (a -> temporary -> b), before an interruption
        dst_folder = os.path.dirname(step.dst)
        # Across filesystems the copy has a new inode; it is only put in place after verification,
        # and the source is deleted last: target present + source gone = the move completed.
        if identity is not None and target_stat is not None and source_stat is None:
            src_device = self._device_of_folder(os.path.dirname(step.src))
            if target_stat.st_size == identity.size and src_device != target_stat.st_dev:
                return None
        if source_stat is None:
            if target_stat is not None:
                return "the file is gone from its old path and another file is at the new path"
            return "the file is no longer at its old path (moved or deleted outside Crate)"
        if identity is not None and not identity.same_file(at_source):
            return "the file was replaced or changed since the batch was planned; left where it is"
        if target_stat is not None:
            if identity is not None and self._finish_interrupted_copy(step, source_stat, target_stat):
                return None
            return "a file already exists at the new path; nothing was overwritten"
        if step.kind == "move":
            holder = self._holders.get(step.dst)
            if holder is not None and holder != step.track_id and self._moving_away.get(step.dst) != holder:
                return "another library entry is stored at the new path"
        try:
            if dst_folder not in self._folders_made:
                os.makedirs(dst_folder, exist_ok=True)
                self._folders_made.add(dst_folder)
            if source_stat.st_dev == self._device_of_folder(dst_folder):
                fsops.rename_no_replace(step.src, step.dst)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(fsops.part_path(step.dst))  # a part file of ours left by an interrupted copy
                fsops.copy_verify_move(step.src, step.dst)
        except fsops.TargetExistsError:
            return "a file already exists at the new path; nothing was overwritten"
        except PermissionError:
            return "permission denied"
        except OSError as exc:
            return _os_error_reason(exc)
        return None


def steps_by_source(steps: Sequence[JournalStep]) -> dict[str, JournalStep]:
    """The step that moves a file away from each path (a chain a -> temporary -> b has one per link)."""
    return {step.src: step for step in steps}


def went_further(step: JournalStep, steps_from: Mapping[str, JournalStep]) -> bool:
    """Whether ``step``'s file is at the target of a later step of its own chain: the step was carried
    out, and so was the next one, before an interruption (a chain is one file: its identity goes along)."""
    seen = {step.src}
    current = step
    while (following := steps_from.get(current.dst)) is not None and following.src not in seen:
        if following.identity != step.identity:
            return False  # another file's step: the chain of this file ended at current.dst
        seen.add(following.src)
        if step.identity is not None and step.identity.same_file(FileIdentity.of(following.dst)):
            return True
        current = following
    return False


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path, follow_symlinks=False)
    except OSError:
        return None


def _os_error_reason(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.ENAMETOOLONG:
        return "the new name is too long for this filesystem"
    if exc.errno in (errno.EROFS,):
        return "the disk is read-only"
    return exc.strerror or str(exc)


def run_batch(
    library: Library,
    batch_id: int,
    *,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    group_size: int = 64,
) -> BatchResult:
    """Execute (or resume) a batch until it is finished or ``should_stop()`` says to pause.

    Returns with status ``done`` when no step is left pending, or ``paused``.  Raises ``RenameBusy``
    when another process is running this batch (see ``batch_lock``).
    """
    with BatchLock(library.path, batch_id):
        return _run_batch(library, batch_id, progress, should_stop, group_size)


def _run_batch(
    library: Library,
    batch_id: int,
    progress: Callable[[Progress], None] | None,
    should_stop: Callable[[], bool] | None,
    group_size: int,
) -> BatchResult:
    info = journal.batch_info(library, batch_id)
    if info is None:
        raise ValueError(f"no rename batch {batch_id}")
    started = time.monotonic()
    all_steps = journal.steps(library, batch_id)
    pending = [s for s in all_steps if s.status == "pending"]
    # Files sitting at a temporary name right now: a stop must wait until none is.
    open_temporaries = {s.dst for s in all_steps if s.status == "done" and s.temporary}
    open_temporaries -= {s.src for s in all_steps if s.status == "done"}
    runner = _StepRunner(library, all_steps)
    final_moves = [s for s in all_steps if not s.temporary and s.kind == "move"]
    result = BatchResult(batch_id, "running", planned=len(final_moves))
    result.skipped = int(info.options.get("skipped", 0))  # type: ignore[arg-type]
    meter = ProgressMeter(total=len(pending), report=progress)
    journal.set_batch_status(library, batch_id, "running")
    outcomes: list[tuple[JournalStep, str | None]] = []

    def commit() -> None:
        if outcomes:
            with library.write() as conn:
                journal.record_outcomes(conn, outcomes)
            outcomes.clear()

    stopped = False
    try:
        for step in pending:
            if should_stop is not None and not open_temporaries and should_stop():
                stopped = True
                break
            error = runner.run(step)
            outcomes.append((step, error))
            if error is None:
                if step.temporary:
                    open_temporaries.add(step.dst)
                open_temporaries.discard(step.src)
                if not step.temporary:
                    if step.kind == "move":
                        result.moved += 1
                    else:
                        result.sidecars += 1
            else:
                result.failed += 1
                result.errors.append((step.src, error))
            if len(outcomes) >= group_size:
                commit()
            meter.update(advance=1, failed=0 if error is None else 1, current=step.dst)
    finally:
        commit()
    if stopped:
        journal.set_batch_status(library, batch_id, "paused")
        result.status = "paused"
    else:
        if info.options.get("remove_empty_folders"):
            remove_empty_folders(library, [s.src for s in pending])
        final = "done"
        if info.kind == "undo" and info.undo_of is not None:
            journal.set_batch_status(library, info.undo_of, "undone")
        journal.set_batch_status(library, batch_id, final)
        result.status = final
    meter.finish()
    result.seconds = time.monotonic() - started
    return result


def cancel_batch(library: Library, batch_id: int) -> None:
    """Give up on the rest of a paused batch (what was done stays done, and can be undone)."""
    with BatchLock(library.path, batch_id):
        journal.set_batch_status(library, batch_id, "cancelled")


def reconcile_interrupted(library: Library, batch_id: int) -> int:
    """Mark as done the pending steps an interrupted run carried out but did not commit.

    Steps run in order, so this stops at the first pending step whose file has not moved.
    Returns how many steps were found done.
    """
    with BatchLock(library.path, batch_id):
        return _reconcile_interrupted(library, batch_id)


def _reconcile_interrupted(library: Library, batch_id: int) -> int:
    found: list[tuple[JournalStep, str | None]] = []
    all_steps = journal.steps(library, batch_id)
    steps_from = steps_by_source(all_steps)
    for step in (s for s in all_steps if s.status == "pending"):
        if step.identity is None:
            break
        if not step.identity.same_file(FileIdentity.of(step.dst)) and not went_further(step, steps_from):
            break
        found.append((step, None))
    if found:
        with library.write() as conn:
            journal.record_outcomes(conn, found)
    return len(found)


def create_undo(library: Library, batch_id: int) -> int:
    """Plan the reversal of a batch's done steps as a new (resumable) batch; returns its id."""
    with BatchLock(library.path, batch_id):
        return _create_undo(library, batch_id)


def _create_undo(library: Library, batch_id: int) -> int:
    info = journal.batch_info(library, batch_id)
    if info is None:
        raise ValueError(f"no rename batch {batch_id}")
    if info.status == "running":
        reconcile_interrupted(library, batch_id)
    done = journal.steps(library, batch_id, "done")
    temporary_paths = {s.dst for s in done if s.temporary}
    reversed_steps = _with_identities(
        (s.track_id, s.kind, s.dst, s.src, s.src in temporary_paths) for s in reversed(done)
    )
    if info.status in journal.UNFINISHED_STATUSES:
        journal.set_batch_status(library, batch_id, "cancelled")
    return journal.create_batch(
        library,
        reversed_steps,
        kind="undo",
        undo_of=batch_id,
        description=f"undo of batch {batch_id}: {info.description}",
        options={"remove_empty_folders": info.options.get("remove_empty_folders", False)},
    )


def remove_empty_folders(library: Library, moved_from: Sequence[str]) -> int:
    """Remove folders left empty by moves, up to (never including) the library root they are in."""
    removed = 0
    folders = sorted({os.path.dirname(p) for p in moved_from}, key=len, reverse=True)
    for folder in folders:
        root = library.root_of(folder)
        if root is None:
            continue
        current = folder
        while current != root and current.startswith(root.rstrip(os.sep) + os.sep):
            try:
                os.rmdir(current)  # only ever succeeds on an empty folder
            except OSError:
                break
            removed += 1
            current = os.path.dirname(current)
    return removed
