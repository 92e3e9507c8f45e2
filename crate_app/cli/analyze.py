"""``crate-cli analyze [QUERY]``: BPM and key of the matching tracks not analysed yet (``--force``: all).

Each worker thread hands its files, one at a time, to an analysis process of its own
(``ProcessAnalyzer``: the analysis holds the GIL for much of its work, and a process can be killed).
This thread feeds them, writes results through the library's writer every 20 results or second,
shows progress on a terminal and watches the per-file time limit: a file that overruns it has its
process killed and is recorded as failed.  Behind that, a worker still stuck a little later is given up
on and a fresh thread takes its place (worker threads are daemons, so none keeps the command from
exiting).  Ctrl+C stops between files: the processes ignore it, so no file is cut off.  No Qt.
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass

from crate_app.analysis.outcome import FileOutcome, analyse_track
from crate_app.analysis.processes import TIME_LIMIT_GRACE, ProcessAnalyzer
from crate_app.cli.common import (
    CliError,
    ProgressLine,
    open_from_args,
    print_json,
    stop_on_interrupt,
    whole_number,
)
from crate_app.domain.errors import AnalysisUnavailable
from crate_app.domain.keys import KeyNotation
from crate_app.domain.progress import ProgressMeter
from crate_app.domain.search import QuerySyntaxError, parse_query
from crate_app.domain.track import AnalysisOptions, AnalysisResult, display_path
from crate_app.runtime import pin_native_threads

WRITE_EVERY_RESULTS = 20
WRITE_EVERY_SECONDS = 1.0
WATCHDOG_MARGIN = 5.0  # a worker still waiting this long after its file's limit is replaced
MAX_REPLACED_THREADS = 4
DEFAULT_BPM_RANGE = f"{AnalysisOptions().bpm_min:g}-{AnalysisOptions().bpm_max:g}"
SHOWN_FAILURES = 20


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "analyze",
        help="detect BPM and key of tracks not analysed yet",
        description="Detect the BPM and key of the matching tracks that have not been analysed yet (or of "
        "all of them with --force). QUERY uses the search language, e.g. 'genre:house' or 'format:flac'. "
        "An interrupted run continues where it stopped when started again.",
    )
    parser.add_argument("query", nargs="*", metavar="QUERY", help="search (several words are joined)")
    parser.add_argument(
        "--force", action="store_true", help="analyse again tracks analysed (or failed) before"
    )
    parser.add_argument("--json", action="store_true", help="end with the summary as one JSON object")
    parser.add_argument(
        "--workers", type=whole_number(1), default=os.cpu_count() or 1, metavar="N",
        help="analysis processes (default: one per core)",
    )  # fmt: skip
    parser.add_argument(
        "--write-tags",
        action="store_true",
        help="also write BPM and key into the files' tags (off by default)",
    )
    parser.add_argument(
        "--key-notation", choices=[n.value for n in KeyNotation], default=KeyNotation.CAMELOT.value,
        help="notation of the key written into tags (default camelot)",
    )  # fmt: skip
    parser.add_argument(
        "--bpm-range", default=DEFAULT_BPM_RANGE, metavar="MIN-MAX",
        help=f"fold tempi into this range (default {DEFAULT_BPM_RANGE})",
    )  # fmt: skip
    parser.add_argument(
        "--time-limit", type=float, default=None, metavar="SECONDS",
        help="give up on a file after this long (default: the decoder's deadline + 5 s)",
    )  # fmt: skip
    parser.set_defaults(run=run)


def _bpm_range(text: str) -> tuple[float, float]:
    low, sep, high = text.partition("-")
    try:
        bpm_min, bpm_max = float(low), float(high)
    except ValueError:
        raise CliError(f"--bpm-range wants MIN-MAX, e.g. 70-180, not {text!r}") from None
    if not sep or not 0 < bpm_min < bpm_max:
        raise CliError(f"--bpm-range wants MIN-MAX with 0 < MIN < MAX, not {text!r}")
    return bpm_min, bpm_max


@dataclass(frozen=True, slots=True)
class _Item:
    track_id: int
    path: str


def run(args: argparse.Namespace) -> int:
    pin_native_threads()  # before numpy loads (the analysis imports it)
    try:
        query = parse_query(" ".join(args.query))
    except QuerySyntaxError as exc:
        raise CliError(f"bad query at position {exc.position + 1}: {exc}") from None
    bpm_min, bpm_max = _bpm_range(args.bpm_range)
    options = AnalysisOptions(bpm_min=bpm_min, bpm_max=bpm_max)
    time_limit = (
        args.time_limit if args.time_limit is not None else options.timeout_seconds + TIME_LIMIT_GRACE
    )
    library = open_from_args(args, create=False)
    started = time.monotonic()
    ids = library.ids_to_analyze(query, force=args.force)
    skipped = library.count(query) - len(ids)
    progress = ProgressLine(sys.stderr, label="Analysing: ")
    batch = _Batch(library, ids, options, args, time_limit, progress)
    with stop_on_interrupt() as stop:
        try:
            if ids and batch.prepare(stop):
                batch.run(stop)
        finally:
            progress.clear()
            batch.close()
    seconds = time.monotonic() - started
    summary = {
        "analyzed": batch.analyzed,
        "failed": batch.failed,
        "skipped": skipped,
        "timed_out": batch.timed_out,
        "tags_written": batch.tags_written,
        "seconds": round(seconds, 2),
        "cancelled": stop.is_set(),
    }
    if args.json:
        print_json(summary)
    else:
        _print_summary(batch, summary)
    library.close()
    if batch.unavailable is not None:
        raise AnalysisUnavailable(batch.unavailable)
    return 130 if stop.is_set() else 0


def _print_summary(batch: _Batch, summary: dict[str, object]) -> None:
    done = batch.analyzed + batch.failed
    rate = f" ({done / batch.seconds * 60:.0f} tracks/min after warm-up)" if done and batch.seconds else ""
    print(
        f"{'Interrupted' if summary['cancelled'] else 'Done'} in {summary['seconds']:.1f} s{rate}: "
        f"{batch.analyzed:,} analysed, {batch.failed:,} failed, "
        f"{summary['skipped']:,} skipped (analysed or failed before, or unreadable)"
    )
    for path, reason in batch.failures[:SHOWN_FAILURES]:
        print(f"  {path}: {reason}")
    if batch.failed > SHOWN_FAILURES:
        print("  ... and more")
    for path, reason in batch.tag_errors[:SHOWN_FAILURES]:
        print(f"  tags not written to {path}: {reason}")


def make_analyzer(time_limit: float) -> ProcessAnalyzer:
    """The analysis engine: one process per worker thread, killed at ``time_limit`` seconds per file."""
    return ProcessAnalyzer(time_limit=time_limit)


class _Batch:
    def __init__(self, library, ids: list[int], options, args, time_limit: float, progress) -> None:
        self.library = library
        self.ids = ids
        self.options = options
        self.workers = args.workers
        self.write_tags = args.write_tags
        self.notation = KeyNotation(args.key_notation)
        self.time_limit = time_limit
        self.progress = progress
        self.work: queue.Queue[_Item | None] = queue.Queue()
        self.outcomes: queue.Queue[FileOutcome | threading.Thread] = queue.Queue()
        self.lock = threading.Lock()
        self.running: dict[int, tuple[_Item, float]] = {}  # worker number -> file, start
        self._given_up: set[int] = set()  # workers whose file overran the time limit
        self._next_worker = 0
        self.analyzed = self.failed = self.timed_out = self.tags_written = 0
        self.replaced = 0  # worker threads given up on and replaced
        self.failures: list[tuple[str, str]] = []
        self.tag_errors: list[tuple[str, str]] = []
        self.seconds = 0.0  # analysing, after the warm-up
        self.unavailable: str | None = None  # why analysis stopped by itself (processes keep dying)
        self.analyzer = make_analyzer(time_limit)

    def prepare(self, stop: threading.Event) -> bool:
        """Start the analysis processes; each loads numpy, scipy.fft and PyAV and runs a tiny analysis
        (about a second, nothing is compiled).  False if ``stop`` was set meanwhile; raises
        ``AnalysisUnavailable`` (one line for the user) when they cannot start."""
        if self.progress.enabled:
            self.progress.stream.write("Preparing analysis\u2026\r")
            self.progress.stream.flush()
        return self.analyzer.warm_up(min(self.workers, len(self.ids)), cancelled=stop.is_set)

    def close(self) -> None:
        self.analyzer.close()

    def run(self, stop: threading.Event) -> None:
        started = time.monotonic()
        try:
            self._run(stop)
        finally:
            self.seconds = time.monotonic() - started

    def _run(self, stop: threading.Event) -> None:
        meter = ProgressMeter(len(self.ids), report=self.progress, interval=0.1)
        pending = list(reversed(self.ids))
        live = 0
        for _ in range(min(self.workers, len(self.ids))):
            self._start_thread()
            live += 1
        results: list[tuple[int, AnalysisResult]] = []
        failures: list[tuple[int, str]] = []
        last_write = time.monotonic()
        finished_feeding = False
        while live > 0:
            if (stop.is_set() or self.unavailable is not None) and not finished_feeding:
                finished_feeding = True
                self._drain()
                for _ in range(live):
                    self.work.put(None)
            while not finished_feeding and self.work.qsize() < 2 * self.workers:
                if not pending:
                    finished_feeding = True
                    for _ in range(live):
                        self.work.put(None)
                    break
                chunk = [pending.pop() for _ in range(min(32, len(pending)))]
                for track in self.library.tracks_by_ids(chunk):
                    self.work.put(_Item(track.id, track.path))
            try:
                message = self.outcomes.get(timeout=0.1)
            except queue.Empty:
                message = None
            while message is not None:
                if isinstance(message, threading.Thread):
                    live -= 1
                else:
                    self._record(message, results, failures, meter)
                try:
                    message = self.outcomes.get_nowait()
                except queue.Empty:
                    message = None
            live += self._enforce_time_limit(results, failures, meter, replace=not finished_feeding)
            now = time.monotonic()
            if len(results) + len(failures) >= WRITE_EVERY_RESULTS or now - last_write >= WRITE_EVERY_SECONDS:
                self._write(results, failures)
                last_write = now
            with self.lock:
                current = [display_path(os.path.basename(item.path)) for item, _ in self.running.values()]
            meter.update(current=", ".join(current))
        self._write(results, failures)

    def _start_thread(self) -> None:
        self._next_worker += 1
        number = self._next_worker
        threading.Thread(
            target=self._worker, args=(number,), name=f"crate-analysis-{number}", daemon=True
        ).start()

    def _worker(self, me: int) -> None:
        try:
            while (item := self.work.get()) is not None:
                with self.lock:
                    self.running[me] = (item, time.monotonic())
                try:
                    outcome = self._analyse(item)
                except AnalysisUnavailable as error:
                    with self.lock:
                        self.running.pop(me, None)
                        self.unavailable = self.unavailable or str(error)
                    return
                with self.lock:
                    if self.running.pop(me, None) is None:
                        return  # given up on: its place was taken by a new thread
                self.outcomes.put(outcome)
        finally:
            with self.lock:
                given_up = me in self._given_up
            if not given_up:
                self.outcomes.put(threading.current_thread())

    def _analyse(self, item: _Item) -> FileOutcome:
        notation = self.notation if self.write_tags else None
        return analyse_track(
            item.track_id,
            item.path,
            self.analyzer,
            self.options,
            tag_notation=notation,
            stored=lambda: self.library.track_by_id(item.track_id),  # a locked value is the user's
        )

    def _enforce_time_limit(self, results, failures, meter: ProgressMeter, replace: bool) -> int:
        """Fail files over the time limit; returns the change in live threads."""
        now = time.monotonic()
        change = 0
        with self.lock:
            overdue = [
                (ident, item)
                for ident, (item, since) in self.running.items()
                if now - since > self.time_limit + WATCHDOG_MARGIN
            ]
            for ident, _item in overdue:
                del self.running[ident]
                self._given_up.add(ident)
        for _ident, item in overdue:
            change -= 1
            self.replaced += 1
            self._record(
                FileOutcome.overran(item.track_id, item.path, self.time_limit), results, failures, meter
            )
            if replace and self.replaced <= MAX_REPLACED_THREADS:
                self._start_thread()
                change += 1
        return change

    def _record(self, outcome: FileOutcome, results, failures, meter: ProgressMeter) -> None:
        if outcome.result is not None:
            results.append((outcome.track_id, outcome.result))
            self.analyzed += 1
        else:
            failures.append((outcome.track_id, outcome.error or "analysis failed"))
            self.failed += 1
            self.timed_out += outcome.timed_out
            self.failures.append((display_path(outcome.path), outcome.error or ""))
        self.tags_written += outcome.tags_written
        if outcome.tag_error is not None:
            self.tag_errors.append((display_path(outcome.path), outcome.tag_error))
        meter.update(self.analyzed + self.failed, failed=0 if outcome.result is not None else 1)

    def _write(self, results, failures) -> None:
        from crate_app.store import writer

        if results:
            writer.save_analysis(self.library, results)
            results.clear()
        if failures:
            writer.save_analysis_failures(self.library, failures)
            failures.clear()

    def _drain(self) -> None:
        while True:
            try:
                self.work.get_nowait()
            except queue.Empty:
                return
