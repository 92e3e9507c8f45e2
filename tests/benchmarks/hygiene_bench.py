"""Benchmarks of library hygiene at scale (not part of the default test run); prints JSON figures.

    .venv/bin/python tests/benchmarks/hygiene_bench.py tags [N]         # tag duplicates over N tracks
    .venv/bin/python tests/benchmarks/hygiene_bench.py fingerprint [N]  # grouping N fingerprints
    .venv/bin/python tests/benchmarks/hygiene_bench.py relink [MOVED] [FILES]
    .venv/bin/python tests/benchmarks/hygiene_bench.py backup [N]       # backup + GUI stall while it runs
    .venv/bin/python tests/benchmarks/hygiene_bench.py watch [FILES]    # a burst into a watched folder
    .venv/bin/python tests/benchmarks/hygiene_bench.py hashing [FILES]  # audio hashing vs reading the files
    .venv/bin/python tests/benchmarks/hygiene_bench.py hashing_job [FILES]  # the background pass, paused

Big libraries are built with table_bench.build_library (made-up tracks) and kept under the cache dir.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent.parent)]  # this checkout first

from table_bench import build_library, percentile  # noqa: E402

from crate_app.paths import cache_dir  # noqa: E402
from crate_app.store.library import Library, open_library  # noqa: E402


def _big_library(count: int) -> Library:
    path = cache_dir() / "bench" / f"hygiene-{count}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return build_library(path, count)


def bench_tags(count: int) -> dict[str, object]:
    from crate_app.domain.track import ScannedFile, TagInfo
    from crate_app.hygiene import duplicates
    from crate_app.store import writer

    library = _big_library(count)
    with library.write() as conn:  # plant re-tagged copies: 1 in 200 tracks twice, case and mix changed
        conn.execute("DELETE FROM tracks WHERE path LIKE '/dupes/%'")
    rows = library.execute(
        "SELECT artist, title, duration, format, size FROM tracks WHERE id % 200 = 0 AND title != ''"
    ).fetchall()
    copies = [
        ScannedFile(
            f"/dupes/{i}.mp3",
            size,
            0.0,
            TagInfo(
                format=fmt,
                artist=artist.upper(),
                title=f"{title} (Original Mix)",
                duration=(duration or 0) + 1.0,
            ),
        )
        for i, (artist, title, duration, fmt, size) in enumerate(rows)
    ]
    writer.upsert_scanned(library, copies)
    started = time.perf_counter()
    made = duplicates.refresh_tag_keys(library)  # keys of tracks new since the last search
    refresh = time.perf_counter() - started
    started = time.perf_counter()
    sets = duplicates.find_duplicates(library, "tags")
    seconds = time.perf_counter() - started
    library.close()
    return {
        "keys_made": made,
        "key_refresh_seconds": round(refresh, 2),
        "tracks": count,
        "planted": len(rows),
        "sets": len(sets),
        "seconds": round(seconds, 2),
        "target_seconds": 10,
    }


def bench_fingerprint(count: int, groups: int = 10_000) -> dict[str, object]:
    import numpy as np

    from crate_app.hygiene import duplicates
    from crate_app.hygiene.fingerprint import index_keys, to_blob

    library = _big_library(count)
    rng = np.random.default_rng(5)
    ids = [i for (i,) in library.execute("SELECT id FROM tracks ORDER BY id LIMIT ?", (count,))]
    started = time.perf_counter()
    with library.write() as conn:
        conn.execute("DELETE FROM fingerprint_keys")
        conn.execute("DELETE FROM track_hashes")
        planted = set()
        batch_keys, batch_rows = [], []
        position = 0
        for _group in range(groups):  # groups of 2-3 encodings of one recording (a few bits flipped)
            size = int(rng.integers(2, 4))
            base = rng.integers(0, 2**32, size=960, dtype=np.uint64).astype(np.uint32)
            for _copy in range(size):
                noisy = base ^ (rng.random(960) < 0.15).astype(np.uint32) << rng.integers(0, 32, 960).astype(
                    np.uint32
                )
                track_id = ids[position]
                position += 1
                planted.add(track_id)
                batch_rows.append((track_id, 0, 0.0, None, to_blob(noisy), 120.0))
                batch_keys.extend((key, track_id) for key in index_keys(noisy))
        hot = [int(k) for k in rng.integers(-(2**62), 2**62, size=4)]  # silence-like values many share
        for track_id in ids[position:]:
            keys = [int(k) for k in rng.integers(-(2**62), 2**62, size=8)]
            if rng.random() < 0.01:
                keys[:4] = hot
            batch_keys.extend((key, track_id) for key in keys)
            if len(batch_keys) > 400_000:
                conn.executemany(
                    "INSERT OR IGNORE INTO fingerprint_keys (key, track_id) VALUES (?, ?)", batch_keys
                )
                batch_keys = []
        conn.executemany("INSERT OR IGNORE INTO fingerprint_keys (key, track_id) VALUES (?, ?)", batch_keys)
        conn.executemany(
            "INSERT INTO track_hashes (track_id, size, mtime, audio_hash, fingerprint, fingerprint_seconds) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            batch_rows,
        )
    build = time.perf_counter() - started
    library.checkpoint()
    started = time.perf_counter()
    sets = duplicates.fingerprint_groups(library)
    seconds = time.perf_counter() - started
    found = {i for s in sets for i in s}
    library.close()
    return {
        "tracks": len(ids),
        "planted_groups": groups,
        "groups_found": len(sets),
        "planted_found": round(len(found & planted) / len(planted), 4),
        "false_members": len(found - planted),
        "index_build_seconds": round(build, 1),
        "seconds": round(seconds, 2),
        "target_seconds": 60,
    }


def bench_relink(moved: int = 10_000, files: int = 100_000) -> dict[str, object]:
    from crate_app.domain.track import ScannedFile, TagInfo
    from crate_app.hygiene import relink
    from crate_app.library.audiohash import audio_hash
    from crate_app.store import writer

    base = Path(tempfile.mkdtemp(prefix="crate-relink-bench-"))
    folder = base / "found"
    rng = random.Random(3)
    frame = b"\xff\xfb\x90\x64" + bytes(413)  # an MPEG-1 layer III frame header and a frame's worth
    paths = []
    for i in range(files):
        sub = folder / f"{i % 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"{i:06d}.mp3"
        path.write_bytes(frame * rng.randint(2, 12) + os.urandom(rng.randint(1, 3000)))
        paths.append(str(path))
    library = open_library(base / "lib.sqlite")
    movers = set(rng.sample(range(files), moved))
    items, hashes = [], []
    for i, path in enumerate(paths):
        size = os.path.getsize(path)
        where = f"/old/place/{i:06d}.mp3" if i in movers else path
        items.append(ScannedFile(where, size, 0.0, TagInfo(format="mp3", title=f"t{i}", duration=1.0)))
        if i in movers:
            hashes.append((where, size, audio_hash(path)))
    writer.upsert_scanned(library, items)
    with library.write() as conn:
        conn.execute("UPDATE tracks SET status = 'missing' WHERE path LIKE '/old/place/%'")
        conn.executemany(
            "INSERT INTO track_hashes (track_id, size, mtime, audio_hash) "
            "SELECT id, ?, 0, ? FROM tracks WHERE path = ?",
            [(size, digest, where) for where, size, digest in hashes],
        )
    os.system("sync")
    started = time.perf_counter()
    plan = relink.plan_relink(library, str(folder))
    relink.apply_relink(library, plan.relinked)
    seconds = time.perf_counter() - started
    library.close()
    shutil.rmtree(base)
    return {
        "moved": moved,
        "files_in_folder": files,
        "relinked": len(plan.relinked),
        "ambiguous": len(plan.ambiguous),
        "not_found": len(plan.not_found),
        "seconds": round(seconds, 2),
        "target_seconds": 60,
        "note": "warm page cache, small files",
    }


class Heartbeat:
    """A 5 ms timer on the GUI thread: each tick later than that is how long the window stalled."""

    INTERVAL_MS = 5

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.gaps: list[float] = []
        self.clock = QElapsedTimer()
        self.clock.start()
        self.last = self.clock.elapsed()
        self.timer = QTimer()
        self.timer.setInterval(self.INTERVAL_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.gaps.append(now - self.last)
        self.last = now

    def stop(self) -> None:
        self.timer.stop()

    def figures(self) -> dict[str, float]:
        stalls = [g - self.INTERVAL_MS for g in self.gaps] or [0.0]
        return {
            "gui_stall_ms_p50": percentile(stalls, 50),
            "gui_stall_ms_p99": percentile(stalls, 99),
            "gui_stall_ms_max": max(stalls),
        }


def bench_backup(count: int) -> dict[str, object]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from crate_app.hygiene import backup
    from crate_app.services.backup_service import BackupService

    if os.environ.get("CRATE_BENCH_LIBRARY"):  # any library file (e.g. while another benchmark writes)
        path = Path(os.environ["CRATE_BENCH_LIBRARY"])
    else:
        library = _big_library(count)
        library.checkpoint()
        path = library.path
        library.close()
    size_mb = path.stat().st_size / 1e6
    root = Path(tempfile.mkdtemp(prefix="crate-backup-bench-"))
    app = QApplication.instance() or QApplication([])
    service = BackupService(path, keep=2, root=root)
    heartbeat = Heartbeat()
    done: list[object] = []
    service.backup_finished.connect(done.append)
    service.backup_failed.connect(done.append)
    started, cpu_started = time.perf_counter(), time.process_time()
    service.backup_now()
    while not done:
        app.processEvents()
        time.sleep(0.001)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started  # this process (GUI thread + backup thread)
    heartbeat.stop()
    result = done[0]
    shutil.rmtree(root)
    return {
        "library_mb": round(size_mb),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "load_1min_after": round(os.getloadavg()[0], 2),
        "target_seconds": 15,
        "ok": isinstance(result, backup.BackupInfo),
        **heartbeat.figures(),
        "target_p99_ms": 50,
    }


def bench_watch(files: int = 2000) -> dict[str, object]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from audiofactory import write_audio
    from PySide6.QtWidgets import QApplication

    from crate_app.services.jobs import JobRunner
    from crate_app.services.scan_service import ScanService
    from crate_app.services.watch_service import WatchService

    base = Path(tempfile.mkdtemp(prefix="crate-watch-bench-"))
    staging, root = base / "staging", base / "music"
    root.mkdir()
    for i in range(files):
        write_audio(staging / f"{i:05d}.mp3", {"artist": f"Artist {i % 97}", "title": f"Title {i}"})
    app = QApplication.instance() or QApplication([])
    library = open_library(base / "lib.sqlite")
    library.add_root(str(root))
    runner = JobRunner()
    scans = ScanService(runner, library)
    service = WatchService(scans, library)
    ready: list[object] = []
    service.watching.connect(ready.append)
    service.start()
    while not ready:
        app.processEvents()
        time.sleep(0.01)
    copy_started = time.perf_counter()
    pool = root / "record pool"
    pool.mkdir()
    for path in sorted(staging.iterdir()):  # a record pool's download: file after file
        shutil.copyfile(path, pool / path.name)
    copy_ended = time.perf_counter()
    while library.count() < files and time.perf_counter() - copy_ended < 120:
        app.processEvents()
        time.sleep(0.01)
    seconds = time.perf_counter() - copy_ended
    count = library.count()
    service.stop()
    runner.shutdown()
    library.close()
    shutil.rmtree(base)
    return {
        "files": files,
        "in_library": count,
        "copy_seconds": round(copy_ended - copy_started, 2),
        "seconds_after_copy_ended": round(seconds, 2),
        "target_seconds": 15,
    }


def bench_hashing(files: int = 500) -> dict[str, object]:
    from audiofactory import melody, write_audio

    from crate_app.library.audiohash import audio_hash

    base = Path(tempfile.mkdtemp(prefix="crate-hash-bench-"))
    formats = ("mp3", "flac", "m4a", "ogg", "wav")
    originals = [
        write_audio(base / f"o.{fmt}", {"title": "x"}, samples=melody(1, 60.0), rate=44100) for fmt in formats
    ]
    paths = []
    for i in range(files):
        source = originals[i % len(originals)]
        target = base / f"{i:05d}{source.suffix}"
        shutil.copyfile(source, target)
        paths.append(target)
    total = sum(p.stat().st_size for p in paths)
    started = time.perf_counter()
    for p in paths:
        with open(p, "rb") as handle:
            while handle.read(1 << 20):
                pass
    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for p in paths:
        audio_hash(str(p))
    hash_seconds = time.perf_counter() - started
    shutil.rmtree(base)
    return {
        "files": files,
        "mb": round(total / 1e6),
        "read_mb_s": round(total / 1e6 / read_seconds),
        "hash_mb_s": round(total / 1e6 / hash_seconds),
        "hash_files_s": round(files / hash_seconds),
        "note": "warm page cache: hashing is CPU-bound here; from a disk it runs at the disk's speed",
    }


def bench_hashing_job(files: int = 500) -> dict[str, object]:
    """The background pass as the window runs it (HashService on its pool thread), after a scan of the
    same files: throughput against reading the files, CPU time, and a pause in the middle."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from audiofactory import melody, write_audio
    from PySide6.QtWidgets import QApplication

    from crate_app.library.scanner import scan_paths
    from crate_app.services.hash_service import HashService

    base = Path(tempfile.mkdtemp(prefix="crate-hashjob-bench-"))
    originals = [
        write_audio(base / f"o.{fmt}", {"title": "x"}, samples=melody(1, 60.0), rate=44100)
        for fmt in ("mp3", "flac", "m4a", "ogg", "wav")
    ]
    music = base / "music"
    music.mkdir()
    for i in range(files):
        source = originals[i % len(originals)]
        shutil.copyfile(source, music / f"{i:05d}{source.suffix}")
    total = sum(p.stat().st_size for p in music.iterdir())
    started = time.perf_counter()
    for p in music.iterdir():
        with open(p, "rb") as handle:
            while handle.read(1 << 20):
                pass
    read_seconds = time.perf_counter() - started
    library = open_library(base / "lib.sqlite")
    started = time.perf_counter()
    scan_paths(library, [music], workers=0)
    scan_seconds = time.perf_counter() - started
    app = QApplication.instance() or QApplication([])

    heartbeat = Heartbeat()
    service = HashService(library)
    done: list[object] = []
    service.finished.connect(done.append)
    progress: list[object] = []
    service.progress.connect(progress.append)
    cpu_started, started = time.process_time(), time.perf_counter()
    service.start()
    paused_for = 0.0
    while not done:
        app.processEvents()
        time.sleep(0.002)
        if not paused_for and progress and progress[-1].done >= files // 2:
            service.set_paused(True)  # a pause in the middle: no file is hashed while it lasts
            before = progress[-1].done
            pause_started = time.perf_counter()
            while time.perf_counter() - pause_started < 1.0:
                app.processEvents()
                time.sleep(0.01)
            advanced_while_paused = progress[-1].done - before
            paused_for = time.perf_counter() - pause_started
            service.set_paused(False)
    seconds = time.perf_counter() - started - paused_for
    cpu = time.process_time() - cpu_started
    heartbeat.stop()
    service.shutdown()
    summary = done[0]
    library.close()
    shutil.rmtree(base)
    return {
        "files": files,
        "mb": round(total / 1e6),
        "read_mb_s": round(total / 1e6 / read_seconds),
        "scan_seconds_workers_0": round(scan_seconds, 2),
        "pass_seconds_without_pause": round(seconds, 2),
        "pass_cpu_seconds": round(cpu, 2),
        "pass_mb_s": round(total / 1e6 / seconds),
        "pass_files_s": round(files / seconds),
        "hashed": summary.hashed,
        "failed": summary.failed,
        "files_done_during_1s_pause": advanced_while_paused,
        **heartbeat.figures(),
        "note": "warm page cache (files just written): reading is not disk-bound here",
    }


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "tags"
    numbers = [int(a) for a in sys.argv[2:]]
    benches = {
        "tags": bench_tags,
        "fingerprint": bench_fingerprint,
        "relink": bench_relink,
        "backup": bench_backup,
        "watch": bench_watch,
        "hashing": bench_hashing,
        "hashing_job": bench_hashing_job,
    }
    defaults = {"tags": [1_000_000], "fingerprint": [1_000_000], "backup": [1_000_000]}
    result = benches[which](*(numbers or defaults.get(which, [])))
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({which: result}, indent=2))


if __name__ == "__main__":
    main()
