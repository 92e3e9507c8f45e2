"""``analyze_file`` in worker processes: parallel on every core, and a time limit that really stops.

The analysis holds the GIL for much of its work (PyAV's per-frame decoding loop, the tempo fit), so
threads alone do not scale: measured on 2 cores, 2 processes did ~20 % more tracks/min than 2 threads
in the window, and 436-461 against 220-253 tracks/min in the command line.  A process can also be
killed, which a thread stuck in a hostile file cannot.  Used by the window's analysis service and by
``crate-cli analyze``.  No Qt.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from crate_app import paths
from crate_app.analysis.outcome import AnalyzeFunction
from crate_app.domain.errors import AnalysisTimeout
from crate_app.domain.track import AnalysisOptions, AnalysisResult
from crate_app.runtime import become_background_worker

WARM_UP_TIMEOUT = 300.0  # seconds for an analysis process to load librosa (a first run compiles ~30 s)
TIME_LIMIT_GRACE = 5.0  # seconds past the decoder's own deadline before a file's process is killed


def numba_cache_folder() -> str:
    """Where numba keeps librosa's compiled kernels: $NUMBA_CACHE_DIR if set, else Crate's cache folder."""
    return os.environ.get("NUMBA_CACHE_DIR") or str(paths.numba_cache_dir())


def numba_cache_is_cold(folder: str) -> bool:
    """True when numba has no compiled kernels in ``folder`` yet (the warm-up will compile, ~30 s)."""
    try:
        for _root, _dirs, files in os.walk(folder):
            if any(name.endswith(".nbi") for name in files):
                return False
    except OSError:
        pass
    return True


def prepare_in_process() -> None:
    """Load librosa in this process (numba's cache in Crate's cache folder) and run a tiny analysis."""
    from crate_app import analysis

    analysis.configure_numba_cache(numba_cache_folder())
    analysis.warm_up()


def analyze_in_process(path: str, options: AnalysisOptions) -> AnalysisResult:
    """``analyze_file`` in this process (tests, or when processes are turned off)."""
    from crate_app import analysis

    return analysis.analyze_file(path, options)


def _start_child(initializer: Callable[[], None] | None) -> None:
    become_background_worker()  # Ctrl+C is the parent's to handle; the window comes first for the CPU
    if initializer is not None:
        initializer()


class ProcessAnalyzer:
    """Analyses one file per call in a process of its own; one process per thread that calls it.

    Each calling thread hands its file to an idle process (``spawn``: a threaded process must never
    fork) and waits.  A file that overruns the time limit is stopped for real: its process is killed,
    ``AnalysisTimeout`` is raised, and a fresh process takes its place at the next call.  Processes load
    librosa once (``warm_up``) and stay; the calling process never imports librosa.
    """

    def __init__(
        self,
        time_limit_grace: float = TIME_LIMIT_GRACE,
        function: AnalyzeFunction | None = None,
        initializer: Callable[[], None] | None = None,
        warm: bool = True,
        time_limit: float | None = None,
    ) -> None:
        """The limit per file is ``time_limit`` if given, else the decoder's deadline
        (``AnalysisOptions.timeout_seconds``) plus ``time_limit_grace``.  ``function`` and ``initializer``
        (default ``analyze_file`` and ``warm_up``; none with ``warm=False``) must be importable by name
        in a fresh process."""
        self.time_limit_grace = time_limit_grace
        self.time_limit = time_limit
        self._function = function
        self._initializer = initializer
        self._warm = warm
        self._lock = threading.Lock()
        self._idle: list[Any] = []  # multiprocessing pools of one process, started
        self._all: list[Any] = []
        self._closed = False

    def warm_up(self, count: int) -> None:
        """Start ``count`` processes, together (the first alone when numba's cache is cold, so that
        librosa's kernels are compiled once, not by every process at the same time)."""
        os.environ.setdefault("NUMBA_CACHE_DIR", numba_cache_folder())  # the processes inherit it
        pools = [self._started_pool()] if self._warm and numba_cache_is_cold(numba_cache_folder()) else []
        pools += [self._new_pool() for _ in range(count - len(pools))]
        for pool in pools:
            self._wait_until_started(pool)
        with self._lock:
            self._idle.extend(pools)

    def limit_for(self, options: AnalysisOptions) -> float:
        """Seconds a file may take before its process is killed."""
        return (
            self.time_limit
            if self.time_limit is not None
            else options.timeout_seconds + self.time_limit_grace
        )

    def __call__(self, path: str, options: AnalysisOptions) -> AnalysisResult:
        from crate_app.analysis.analyze import analyze_file

        pool = self._acquire()  # started already: starting a process is not the file's time
        limit = self.limit_for(options)
        deadline = time.monotonic() + limit
        try:
            pending = pool.apply_async(self._function or analyze_file, (path, options))
            while True:  # in slices, so that close() frees a waiting thread at once
                try:
                    return pending.get(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
                except multiprocessing.TimeoutError:
                    if self._closed:
                        raise RuntimeError("the analysis processes were stopped") from None
                    if time.monotonic() >= deadline:
                        self._discard(pool)
                        pool = None
                        raise AnalysisTimeout(f"analysis took longer than {limit:g} s (stopped)") from None
        finally:
            if pool is not None:
                self._release(pool)

    def stop_idle(self) -> int:
        """Stop the processes that are not analysing (their memory goes back to the system); later calls
        start new ones.  Returns how many were stopped."""
        with self._lock:
            idle, self._idle = self._idle, []
            for pool in idle:
                self._all.remove(pool)
        for pool in idle:
            pool.terminate()
        return len(idle)

    @property
    def process_count(self) -> int:
        """Processes running now (idle or analysing)."""
        with self._lock:
            return len(self._all)

    def close(self) -> None:
        """Stop every process (running analyses are abandoned)."""
        with self._lock:
            self._closed = True
            pools, self._all, self._idle = self._all, [], []
        for pool in pools:
            pool.terminate()

    def _new_pool(self) -> Any:
        from crate_app.analysis.analyze import warm_up

        initializer = self._initializer or (warm_up if self._warm else None)
        pool = multiprocessing.get_context("spawn").Pool(1, initializer=_start_child, initargs=(initializer,))
        with self._lock:
            self._all.append(pool)
        return pool

    def _started_pool(self) -> Any:
        pool = self._new_pool()
        self._wait_until_started(pool)
        return pool

    def _wait_until_started(self, pool: Any) -> None:
        try:  # returns once the process has run its initializer (librosa loaded, kernels compiled)
            pool.apply_async(os.getpid).get(timeout=WARM_UP_TIMEOUT)
        except multiprocessing.TimeoutError:
            self._discard(pool)
            raise RuntimeError(f"the analysis process did not start within {WARM_UP_TIMEOUT:g} s") from None

    def _acquire(self) -> Any:
        with self._lock:
            if self._closed:
                raise RuntimeError("the analysis processes were stopped")
            if self._idle:
                return self._idle.pop()
        return self._started_pool()

    def _release(self, pool: Any) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(pool)
                return
        pool.terminate()

    def _discard(self, pool: Any) -> None:
        with self._lock:
            if pool in self._all:
                self._all.remove(pool)
        pool.terminate()
