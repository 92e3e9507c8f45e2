"""``analyze_file`` in worker processes: parallel on every core, a time limit that really stops, and
processes whose death is noticed, bounded and explained.

The analysis holds the GIL for much of its work (PyAV's per-frame decoding loop, the tempo fit), so
threads alone do not scale: measured on 2 cores, 2 processes did ~20 % more tracks/min than 2 threads
in the window, and 436-461 against 220-253 tracks/min in the command line.  A process can also be
killed, which a thread stuck in a hostile file cannot.  Used by the window's analysis service and by
``crate-cli analyze``.  No Qt.

Each process is Crate's own (``spawn``, one pipe), not a ``multiprocessing.Pool``: a pool silently
respawns a process that died and never answers the call it was running, so a process that crashes while
starting would be respawned forever and its caller would wait for good.  Here:

- a process that dies *during a file* fails that file in words ("the decoder crashed on this file")
  and the next call starts a fresh one; after ``MAX_DEATHS_IN_A_ROW`` deaths with no file analysed in
  between, analysis stops (``AnalysisUnavailable``) instead of replacing them for ever;
- a process that dies *while starting* (loading the analysis libraries) is not replaced: analysis stops
  with ``AnalysisUnavailable`` saying how it died;
- starting has a deadline (``warm_up_timeout``) and can be cancelled;
- a process never outlives its parent: the kernel kills it when the parent dies (Linux
  ``PR_SET_PDEATHSIG``, see ``runtime.die_with_parent``; processes are started from one long-lived
  launcher thread, because the signal follows the thread that started the process), and a watchdog
  thread in the process ends it when its parent is gone (every platform).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from crate_app.analysis.outcome import AnalyzeFunction
from crate_app.domain.errors import AnalysisTimeout, AnalysisUnavailable, DecodeError
from crate_app.domain.track import AnalysisOptions, AnalysisResult
from crate_app.runtime import become_background_worker, die_with_parent

WARM_UP_TIMEOUT = 300.0  # seconds for analysis processes to start (~1 s; a cold disk on a slow machine: more)
TIME_LIMIT_GRACE = 5.0  # seconds past the decoder's own deadline before a file's process is killed
MAX_DEATHS_IN_A_ROW = 3  # processes that died on consecutive files (none analysed between): analysis stops
POLL_SECONDS = 0.2  # how often a waiting thread looks at its process, a cancel and the deadline


def prepare_in_process() -> None:
    """Load the analysis libraries in this process and run a tiny analysis."""
    from crate_app import analysis

    analysis.warm_up()


def analyze_in_process(path: str, options: AnalysisOptions) -> AnalysisResult:
    """``analyze_file`` in this process (tests, or when processes are turned off)."""
    from crate_app import analysis

    return analysis.analyze_file(path, options)


def describe_exit(exitcode: int | None) -> str:
    """How a process ended, in words: 'crashed (SIGSEGV)', 'was killed (SIGKILL: out of memory?)'."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGTERM:
            return f"was stopped ({name})"
        if -exitcode == getattr(signal, "SIGKILL", 9):
            return f"was killed ({name}: out of memory, or by another program?)"
        return f"crashed ({name})"
    return f"exited with code {exitcode}"


class _Died(Exception):
    """The process ended while it was starting or analysing (``exitcode`` says how)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(describe_exit(exitcode))
        self.exitcode = exitcode


class _StartFailed(Exception):
    """The process's initializer raised (the message says what)."""


def _serve(
    conn: Any, parent_pid: int, initializer: Callable[[], None] | None, function: AnalyzeFunction
) -> None:
    """The analysis process: start (``initializer``), say "ready", then run ``function`` on each path
    it is sent until told to stop (``function`` arrives with the process: importing its module is part
    of starting, not of the first file's time)."""
    become_background_worker()  # Ctrl+C is the parent's to handle; the window comes first for the CPU
    die_with_parent(parent_pid)
    try:
        if initializer is not None:
            initializer()
    except BaseException as error:
        conn.send(("failed", f"{type(error).__name__}: {error}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        path, options = message
        try:
            reply = ("ok", function(path, options))
        except Exception as error:  # the file's own error goes back as it is
            reply = ("error", error)
        try:
            conn.send(reply)
        except Exception as error:  # an exception that cannot be pickled: its words then
            conn.send(("error", RuntimeError(f"{type(reply[1]).__name__}: {reply[1]} ({error})")))


class _Worker:
    """One analysis process and the parent's end of its pipe."""

    def __init__(self, process: Any, conn: Any) -> None:
        self.process = process
        self.conn = conn

    def wait_started(self, deadline: float, cancelled: Callable[[], bool]) -> bool:
        """True once started; False if cancelled or past the deadline; raises ``_Died``/``_StartFailed``."""
        while time.monotonic() < deadline:
            if cancelled():
                return False
            kind, value = self._receive(POLL_SECONDS)
            if kind == "ready":
                return True
            if kind == "failed":
                raise _StartFailed(value)
        return False

    def run(
        self, path: str, options: AnalysisOptions, deadline: float, closed: Callable[[], bool]
    ) -> tuple[str, Any]:
        """("ok", result) or ("error", exception) or ("late", None) past the deadline; raises ``_Died``."""
        self.conn.send((path, options))
        while True:
            kind, value = self._receive(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            if kind is not None:
                return kind, value
            if closed():
                raise RuntimeError("the analysis processes were stopped")
            if time.monotonic() >= deadline:
                return "late", None

    def _receive(self, timeout: float) -> tuple[str | None, Any]:
        try:
            if not self.conn.poll(timeout):
                if self.process.is_alive():
                    return None, None
                if not self.conn.poll(0):  # it died without a word
                    raise _Died(self.process.exitcode)
            return self.conn.recv()
        except (EOFError, OSError, ConnectionError):
            self.process.join(2)
            raise _Died(self.process.exitcode) from None

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass
            self.process.terminate()
        self.conn.close()


class ProcessAnalyzer:
    """Analyses one file per call in a process of its own; one process per thread that calls it.

    Each calling thread hands its file to an idle process and waits.  A file that overruns the time
    limit is stopped for real: its process is killed, ``AnalysisTimeout`` is raised, and a fresh process
    takes its place at the next call.  A process that dies on a file fails that file (``DecodeError``
    in words).  Processes load the analysis libraries once (``warm_up``) and stay; the calling process
    never imports them.  See the module docstring for deaths and the parent's death.
    """

    def __init__(
        self,
        time_limit_grace: float = TIME_LIMIT_GRACE,
        function: AnalyzeFunction | None = None,
        initializer: Callable[[], None] | None = None,
        warm: bool = True,
        time_limit: float | None = None,
        warm_up_timeout: float = WARM_UP_TIMEOUT,
    ) -> None:
        """The limit per file is ``time_limit`` if given, else the decoder's deadline
        (``AnalysisOptions.timeout_seconds``) plus ``time_limit_grace``.  ``function`` and ``initializer``
        (default ``analyze_file`` and ``warm_up``; none with ``warm=False``) must be importable by name
        in a fresh process."""
        self.time_limit_grace = time_limit_grace
        self.time_limit = time_limit
        self.warm_up_timeout = warm_up_timeout
        self._function = function
        self._initializer = initializer
        self._warm = warm
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._closed = False
        self._launcher: ThreadPoolExecutor | None = None
        self.deaths_in_a_row = 0
        self.deaths = 0  # processes that died (on a file or while starting), in all
        self.broken: str | None = None  # why analysis stopped for good in this analyzer

    # -- starting -----------------------------------------------------------------------------------
    def warm_up(self, count: int, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Start ``count`` processes together.  False if ``cancelled()`` said so first; raises
        ``AnalysisUnavailable`` (in words) when they cannot start: past ``warm_up_timeout``, or a process
        that failed or died while starting (not replaced: it would die again)."""
        workers = self._start(count, cancelled)
        if workers is None:
            return False
        with self._lock:
            self._idle.extend(workers)
        return True

    def _start(self, count: int, cancelled: Callable[[], bool]) -> list[_Worker] | None:
        if self.broken is not None:
            raise AnalysisUnavailable(self.broken)
        try:
            return self._start_together(count, cancelled)
        except _Died as death:
            if self._closed or cancelled():  # stopped on purpose (quitting), not a crash
                return None
            self.deaths += 1
            self.broken = f"the analysis process {death} while starting"
        except _StartFailed as failure:
            self.broken = f"the analysis process could not start: {failure}"
        raise AnalysisUnavailable(self.broken)

    def _start_together(self, count: int, cancelled: Callable[[], bool]) -> list[_Worker] | None:
        deadline = time.monotonic() + self.warm_up_timeout
        started: list[_Worker] = []
        try:
            rest = [self._spawn() for _ in range(count - len(started))]
            started += rest
            for worker in rest:
                if not self._wait(worker, deadline, cancelled):
                    return self._abandon(started, cancelled)
            return started
        except BaseException:
            for worker in started:
                self._discard(worker, kill=True)
            raise

    def _wait(self, worker: _Worker, deadline: float, cancelled: Callable[[], bool]) -> bool:
        return worker.wait_started(deadline, lambda: cancelled() or self._closed)

    def _abandon(self, started: list[_Worker], cancelled: Callable[[], bool]) -> None:
        for worker in started:
            self._discard(worker, kill=True)
        if cancelled() or self._closed:
            return None
        raise AnalysisUnavailable(f"the analysis process did not start within {self.warm_up_timeout:g} s")

    def _spawn(self) -> _Worker:
        from crate_app.analysis.analyze import analyze_file, warm_up

        with self._lock:
            if self._closed:
                raise RuntimeError("the analysis processes were stopped")
            if self._launcher is None:
                self._launcher = ThreadPoolExecutor(1, thread_name_prefix="crate-analysis-launcher")
            launcher = self._launcher
        initializer = self._initializer or (warm_up if self._warm else None)
        context = multiprocessing.get_context("spawn")
        parent_conn, child_conn = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child_conn, os.getpid(), initializer, self._function or analyze_file),
            name="crate-analysis",
            daemon=True,
        )
        # One long-lived thread starts every process: Linux's parent-death signal follows that thread.
        launcher.submit(process.start).result()
        child_conn.close()
        worker = _Worker(process, parent_conn)
        with self._lock:
            self._all.append(worker)
        return worker

    def reset(self) -> None:
        """Forget why analysis stopped (a Retry): the next call or warm-up starts processes again."""
        with self._lock:
            self.broken = None
            self.deaths_in_a_row = 0

    # -- analysing ----------------------------------------------------------------------------------
    def limit_for(self, options: AnalysisOptions) -> float:
        """Seconds a file may take before its process is killed."""
        return (
            self.time_limit
            if self.time_limit is not None
            else options.timeout_seconds + self.time_limit_grace
        )

    def __call__(self, path: str, options: AnalysisOptions) -> AnalysisResult:
        worker = self._acquire()  # started already: starting a process is not the file's time
        limit = self.limit_for(options)
        try:
            kind, value = worker.run(path, options, time.monotonic() + limit, lambda: self._closed)
        except _Died as death:
            self._discard(worker)
            if self._closed:
                raise RuntimeError("the analysis processes were stopped") from None
            self._count_death(death)
            raise DecodeError(f"the decoder crashed on this file (the analysis process {death})") from None
        except BaseException:
            self._discard(worker, kill=True)
            raise
        if kind == "late":
            self._discard(worker, kill=True)
            raise AnalysisTimeout(f"analysis took longer than {limit:g} s (stopped)")
        self._release(worker)
        with self._lock:
            self.deaths_in_a_row = 0
        if kind == "error":
            raise value
        return value

    def _count_death(self, death: _Died) -> None:
        with self._lock:
            self.deaths += 1
            self.deaths_in_a_row += 1
            if self.deaths_in_a_row >= MAX_DEATHS_IN_A_ROW and self.broken is None:
                self.broken = (
                    f"{self.deaths_in_a_row} analysis processes in a row died on their files "
                    f"(the last {death}): analysis stopped"
                )

    def _acquire(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("the analysis processes were stopped")
            if self.broken is not None:
                raise AnalysisUnavailable(self.broken)
            if self._idle:
                return self._idle.pop()
        workers = self._start(1, lambda: False)
        if workers is None:  # close() came first
            raise RuntimeError("the analysis processes were stopped")
        return workers[0]

    # -- stopping -----------------------------------------------------------------------------------
    def stop_idle(self) -> int:
        """Stop the processes that are not analysing (their memory goes back to the system); later calls
        start new ones.  Returns how many were stopped."""
        with self._lock:
            idle, self._idle = self._idle, []
            for worker in idle:
                self._all.remove(worker)
        for worker in idle:
            worker.stop()
        return len(idle)

    @property
    def process_count(self) -> int:
        """Processes running now (idle or analysing)."""
        with self._lock:
            return len(self._all)

    def process_ids(self) -> list[int]:
        """Process ids of the running analysis processes."""
        with self._lock:
            return [worker.process.pid for worker in self._all if worker.process.pid is not None]

    def close(self) -> None:
        """Stop every process (running analyses are abandoned)."""
        with self._lock:
            self._closed = True
            workers, self._all, self._idle = self._all, [], []
            launcher, self._launcher = self._launcher, None
        for worker in workers:
            worker.stop()
        for worker in workers:
            worker.process.join(1)
            if worker.process.is_alive():
                worker.process.kill()
        if launcher is not None:
            launcher.shutdown(wait=False)

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        worker.stop()

    def _discard(self, worker: _Worker, kill: bool = False) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        worker.stop(kill=kill)
