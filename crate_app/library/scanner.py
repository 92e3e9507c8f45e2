"""Scanning folders and files into the library.

A scan walks the folders (``walk.walk_audio``), compares every file's size and mtime with what the
library remembers (one query per folder root), reads the tags of new and changed files in worker
processes, and writes the results through the single writer in batches.  Files that vanished are
marked missing (never deleted), files that came back are re-read and marked ok, and every file or
folder that cannot be read is recorded with a plain-language reason; the scan goes on.

``scan_paths`` is meant to run on a worker thread of the GUI or from the command line: progress,
cancel and "a batch was written" are callbacks.  Tags are read in a process pool from the
``spawn`` context (a threaded Qt process must never fork), started only when there are enough
files to read; a few files are read in the calling thread.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context

from crate_app.domain.progress import Progress, ProgressMeter
from crate_app.domain.track import TrackStatus, display_path
from crate_app.library import moves
from crate_app.library.reader import Entry, Row, read_chunk
from crate_app.library.tags import VANISHED, os_error_reason
from crate_app.library.walk import has_extension, walk_audio
from crate_app.runtime import become_tag_reader
from crate_app.store import writer
from crate_app.store.library import FileState, Library

AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".mp3", ".flac", ".m4a", ".mp4", ".aac", ".alac", ".ogg", ".oga", ".opus", ".wav", ".aiff",
        ".aif", ".aifc", ".wma", ".ape", ".wv", ".mpc", ".dsf",
    }
)  # fmt: skip

POOL_MIN_FILES = 200  # fewer files to read than this: read them in the calling thread
CHUNK_FILES = 128  # files per round trip to a worker process
CHUNKS_PER_WORKER = 4  # chunks queued per worker (bounds memory and the time a cancel takes)
FIRST_BATCH_ROWS = 200  # the first rows reach the table quickly...
BATCH_ROWS = 2_000  # ...then bigger transactions
BATCH_SECONDS = 1.0  # but a slow disk still shows new tracks every second
CHECKPOINT_AFTER_ROWS = 20_000  # fold the WAL back after big imports

_STATUS = writer.UPSERT_COLUMNS.index("status")
_ERROR = writer.UPSERT_COLUMNS.index("error")
_ERROR_STATUS = TrackStatus.ERROR.value
_OK_STATUS = TrackStatus.OK.value
_MISSING_STATUS = TrackStatus.MISSING.value


@dataclass
class ScanSummary:
    """What a scan did, in counts of files (``errors`` also counts unreadable folders)."""

    added: int
    updated: int
    unchanged: int
    missing: int
    restored: int
    errors: int
    seconds: float
    cancelled: bool = False
    moved: int = 0  # files that vanished in one place and appeared in another (kept their track)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def scan_paths(
    library: Library,
    paths: Sequence[str | os.PathLike[str]],
    *,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> ScanSummary:
    """Scan folders (they become library roots) and single audio files (they do not).

    Incremental: only files whose size or mtime changed are read again.  ``progress`` receives
    ``Progress`` snapshots (``total`` is None until every folder has been walked); ``should_stop``
    is checked between folders and batches; ``on_batch(inserted, updated)`` is called after each
    batch is committed.  ``workers``: reader processes (None = one per core, 0 = read in this thread).
    """
    folders, files, not_found = _classify(library, [_absolute(p) for p in paths])
    scan = _Scan(library, progress, should_stop, on_batch, workers)
    for folder in folders:
        library.add_root(folder)
    for path in (*folders, *files):
        writer.clear_scan_errors(library, path)  # what is still wrong is recorded again
    scan.scan_errors.extend((path, "not found: no such file or folder") for path in not_found)
    return scan.run(folders, files, outside_roots=None)


def rescan_library(
    library: Library,
    *,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> ScanSummary:
    """Rescan every library root, and check that tracks added outside any root are still there."""
    roots = library.roots()
    folders = outermost_folders(roots)
    scan = _Scan(library, progress, should_stop, on_batch, workers)
    for folder in folders:
        writer.clear_scan_errors(library, folder)
    return scan.run(folders, [], outside_roots=roots)


def is_within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or below it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def outermost_folders(folders: Iterable[str]) -> list[str]:
    """The folders that are not inside another of the given folders (walked once each)."""
    kept: list[str] = []
    for folder in sorted(set(folders)):
        if not any(is_within(folder, outer) for outer in kept):
            kept.append(folder)
    return kept


def _absolute(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.fsdecode(os.fspath(path)))


def _classify(library: Library, paths: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Split paths given by the user into folders, single files and paths that exist nowhere."""
    folders, files, not_found = [], [], []
    roots = set(library.roots())
    for path in paths:
        if os.path.isdir(path):
            folders.append(path)
        elif os.path.exists(path) or library.track_by_path(path) is not None:
            files.append(path)
        elif path in roots or library.file_states_under(path):
            folders.append(path)  # a vanished root or folder: its tracks are marked missing
        else:
            not_found.append(path)
    folders = outermost_folders(folders)
    files = [f for f in dict.fromkeys(files) if not any(is_within(f, d) for d in folders)]  # walked anyway
    return folders, files, not_found


class _Scan:
    """One scan: decides what to read, collects the rows, writes batches, keeps the counts."""

    def __init__(
        self,
        library: Library,
        progress: Callable[[Progress], None] | None,
        should_stop: Callable[[], bool] | None,
        on_batch: Callable[[int, int], None] | None,
        workers: int | None,
    ) -> None:
        self.library = library
        self.now = time.time()
        self.started = time.monotonic()
        self.meter = ProgressMeter(report=progress)
        self.should_stop = should_stop or (lambda: False)
        self.on_batch = on_batch
        self.reader = _TagReader((os.cpu_count() or 1) if workers is None else max(0, workers), self.now)
        self.summary = ScanSummary(0, 0, 0, 0, 0, 0, 0.0)
        self.scan_errors: list[tuple[str, str]] = []
        self.missing_ids: list[int] = []
        self.already_missing_ids: list[int] = []  # missing before this scan, still not where they were
        self.new_paths: list[str] = []  # files this scan added (a vanished one may have moved there)
        self.previous: dict[str, FileState] = {}  # what the library knew of the files being read
        self.found = 0  # audio files found (the progress total once the walk is over)
        self.done = 0
        self.rows: list[Row] = []
        self.batch_inserted = 0
        self.batch_updated = 0
        self.batch_limit = FIRST_BATCH_ROWS
        self.last_write = time.monotonic()
        self.rows_written = 0
        self.batch_writer = _BatchWriter(library, on_batch)

    # -- the steps -------------------------------------------------------------------------------
    def run(self, folders: list[str], files: list[str], outside_roots: list[str] | None) -> ScanSummary:
        try:
            for folder in folders:
                if not self._scan_folder(folder):
                    break
            else:
                if files:
                    self._check_files(self.library.file_states_of(files), files)
                if outside_roots is not None:
                    outside = self.library.file_states_outside(outside_roots)
                    self._check_files(outside, list(outside))
            if not self.summary.cancelled:
                self.meter.update(total=self.found)
                for chunk, rows in self.reader.finish():
                    self._take(chunk, rows)
                    if self.summary.cancelled:
                        break
            self._write_batch()
        finally:
            self.reader.close()
            self.batch_writer.close()  # waits until every batch is committed; raises what failed
        if self.new_paths and not self.summary.cancelled:
            self._merge_moves()
        if self.missing_ids and not self.summary.cancelled:
            self.summary.missing = writer.set_status(self.library, self.missing_ids, TrackStatus.MISSING)
        if self.scan_errors:
            writer.record_scan_errors(self.library, self.scan_errors, self.now)
            self.summary.errors += len(self.scan_errors)
        if not self.summary.cancelled:
            for root in self.library.roots():  # the roots walked, and roots inside them
                if any(is_within(root, folder) for folder in folders):
                    writer.mark_root_scanned(self.library, root, self.now)
        if self.rows_written >= CHECKPOINT_AFTER_ROWS:
            self.library.checkpoint()
        self.summary.seconds = round(time.monotonic() - self.started, 3)
        self.meter.update(done=self.done, total=self.found if not self.summary.cancelled else None)
        self.meter.finish()
        return self.summary

    def _merge_moves(self) -> None:
        """Vanished files that reappeared elsewhere are moves: their tracks keep their ids."""
        pairs = moves.find_moves(self.library, [*self.missing_ids, *self.already_missing_ids], self.new_paths)
        merged = moves.merge_moves(self.library, pairs)
        if merged:
            moved = {old for old, _new in pairs}
            self.missing_ids = [i for i in self.missing_ids if i not in moved]
            self.summary.moved += merged
            self.summary.added -= merged

    def _scan_folder(self, root: str) -> bool:
        """Walk one root; False when the scan was cancelled."""
        known = self.library.file_states_under(root)
        take_known = known.pop
        for listing in walk_audio(root, AUDIO_EXTENSIONS, should_stop=self.should_stop):
            unchanged = 0
            for path, size, mtime in listing.files:  # the hot loop of a rescan: _consider's fast path inlined
                state = take_known(path, None)
                if state is not None and state[1] == size and state[2] == mtime and state[3] == _OK_STATUS:
                    unchanged += 1
                else:
                    self._consider(path, size, mtime, state)
            self.found += unchanged
            self.done += unchanged
            self.summary.unchanged += unchanged
            self.scan_errors.extend(listing.errors)
            self.meter.update(done=self.done, current=display_path(listing.folder))
            self._collect(block=False)
            if self._stopped():
                return False
        if self._stopped():
            return False
        # What the walk did not meet: gone (missing), or somewhere the walk does not go (a hidden folder).
        self._check_files(known, list(known))
        return True

    def _check_files(self, known: dict[str, FileState], paths: list[str]) -> None:
        """Stat files one by one: read them if changed, mark them missing if they are gone."""
        for path in paths:
            state = known.get(path)
            try:
                info = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                if state is None:
                    self.scan_errors.append((path, "not found: no such file"))
                elif state.status != _MISSING_STATUS:
                    self.missing_ids.append(state.id)
                else:
                    self.already_missing_ids.append(state.id)
                continue
            except OSError as exc:  # unreadable, but not known to be gone: leave the row as it is
                self.scan_errors.append((path, os_error_reason(exc)))
                continue
            if state is None and not has_extension(path, AUDIO_EXTENSIONS):
                self.scan_errors.append((path, "not an audio file Crate knows (by its extension)"))
                continue
            self._consider(path, info.st_size, info.st_mtime, state)
        self.meter.update(done=self.done)
        self._collect(block=False)

    def _consider(self, path: str, size: int, mtime: float, state: FileState | None) -> None:
        self.found += 1
        if state is not None and state.status == _OK_STATUS and state.size == size and state.mtime == mtime:
            self.summary.unchanged += 1
            self.done += 1
            return
        if state is not None:
            self.previous[path] = state
        self.reader.add((path, size, mtime))

    def _collect(self, block: bool) -> None:
        for chunk, rows in self.reader.ready(block=block):
            self._take(chunk, rows)

    def _take(self, chunk: Sequence[Entry], rows: list[Row]) -> None:
        """Count and queue the rows of a chunk that was read; write a batch when one is due."""
        summary = self.summary
        for (path, _size, _mtime), row in zip(chunk, rows, strict=True):
            state = self.previous.pop(path, None)
            if row[_ERROR] == VANISHED:  # gone between the walk and the read
                if state is None:
                    self.scan_errors.append((path, VANISHED))
                elif state.status != _MISSING_STATUS:
                    self.missing_ids.append(state.id)
                continue
            self.rows.append(row)
            if state is None:
                self.batch_inserted += 1
            else:
                self.batch_updated += 1
            if row[_STATUS] == _ERROR_STATUS:
                summary.errors += 1
            elif state is None:
                summary.added += 1
                self.new_paths.append(path)
            elif state.status == _MISSING_STATUS:
                summary.restored += 1
            else:
                summary.updated += 1
        self.done += len(chunk)
        self.meter.update(done=self.done, current=display_path(chunk[-1][0]) if chunk else None)
        if len(self.rows) >= self.batch_limit or time.monotonic() - self.last_write >= BATCH_SECONDS:
            self._write_batch()
        self._stopped()  # what was read is written all the same (after the loop that calls this)

    def _write_batch(self) -> None:
        self.last_write = time.monotonic()
        if not self.rows:
            return
        self.batch_writer.put(self.rows, self.batch_inserted, self.batch_updated)
        self.rows_written += len(self.rows)
        self.rows, self.batch_inserted, self.batch_updated = [], 0, 0
        self.batch_limit = BATCH_ROWS

    def _stopped(self) -> bool:
        if not self.summary.cancelled and self.should_stop():
            self.summary.cancelled = True
            self.reader.close()
        return self.summary.cancelled


class _BatchWriter:
    """Commits batches on a thread of its own, so that the scan goes on feeding the tag readers while
    SQLite works (it releases the GIL); batches are written in order, through the single writer.
    ``on_batch(inserted, updated)`` is called on that thread after each commit."""

    def __init__(self, library: Library, on_batch: Callable[[int, int], None] | None) -> None:
        self.library = library
        self.on_batch = on_batch
        self.queue: queue.Queue[tuple[list[Row], int, int] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def put(self, rows: list[Row], inserted: int, updated: int) -> None:
        self._raise_failure()
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="crate-scan-writer", daemon=True)
            self.thread.start()
        self.queue.put((rows, inserted, updated))

    def close(self) -> None:
        """Wait for every queued batch to be committed; raise the error that stopped the writing."""
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                if self.error is not None:
                    continue  # drain: nothing more is written after a failure
                rows, inserted, updated = item
                try:
                    writer.upsert_rows(self.library, rows)
                    if self.on_batch is not None:
                        self.on_batch(inserted, updated)
                except BaseException as exc:  # handed to the scanning thread
                    self.error = exc
        finally:
            self.library.close()  # this thread's connection


class _TagReader:
    """Reads (path, size, mtime) entries into rows: in the calling thread, or in worker processes
    (``spawn``) as soon as there are enough files to be worth starting them."""

    def __init__(self, workers: int, now: float) -> None:
        self.workers = workers
        self.now = now
        self.pending: deque[Entry] = deque()
        self.pool: ProcessPoolExecutor | None = None
        self.in_flight: deque[tuple[list[Entry], Future[list[Row]]]] = deque()
        self.closed = False

    def add(self, entry: Entry) -> None:
        self.pending.append(entry)
        if self.pool is None and self.workers > 0 and len(self.pending) >= POOL_MIN_FILES:
            self.pool = ProcessPoolExecutor(
                self.workers,
                mp_context=get_context("spawn"),
                initializer=become_tag_reader,
                initargs=(os.getpid(),),
            )
        if self.pool is not None and len(self.pending) >= CHUNK_FILES:
            self._top_up()

    def ready(self, block: bool = False) -> Iterator[tuple[list[Entry], list[Row]]]:
        """Chunks read so far, oldest first; with ``block``, wait for the oldest one."""
        while self.in_flight and (block or self.in_flight[0][1].done()):
            chunk, future = self.in_flight.popleft()
            yield chunk, self._result(chunk, future)
            block = False
            self._top_up()

    def finish(self) -> Iterator[tuple[list[Entry], list[Row]]]:
        """Everything still to read (blocking)."""
        self._top_up(flush=True)
        while self.in_flight and not self.closed:
            yield from self.ready(block=True)
            self._top_up(flush=True)
        while self.pending and not self.closed:  # no pool: too few files, or it broke
            chunk = self._take_chunk()
            yield chunk, read_chunk(chunk, self.now)

    def close(self) -> None:
        """Stop: drop what is not read yet and shut the worker processes down (idempotent)."""
        self.closed = True
        self.pending.clear()
        for _chunk, future in self.in_flight:
            future.cancel()
        self.in_flight.clear()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _take_chunk(self) -> list[Entry]:
        count = min(CHUNK_FILES, len(self.pending))
        return [self.pending.popleft() for _ in range(count)]

    def _top_up(self, flush: bool = False) -> None:
        if self.pool is None:
            return
        limit = self.workers * CHUNKS_PER_WORKER
        while len(self.in_flight) < limit and (len(self.pending) >= CHUNK_FILES or (flush and self.pending)):
            chunk = self._take_chunk()
            try:
                future = self.pool.submit(read_chunk, chunk, self.now)
            except Exception:  # the pool broke (a worker died): read the rest in this thread
                self.pending.extendleft(reversed(chunk))
                self._give_up_pool()
                return
            self.in_flight.append((chunk, future))

    def _give_up_pool(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool, self.workers = None, 0

    def _result(self, chunk: list[Entry], future: Future[list[Row]]) -> list[Row]:
        try:
            return future.result()
        except Exception:  # a worker died (out of memory, killed): read this chunk here instead
            self._give_up_pool()
            return read_chunk(chunk, self.now)
