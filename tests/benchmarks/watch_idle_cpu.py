"""Idle CPU of the library window with the other-writers poll (LibraryWatcher) on and off.

    .venv/bin/python tests/benchmarks/watch_idle_cpu.py [N tracks] [--seconds S] [--rounds R]

Opens the real MainWindow offscreen on a library of N tracks (built with table_bench's generator),
lets it settle, then alternates S-second idle windows with the poll running and stopped, R times each,
and prints the process CPU time per window as JSON, plus the cost of one ``PRAGMA data_version`` and
the delay from another process's commit to the rows being shown.  The machine's other load shows
up in neither figure (this counts this process's CPU time only), but is in the latency.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from table_bench import build_library


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tracks", type=int, nargs="?", default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from crate_app.gui.main_window import MainWindow
    from crate_app.gui.settings import open_settings

    app = QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="crate-watch-bench-"))
    library = build_library(folder / "library.sqlite", args.tracks)
    window = MainWindow(library, open_settings(folder / "crate.ini"))
    window.show()

    def idle(seconds: float) -> float:
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        before = cpu_seconds()
        loop.exec()
        return cpu_seconds() - before

    idle(3.0)  # first page, counts, sort warm-up
    on, off = [], []
    for _ in range(args.rounds):
        window.library_watcher.start()
        on.append(idle(args.seconds))
        window.library_watcher.stop()
        off.append(idle(args.seconds))
    window.library_watcher.start()

    started = time.perf_counter()
    for _ in range(10_000):
        library.data_version()
    pragma_us = (time.perf_counter() - started) / 10_000 * 1e6

    # Another process adds one track; how long until the window's count shows it?
    before = window.model.library_count or 0
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]); from pathlib import Path; "
        "from table_bench import fake_rows; from crate_app.store.library import open_library; "
        "from crate_app.store.writer import upsert_rows; lib = open_library(Path(sys.argv[1])); "
        "upsert_rows(lib, fake_rows(1, seed=99, start=10**8)); lib.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(library.path), str(Path(__file__).parent)], check=True)
    committed = time.perf_counter()
    while (window.model.library_count or 0) <= before and time.perf_counter() - committed < 10:
        app.processEvents()
        time.sleep(0.005)
    shown = time.perf_counter() - committed
    window.shutdown()
    print(
        json.dumps(
            {
                "tracks": args.tracks,
                "window_seconds": args.seconds,
                "cpu_s_poll_on": [round(v, 4) for v in on],
                "cpu_s_poll_off": [round(v, 4) for v in off],
                "cpu_percent_on": round(statistics.median(on) / args.seconds * 100, 3),
                "cpu_percent_off": round(statistics.median(off) / args.seconds * 100, 3),
                "pragma_data_version_us": round(pragma_us, 1),
                "other_process_commit_to_count_shown_s": round(shown, 3),
                "count_after": window.model.library_count,
            }
        )
    )


if __name__ == "__main__":
    main()
