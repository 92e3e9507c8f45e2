"""Benchmark of the library window's track table on a big library (not part of the default test run).

Builds a library of N tracks directly in the store (realistic text, duplicated artists and albums),
opens the real model and view offscreen and prints what it measured as JSON::

    .venv/bin/python tests/benchmarks/table_bench.py [N] [--library PATH] [--keep]

The library is cached under the cache dir (one file per N and seed), so a second run skips the build.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.store.library import Library, open_library
from crate_app.store.writer import scanned_row, upsert_rows

_SYLLABLES = (
    "ka", "lo", "mi", "ra", "ve", "so", "tan", "dre", "xo", "lu", "ne", "fi", "bor", "zen", "qua", "del",
    "mar", "cy", "ton", "ri", "ax", "el", "on", "ju", "pe", "sha", "vin", "go", "ha", "ty",
)  # fmt: skip
_WORDS = (
    "love", "night", "dance", "fire", "dream", "city", "light", "heart", "summer", "shadow", "deep",
    "echo", "gold", "rain", "wild", "drive", "space", "ocean", "storm", "pulse", "blue", "midnight",
    "sound", "system", "groove", "machine", "soul", "rise", "fall", "moon", "sun", "electric", "velvet",
    "tokyo", "paris", "berlin", "road", "dust", "river", "glass", "silver", "motion", "signal", "run",
    "forever", "alone", "together", "higher", "lost", "found", "time", "wave", "theme", "story",
)  # fmt: skip
_GENRES = (
    ("House", 118, 128), ("Deep House", 115, 124), ("Tech House", 122, 128), ("Techno", 125, 140),
    ("Minimal", 120, 128), ("Trance", 130, 140), ("Drum & Bass", 165, 178), ("Dubstep", 138, 142),
    ("Hip-Hop", 80, 100), ("Disco", 110, 125), ("Funk", 95, 115), ("Soul", 70, 110), ("Electro", 120, 132),
    ("Breaks", 125, 135), ("Garage", 128, 136), ("Ambient", 70, 110), ("Pop", 95, 128), ("Rock", 90, 160),
    ("Reggae", 70, 90), ("Jungle", 160, 175), ("Hardstyle", 145, 155), ("Afro House", 118, 124),
    ("Italo Disco", 110, 125), ("Downtempo", 80, 110), ("Jazz", 70, 180),
)  # fmt: skip
_FORMATS = (
    ("mp3", 320),
    ("mp3", 256),
    ("mp3", 192),
    ("flac", 900),
    ("m4a", 256),
    ("wav", 1411),
    ("ogg", 192),
)


def _name(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables)).capitalize()


def _artist_names(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    for _ in range(count):
        style = rng.random()
        if style < 0.4:
            names.append(f"{_name(rng, 2)} {_name(rng, rng.randint(2, 3))}")
        elif style < 0.7:
            names.append(f"The {rng.choice(_WORDS).capitalize()} {_name(rng, 2)}s")
        elif style < 0.9:
            names.append(f"DJ {_name(rng, rng.randint(1, 3))}")
        else:
            names.append(f"{_name(rng, 2)} & {_name(rng, 2)}")
    return names


def fake_rows(count: int, seed: int = 7, start: int = 0) -> list[tuple[object, ...]]:
    """Upsert rows for ``count`` made-up tracks: Zipf-like artists, albums shared by ~10 tracks."""
    rng = random.Random(seed)
    artists = _artist_names(rng, max(50, count // 40))
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(artists))]
    albums_of: dict[str, list[str]] = {}
    now = time.time()
    rows: list[tuple[object, ...]] = []
    picks = rng.choices(artists, weights=weights, k=count)
    for number in range(start, start + count):
        artist = picks[number - start]
        albums = albums_of.setdefault(artist, [])
        if not albums or rng.random() < 0.08:
            albums.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3))).title())
        album = rng.choice(albums)
        title = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4))).title()
        if rng.random() < 0.2:
            title += f" ({rng.choice(('Original Mix', 'Extended Mix', 'Remix', 'Dub', 'Radio Edit'))})"
        genre, low, high = rng.choice(_GENRES)
        fmt, bitrate = rng.choice(_FORMATS)
        tags = TagInfo(
            format=fmt,
            codec=fmt,
            duration=rng.uniform(90, 600),
            bitrate=bitrate,
            sample_rate=44100,
            channels=2,
            title=title,
            artist=artist,
            album=album,
            albumartist=artist,
            genre=genre,
            year=rng.randint(1970, 2025) if rng.random() < 0.9 else None,
            track_no=rng.randint(1, 14),
            label=f"{_name(rng, 2)} Records" if rng.random() < 0.5 else None,
            bpm=round(rng.uniform(low, high), 2) if rng.random() < 0.7 else None,
            key=rng.randrange(24) if rng.random() < 0.6 else None,
        )
        path = f"/music/{artist}/{album}/{number:07d} {title}.{fmt}"
        scanned = ScannedFile(path=path, size=rng.randint(2_000_000, 60_000_000), mtime=now, tags=tags)
        rows.append(scanned_row(scanned, now - rng.uniform(0, 5 * 365 * 86400)))
    return rows


def build_library(path: Path, count: int, seed: int = 7, chunk: int = 20_000) -> Library:
    """Create (or reuse) a library of ``count`` made-up tracks at ``path``."""
    library = open_library(path)
    have = library.count()
    if have >= count:
        return library
    started = time.perf_counter()
    for offset in range(have, count, chunk):
        n = min(chunk, count - offset)
        upsert_rows(library, fake_rows(n, seed=seed + offset, start=offset))
        print(f"  built {offset + n:,} tracks in {time.perf_counter() - started:.0f} s", flush=True)
    library.checkpoint()
    return library


# -- measuring ----------------------------------------------------------------------------------------


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory in MB (VmRSS; RssAnon = heap and SQLite caches; RssFile = mapped files)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def sqlite_memory_mb() -> float:
    """Heap memory SQLite holds in this process (page caches, statements, FTS buffers), in MB."""
    try:
        import ctypes

        lib = ctypes.CDLL("libsqlite3.so.0")
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        return lib.sqlite3_memory_used() / 1e6
    except (OSError, AttributeError):  # no shared SQLite library (other systems): not measured
        return float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1) if values else float("nan"),
    }


def run(
    library_path: Path,
    count: int,
    seed: int,
    scan_folder: Path | None = None,
    scan_workers: int | None = None,
) -> dict[str, object]:
    import os
    import threading

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QAbstractItemView, QApplication

    from crate_app.gui.main_window import MainWindow
    from crate_app.gui.settings import open_settings
    from crate_app.gui.track_model import COLUMN_NAMES, COLUMNS
    from crate_app.runtime import favour_the_gui_thread, freeze_startup_objects

    favour_the_gui_thread()  # as the app does
    _app = QApplication.instance() or QApplication([])
    imports_seconds = time.perf_counter() - started
    loop = QEventLoop()  # QCoreApplication.processEvents() leaks a reference to None in PySide6 6.12

    def pump(ms: int) -> None:
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def wait_for(signal, timeout_ms: int = 60_000) -> None:
        waiter = QEventLoop()
        signal.connect(waiter.quit)
        QTimer.singleShot(timeout_ms, waiter.quit)
        waiter.exec()
        signal.disconnect(waiter.quit)

    rss_before = rss_mb()
    settings_dir = Path(library_path).parent / "bench-settings"
    settings_file = settings_dir / "crate.ini"
    settings_file.unlink(missing_ok=True)
    started = time.perf_counter()
    library = open_library(library_path)
    window = MainWindow(library, open_settings(settings_file))
    window.resize(1400, 900)
    window.show()
    model, table = window.model, window.table
    if model.is_loading:
        wait_for(model.view_applied)
    table.viewport().repaint()
    first_rows = time.perf_counter() - started
    freeze_startup_objects()  # as the app does once its window is up
    assert model.rowCount() == count, (model.rowCount(), count)
    results: dict[str, object] = {
        "tracks": count,
        "imports_s": round(imports_seconds, 3),
        "first_rows_s": round(first_rows, 3),
    }

    def timed_jump(row: int) -> float:
        t0 = time.perf_counter()
        table.scrollTo(model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        table.viewport().repaint()
        return (time.perf_counter() - t0) * 1000

    t0 = time.perf_counter()
    table.scrollToBottom()
    table.viewport().repaint()
    results["jump_to_last_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    rng = random.Random(seed)
    # At once (the view may still be warming on its background thread), then once it is warm.
    results["random_jump_ms_at_once"] = summary([timed_jump(rng.randrange(count)) for _ in range(100)])
    while not model.is_warm and time.perf_counter() - started < 60:
        pump(20)
    results["view_warm_after_s"] = round(time.perf_counter() - started, 2)
    results["random_jump_ms"] = summary([timed_jump(rng.randrange(count)) for _ in range(200)])
    repaints = []
    for _ in range(20):
        t0 = time.perf_counter()
        table.viewport().repaint()
        repaints.append((time.perf_counter() - t0) * 1000)
    results["full_repaint_ms"] = summary(repaints)
    table.scrollToTop()
    table.viewport().repaint()  # the scroll's own paint must not be charged to the first sort
    pump(300)

    header = table.horizontalHeader()
    sorts: dict[str, float] = {}
    for number, column in enumerate(COLUMNS):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            if header.sortIndicatorSection() == number and header.sortIndicatorOrder() == order:
                continue
            t0 = time.perf_counter()
            header.setSortIndicator(number, order)
            wait_for(model.view_applied)
            table.viewport().repaint()
            name = f"{column.name}{' desc' if order == Qt.SortOrder.DescendingOrder else ''}"
            sorts[name] = round((time.perf_counter() - t0) * 1000, 1)
    results["sort_change_ms"] = sorts
    results["sort_change_p99_ms"] = round(percentile(list(sorts.values()), 99), 1)
    header.setSortIndicator(COLUMN_NAMES.index("artist"), Qt.SortOrder.AscendingOrder)
    wait_for(model.view_applied)

    # GUI-thread stalls: a 5 ms heartbeat timer; lateness = how long the event loop could not run.
    beats: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        beats.append((now - last[0]) * 1000 - 5)
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(beat)

    def type_text(text: str, gap_ms: int = 90) -> dict[str, object]:
        field = window.search.field
        field.clear()
        window.search.flush()
        if model.is_loading:
            wait_for(model.view_applied)
        keys: list[float] = []
        beats.clear()
        last[0] = time.perf_counter()
        heartbeat.start()
        for char in text:
            t0 = time.perf_counter()
            QTest.keyClicks(field, char)
            keys.append((time.perf_counter() - t0) * 1000)
            pump(gap_ms)
        t0 = time.perf_counter()
        if model.is_loading or window.search._timer.isActive():
            wait_for(model.view_applied)
        table.viewport().repaint()
        settle = (time.perf_counter() - t0) * 1000
        heartbeat.stop()
        return {
            "matches": model.rowCount(),
            "keystroke_ms": summary(keys),
            "gui_stall_ms": summary(beats),
            "results_after_last_key_ms": round(settle + gap_ms, 1),
        }

    window.search.focus()
    results["search_word"] = {"text": "midnight", **type_text("midnight")}
    results["search_field_query"] = {
        "text": "genre:house bpm:120-128",
        **type_text("genre:house bpm:120-128"),
    }
    results["search_key_query"] = {"text": "key:8A year:>2000", **type_text("key:8A year:>2000")}
    window.search.field.clear()
    window.search.flush()
    wait_for(model.view_applied)

    # A writer busy in another thread, as a scan is: rows (made beforehand, as the scanner's worker
    # processes make them) written in batches of 2,000, each batch announced like the scanner's
    # on_batch, so the table re-counts and grows meanwhile.  Heartbeat stalls are measured while the
    # GUI is otherwise idle; jumps are measured separately (their own repaint is not a stall).
    results["rss_mb_after_reading"] = round(rss_mb())
    results["sqlite_mb_after_reading"] = round(sqlite_memory_mb())
    max_id = library.execute("SELECT MAX(id) FROM tracks").fetchone()[0]
    extra = max(2_000, min(40_000, count // 25))
    batches = [
        fake_rows(2_000, seed=seed + 10_000_000 + offset, start=10_000_000 + offset)
        for offset in range(0, extra, 2_000)
    ]
    done = threading.Event()

    def writer_thread() -> None:
        while batches:
            rows = batches.pop(0)
            upsert_rows(library, rows)
            window.scan_service.tracks_committed.emit(len(rows), 0)
        library.close()
        done.set()

    table.scrollTo(model.index(count // 2, 0), QAbstractItemView.ScrollHint.PositionAtTop)
    refreshes = [0]
    model.view_applied.connect(lambda: refreshes.__setitem__(0, refreshes[0] + 1))

    def measure_while(busy) -> tuple[list[float], list[float], float]:
        """GUI stalls (heartbeat, no other GUI work) and random jumps, alternately, while busy()."""
        stalls: list[float] = []
        jumps: list[float] = []
        t0 = time.perf_counter()
        while busy():
            beats.clear()
            last[0] = time.perf_counter()
            heartbeat.start()
            pump(250)
            heartbeat.stop()
            stalls.extend(beats)
            jumps.append(timed_jump(rng.randrange(model.rowCount())))
        return stalls, jumps, time.perf_counter() - t0

    thread = threading.Thread(target=writer_thread)
    thread.start()
    stalls, jumps, write_seconds = measure_while(lambda: not done.is_set())
    thread.join()
    waited = time.perf_counter()  # until the last batch's refresh is in the table
    while model.rowCount() < count + extra and time.perf_counter() - waited < 30:
        pump(50)
    results["while_writing"] = {
        "rows_written": extra,
        "seconds": round(write_seconds, 1),
        "rows_per_s": round(extra / write_seconds),
        "table_refreshes": refreshes[0],
        "rows_after": model.rowCount(),
        "gui_stall_ms": summary(stalls),
        "random_jump_ms": summary(jumps),
    }
    if scan_folder is not None:
        # The real thing: the scanner (worker processes, batches, on_batch) adding real files while
        # the window shows the big library; the added tracks and the root are removed afterwards.
        scan_max_id = library.execute("SELECT MAX(id) FROM tracks").fetchone()[0]
        roots_before = set(library.roots())
        if scan_workers is not None:
            window.scan_service.workers = scan_workers
        window.scan_service.scan([str(scan_folder)])
        refreshes[0] = 0
        stalls, jumps, scan_seconds = measure_while(lambda: window.scan_service.is_running)
        added = library.execute("SELECT COUNT(*) FROM tracks WHERE id > ?", (scan_max_id,)).fetchone()[0]
        waited = time.perf_counter()
        while model.rowCount() < count + extra + added and time.perf_counter() - waited < 30:
            pump(50)
        results["while_scanning"] = {
            "scan_workers": window.scan_service.workers,
            "files_added": added,
            "seconds": round(scan_seconds, 1),
            "table_refreshes": refreshes[0],
            "rows_after": model.rowCount(),
            "gui_stall_ms": summary(stalls),
            "random_jump_ms": summary(jumps),
        }
        with library.write() as conn:
            conn.execute("DELETE FROM tracks WHERE id > ?", (scan_max_id,))
            for root in set(library.roots()) - roots_before:
                conn.execute("DELETE FROM library_roots WHERE path = ?", (root,))
    results["rss_mb_before"] = round(rss_before)
    results["rss_mb_after"] = round(rss_mb())
    results["rss_growth_mb"] = round(rss_mb() - rss_before)
    results["rss_anon_mb_after"] = round(rss_mb("RssAnon"))
    results["sqlite_mb_after"] = round(sqlite_memory_mb())
    results["rss_file_mb_after"] = round(rss_mb("RssFile"))
    try:  # how much of that is freed memory the C allocator keeps (glibc only)
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
        results["rss_mb_after_malloc_trim"] = round(rss_mb())
    except (OSError, AttributeError):
        pass
    window.close()
    with library.write() as conn:
        conn.execute("DELETE FROM tracks WHERE id > ?", (max_id,))
    library.checkpoint()
    library.close()
    return results


def main() -> None:
    import argparse
    import json
    import os
    import subprocess
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tracks", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--library", type=Path, help="where to build/keep the library file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scan-folder",
        type=Path,
        help="also scan this folder of real files (make_library.py) into the library",
    )
    parser.add_argument("--scan-workers", type=int, help="tag-reading processes for --scan-folder")
    args = parser.parse_args()
    from crate_app.paths import cache_dir

    path = args.library or cache_dir() / "bench" / f"table-{args.tracks}-{args.seed}.sqlite"

    def tracks_in(path: Path) -> int:  # closed at once: its page cache and memory map must not count below
        library = open_library(path)
        try:
            return library.count()
        finally:
            library.close()

    if not path.exists() or tracks_in(path) < args.tracks:
        # Build in a child process, so that the memory figures below are the window's own.
        print(f"building a library of {args.tracks:,} tracks at {path} ...", file=sys.stderr)
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); from table_bench import build_library; "
            "from pathlib import Path; build_library(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))"
        )
        subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                str(Path(__file__).parent),
                str(path),
                str(args.tracks),
                str(args.seed),
            ],
            check=True,
            stdout=sys.stderr,
        )
    load = os.getloadavg()
    results = run(path, tracks_in(path), args.seed, args.scan_folder, args.scan_workers)
    results["load_average_at_start"] = [round(x, 2) for x in load]
    results["cpus"] = os.cpu_count()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
