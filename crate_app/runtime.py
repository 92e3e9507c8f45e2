"""Process-wide settings that must be made before heavy libraries load."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time

NATIVE_THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pin_native_threads() -> None:
    """One thread per BLAS/OpenMP pool: analysis gets its parallelism from its own workers.

    Must run before numpy is first imported (worker processes inherit it); a value the user set is kept.
    """
    for name in NATIVE_THREAD_ENV_VARS:
        os.environ.setdefault(name, "1")


GUI_SWITCH_INTERVAL_S = 0.0005


def favour_the_gui_thread() -> None:
    """Hand the GIL over after 0.5 ms instead of Python's 5 ms.

    The window's background threads (the table's loader and warmer, the scan's writer) run Python
    between SQLite calls.  Every Qt callback (each ``data()`` of a repaint) must take the GIL back, and
    with the default interval each of those waits could cost 5 ms: on 1M tracks, random jumps while the
    table was being warmed had a p99 of 127 ms with 5 ms, 35 ms with 0.5 ms.
    """
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)


def freeze_startup_objects() -> None:
    """Keep what start-up made (modules, Qt wrappers, the window) out of later full collections.

    Those objects live as long as the app; without this, each full collection walks all of them with
    the GIL held (12-30 ms pauses in the window on a 1M-track library).  They are still freed by
    reference counting.
    """
    gc.freeze()


BACKGROUND_NICENESS = 5  # added to a worker process's niceness (POSIX); 0 is normal, 19 the lowest


def become_background_worker() -> None:
    """Initializer of Crate's worker processes (tag readers, analysis).

    Ctrl+C in a terminal reaches the whole process group, but only the parent decides what stops (a
    scan between batches, an analysis between files), so a worker must not die mid-file.  And a lower
    CPU priority: when every core is busy, the window (and the user's other programs) come first; an
    otherwise idle machine gives the workers the same time as before.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "nice"):
        try:
            os.nice(BACKGROUND_NICENESS)
        except OSError:  # not allowed here: run at the normal priority
            pass


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_WATCH_INTERVAL_S = 0.5


def die_with_parent(parent_pid: int, *, kernel_signal: bool = True) -> None:
    """End this worker process when ``parent_pid`` (the process that started it) dies, even by SIGKILL.

    On Linux the kernel sends SIGKILL at the parent's death (``prctl(PR_SET_PDEATHSIG)``; it follows the
    *thread* that started this process, so the parent starts its workers from one long-lived thread).
    Everywhere, a daemon thread also watches the parent's pid and ends this process when it changes.
    Workers started from short-lived threads (a pool the scanner makes in a Qt job) pass
    ``kernel_signal=False``: the watchdog alone ends them within ``PARENT_WATCH_INTERVAL_S``.
    """
    if kernel_signal and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl here: the watchdog below does it
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_WATCH_INTERVAL_S)
        os._exit(1)

    threading.Thread(target=watch, name="crate-parent-watch", daemon=True).start()


def become_tag_reader(parent_pid: int) -> None:
    """Initializer of the scanner's tag-reading processes: background workers that end with the process
    that started them (the watchdog only: the pool is made by whatever thread runs the scan)."""
    become_background_worker()
    die_with_parent(parent_pid, kernel_signal=False)
