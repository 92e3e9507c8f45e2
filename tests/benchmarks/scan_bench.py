"""Scanner and store throughput, measured on the same files in one run.

    python tests/benchmarks/scan_bench.py --files 100000

Prints:
1. files/s of a first ``scan_paths`` into an empty library, against a bare single-process loop of
   ``os.scandir`` + ``mutagen.File`` over the same files (the ratio; target >= 1.5 on 2 cores);
2. seconds for ``rescan_library`` of the unchanged library (target <= 3 s for 100,000 files);
3. rows/s of the store's bulk upsert (``writer.upsert_rows``) against a raw ``executemany`` of the
   same rows into a fresh library of the same schema (the ratio; target >= 0.7), plus the raw
   insert into a table without the sort indexes and FTS triggers, to show what those cost.

The files are made by make_library.py (once; kept in --dir).  Other work on the machine skews the
figures: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

import mutagen  # noqa: E402

from crate_app.library.scanner import AUDIO_EXTENSIONS, BATCH_ROWS, rescan_library, scan_paths  # noqa: E402
from crate_app.store import writer  # noqa: E402
from crate_app.store.library import open_library  # noqa: E402


def bare_loop(root: str) -> tuple[int, float, float]:
    """os.scandir + stat + mutagen.File over every audio file, one process: (files, seconds, cpu s)."""
    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    stack.append(entry.path)
                elif os.path.splitext(entry.name)[1].lower() in AUDIO_EXTENSIONS:
                    entry.stat()
                    try:
                        mutagen.File(entry.path)
                    except Exception:
                        pass
                    count += 1
    return count, time.perf_counter() - started, time.process_time() - cpu


def first_scan(root: str, workdir: Path, workers: int | None) -> tuple[int, float, Path, float, float]:
    """(files, seconds, library path, CPU s of this process, CPU s of the worker processes)."""
    path = workdir / f"scan-{time.monotonic_ns()}.sqlite"
    library = open_library(path)
    cpu, children = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = scan_paths(library, [root], workers=workers)
    main_cpu = time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    library.close()
    files = summary.added + summary.errors
    return files, summary.seconds, path, main_cpu, workers_cpu


def rescan(path: Path) -> float:
    library = open_library(path)
    summary = rescan_library(library)
    library.close()
    assert summary.added == 0 and summary.updated == 0, summary
    return summary.seconds


def upsert_figures(source: Path, workdir: Path) -> tuple[float, float, float, int]:
    """rows/s: store upsert, raw executemany into the same schema, raw into a bare table."""
    columns = ", ".join(writer.UPSERT_COLUMNS)
    with sqlite3.connect(source) as conn:
        rows = conn.execute(f"SELECT {columns} FROM tracks").fetchall()
    batches = [rows[i : i + BATCH_ROWS] for i in range(0, len(rows), BATCH_ROWS)]

    store = open_library(workdir / f"upsert-{time.monotonic_ns()}.sqlite")
    started = time.perf_counter()
    for batch in batches:
        writer.upsert_rows(store, batch)
    store_rate = len(rows) / (time.perf_counter() - started)
    store.close()

    def raw(path: Path, create: str | None) -> float:
        if create is None:
            open_library(path).close()  # the same schema: indexes, FTS table and triggers
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute("PRAGMA synchronous=1")
        if create is not None:
            conn.execute(create)
        sql = f"INSERT INTO tracks ({columns}) VALUES ({', '.join('?' * len(writer.UPSERT_COLUMNS))})"
        started = time.perf_counter()
        for batch in batches:
            conn.execute("BEGIN")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")
        rate = len(rows) / (time.perf_counter() - started)
        conn.close()
        return rate

    raw_rate = raw(workdir / f"raw-{time.monotonic_ns()}.sqlite", None)
    bare_rate = raw(
        workdir / f"bare-{time.monotonic_ns()}.sqlite",
        f"CREATE TABLE tracks (id INTEGER PRIMARY KEY, {columns}, UNIQUE(path))",
    )
    return store_rate, raw_rate, bare_rate, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--dir", type=Path, help="where the files are (default /tmp/crate-bench-N)")
    parser.add_argument("--workers", type=int, default=None, help="scanner worker processes")
    args = parser.parse_args()
    # Imported here: worker processes re-import this script, and they must not load PyAV and numpy.
    from make_library import make_library

    root = args.dir or Path(tempfile.gettempdir()) / f"crate-bench-{args.files}"
    took = make_library(args.files, root)
    if took:
        print(f"made {args.files:,} files in {root} in {took:.0f} s")
    print(f"cores: {os.cpu_count()}, load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    bare_loop(str(root))  # warm the page cache
    with tempfile.TemporaryDirectory(prefix="crate-bench-") as tmp:
        workdir = Path(tmp)
        files_a, bare_a, bare_cpu_a = bare_loop(str(root))
        scan = first_scan(str(root), workdir, args.workers)
        scanned, scan_seconds, library_path, main_cpu, workers_cpu = scan
        _, bare_b, bare_cpu_b = bare_loop(str(root))
        bare_seconds = statistics.mean([bare_a, bare_b])
        bare_rate = files_a / bare_seconds
        scan_rate = scanned / scan_seconds
        print(
            f"1. first scan: {scanned:,} files in {scan_seconds:.2f} s = {scan_rate:,.0f} files/s; "
            f"bare scandir+mutagen loop: {bare_rate:,.0f} files/s ({bare_a:.2f} s, {bare_b:.2f} s); "
            f"ratio {scan_rate / bare_rate:.2f} (target >= 1.5)"
        )
        bare_us = (bare_cpu_a + bare_cpu_b) / 2 / files_a * 1e6
        main_us, workers_us = main_cpu / scanned * 1e6, workers_cpu / scanned * 1e6
        print(
            f"   CPU per file: bare loop {bare_us:.0f} us; scan {main_us + workers_us:.0f} us = this process "
            f"{main_us:.0f} (walk, SQLite) + workers {workers_us:.0f}; on 2 idle cores the ratio could reach "
            f"{bare_us / ((main_us + workers_us) / 2):.2f}"
        )
        rescans = [rescan(library_path) for _ in range(3)]
        print(
            f"2. rescan of {scanned:,} unchanged files: "
            f"{', '.join(f'{s:.2f}' for s in rescans)} s (median {statistics.median(rescans):.2f} s; "
            f"target <= 3 s for 100,000)"
        )
        store_rate, raw_rate, bare_table_rate, rows = upsert_figures(library_path, workdir)
        print(
            f"3. bulk upsert of {rows:,} rows in batches of {BATCH_ROWS:,}: store {store_rate:,.0f} rows/s, "
            f"raw executemany into the same schema {raw_rate:,.0f} rows/s, ratio {store_rate / raw_rate:.2f} "
            f"(target >= 0.7); raw into a table without sort indexes and FTS: {bare_table_rate:,.0f} rows/s"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
