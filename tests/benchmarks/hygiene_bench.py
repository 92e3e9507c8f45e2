"""Benchmarks of library hygiene at scale (not part of the default test run); prints JSON figures.

    .venv/bin/python tests/benchmarks/hygiene_bench.py tags [N]         # tag duplicates over N tracks
    .venv/bin/python tests/benchmarks/hygiene_bench.py fingerprint [N]  # grouping N fingerprints
    .venv/bin/python tests/benchmarks/hygiene_bench.py relink [MOVED] [FILES]
    .venv/bin/python tests/benchmarks/hygiene_bench.py backup [N]       # backup + GUI stall while it runs
    .venv/bin/python tests/benchmarks/hygiene_bench.py watch [FILES] [SECONDS]  # a burst, copied over SECONDS
    .venv/bin/python tests/benchmarks/hygiene_bench.py hashing [FILES]  # audio hashing vs reading the files
    .venv/bin/python tests/benchmarks/hygiene_bench.py hashing_job [FILES]  # the background pass, paused
    .venv/bin/python tests/benchmarks/hygiene_bench.py hash_query [N]   # the pass's "what is left to hash"

Big libraries are built once with table_bench.build_library (made-up tracks) and kept in
$CRATE_BENCH_DIR (default /tmp/crate-hygiene-bench).  Every figure comes with the CPU time of this
process beside the wall time, and `uptime`'s load before and after: the machine is shared.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent.parent)]  # this checkout first

from table_bench import build_library, percentile  # noqa: E402

from crate_app.store.library import Library, open_library  # noqa: E402

BENCH_DIR = Path(os.environ.get("CRATE_BENCH_DIR", "/tmp/crate-hygiene-bench"))


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


class Clock:
    """Wall and CPU time of a block: ``with Clock() as c: ...; c.figures()``."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu_seconds() - self.cpu

    def figures(self, name: str = "") -> dict[str, float]:
        prefix = f"{name}_" if name else ""
        return {f"{prefix}seconds": round(self.wall, 2), f"{prefix}cpu_seconds": round(self.cpu, 2)}


def _big_library(count: int) -> Library:
    path = BENCH_DIR / f"hygiene-{count}.sqlite"
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
    library.checkpoint()
    with Clock() as search:  # as the window and crate-cli run it: keys of new tracks, then the query
        sets = duplicates.find_duplicates(library, "tags")
    with Clock() as refresh:  # nothing new: the query alone
        made = duplicates.refresh_tag_keys(library)
    with Clock() as query:
        again = duplicates.tag_groups(library)
    cold: dict[str, object] = {}
    if os.environ.get("CRATE_BENCH_COLD_KEYS"):  # every key made again (a library from before the keys)
        with library.write() as conn:
            conn.execute("DELETE FROM track_tag_keys")
        with Clock() as keys:
            cold["keys_made_cold"] = duplicates.refresh_tag_keys(library)
        cold.update(keys.figures("cold_keys"))
    library.close()
    return {
        "tracks": count,
        "planted": len(rows),
        "sets": len(sets),
        **search.figures(),
        "keys_made_when_nothing_new": made,
        **refresh.figures("refresh_nothing_new"),
        "groups_query_alone": len(again),
        **query.figures("query_alone"),
        **cold,
        "target_seconds": 10,
    }


def bench_fingerprint(count: int, groups: int = 10_000) -> dict[str, object]:
    import numpy as np

    from crate_app.hygiene.fingerprint import index_keys, to_blob

    library = _big_library(count)
    rng = np.random.default_rng(5)
    ids = [i for (i,) in library.execute("SELECT id FROM tracks ORDER BY id LIMIT ?", (count,))]
    started = time.perf_counter()
    planted_before = {
        i for (i,) in library.execute("SELECT track_id FROM track_hashes WHERE fingerprint IS NOT NULL")
    }
    keys_before = library.execute("SELECT COUNT(*) FROM fingerprint_keys").fetchone()[0]
    if not os.environ.get("CRATE_BENCH_REBUILD") and planted_before and keys_before >= 8 * count:
        return _fingerprint_figures(library, len(ids), groups, planted_before, None)  # built before
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
    return _fingerprint_figures(library, len(ids), groups, planted, build)


def _fingerprint_figures(
    library: Library, tracks: int, groups: int, planted: set[int], build: float | None
) -> dict[str, object]:
    from crate_app.hygiene import duplicates

    library.checkpoint()
    with Clock() as grouping:
        sets = duplicates.fingerprint_groups(library)
    found = {i for s in sets for i in s}
    keys = library.execute("SELECT COUNT(*) FROM fingerprint_keys").fetchone()[0]
    library.close()
    return {
        "tracks": tracks,
        "index_keys": keys,
        "planted_groups": groups,
        "groups_found": len(sets),
        "planted_found": round(len(found & planted) / len(planted), 4),
        "false_members": len(found - planted),
        "index_build_seconds": round(build, 1) if build is not None else "built by an earlier run",
        **grouping.figures(),
        "target_seconds": 60,
    }


def duplicates_module():
    from crate_app.hygiene import duplicates

    return duplicates


def _mp3_frames(data: bytes) -> list[bytes]:
    """The MPEG audio frames of an encoded MP3 (MPEG-1/2 layer III), without LAME's Info frame."""
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
    kbps = {
        3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
        2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    }
    frames, position = [], 0
    if data[:3] == b"ID3":
        position = 10 + ((data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9])
    while position + 4 <= len(data):
        header = data[position : position + 4]
        if header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
            break
        version = (header[1] >> 3) & 3
        bitrate = kbps[3 if version == 3 else 2][header[2] >> 4] * 1000
        rate = rates[version][(header[2] >> 2) & 3]
        length = (144 if version == 3 else 72) * bitrate // rate + ((header[2] >> 1) & 1)
        frame = data[position : position + length]
        if not frames and (b"Info" in frame[:64] or b"Xing" in frame[:64]):
            position += length
            continue
        frames.append(frame)
        position += length
    return frames


def _id3(artist: str, title: str, comment: str = "") -> bytes:
    """A small ID3v2.3 tag (TPE1, TIT2, optionally COMM) made by hand: microseconds, not mutagen's ms."""

    def frame(name: str, text: str, prefix: bytes = b"") -> bytes:
        body = b"\x01" + prefix + b"\xff\xfe" + text.encode("utf-16-le")
        return name.encode() + len(body).to_bytes(4, "big") + b"\0\0" + body

    body = frame("TPE1", artist) + frame("TIT2", title)
    if comment:
        body += b"COMM" + (len(comment) * 2 + 8).to_bytes(4, "big") + b"\0\0\x01eng\xff\xfe\0\0"
        body += comment.encode("utf-16-le")
    size = len(body)
    synchsafe = bytes(((size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F))
    return b"ID3\x03\x00\x00" + synchsafe + body


_WORDS = ("Night", "Shift", "Groove", "Deep", "Acid", "Sunrise", "Tunnel", "Echo", "Pulse",
          "Velvet", "Signal", "Drift", "Lost", "Gold", "Ritual", "Motion", "Static", "Bloom", "Nerve",
          "Tide")  # fmt: skip


def relink_folder(files: int) -> tuple[Path, list[dict[str, object]]]:
    """``files`` real MP3 files (2-7 s, 22.05 kHz mono, 48 kbps, ID3v2 tags) in 500 folders, made once and
    kept in BENCH_DIR: each splices the frames of two of 300 encoded melodies at its own points, so that
    every file's audio differs (a distinct audio hash) and decodes.  Returns the folder and, per file,
    its path, tags and the splice that made it."""
    from audiofactory import encode, melody

    root = BENCH_DIR / f"relink-{files}"
    manifest = root / "manifest.json"
    if manifest.exists():
        return root / "found", json.loads(manifest.read_text())
    rng = random.Random(3)
    clips = [_mp3_frames(encode(melody(seed, 7.0, 22050, 1), 22050, "mp3", 48_000)) for seed in range(300)]
    made: set[tuple[int, int, int, int]] = set()
    entries = []
    for i in range(files):
        while True:
            a, b = rng.randrange(300), rng.randrange(300)
            cut_a, cut_b = rng.randint(40, 150), rng.randint(0, 100)
            if (a, b, cut_a, cut_b) not in made and a != b:
                made.add((a, b, cut_a, cut_b))
                break
        artist = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}"
        title = " ".join(rng.sample(_WORDS, rng.randint(1, 3)))
        path = root / "found" / f"{i % 500:03d}" / f"{i:06d} {title}.mp3"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_id3(artist, title) + b"".join(clips[a][:cut_a] + clips[b][cut_b:]))
        seconds = (cut_a + len(clips[b]) - cut_b) * 576 / 22050
        entries.append(
            {"path": str(path), "artist": artist, "title": title, "seconds": round(seconds, 3),
             "splice": [a, b, cut_a, cut_b]}
        )  # fmt: skip
    manifest.write_text(json.dumps(entries))
    return root / "found", entries


def bench_relink(
    moved: int = 10_000, files: int = 100_000, retagged: int = 100, reencoded: int = 50
) -> dict[str, object]:
    """Relinking ``moved`` missing tracks among ``files`` real files: most moved as they were (size and
    audio hash match); ``retagged`` were also re-tagged (another size, the same audio hash);
    ``reencoded`` were also encoded again (only their fingerprint, stored before, matches).  The files
    are made once; each run moves the re-tagged and re-encoded ones' copies into a scratch folder."""
    from audiofactory import encode

    from crate_app.domain.track import ScannedFile, TagInfo
    from crate_app.hygiene import relink
    from crate_app.hygiene.fingerprint import fingerprint_file, to_blob
    from crate_app.library.audiohash import audio_hash
    from crate_app.store import writer

    with Clock() as making:
        folder, entries = relink_folder(files)
    for aside in folder.rglob("*.aside"):  # a run that stopped half-way
        aside.rename(aside.with_suffix(""))
    base = Path(tempfile.mkdtemp(prefix="crate-relink-bench-", dir=BENCH_DIR))
    changed = folder / "changed"  # re-tagged and re-encoded copies, made for this run
    shutil.rmtree(changed, ignore_errors=True)
    changed.mkdir()
    rng = random.Random(4)
    movers = rng.sample(range(files), moved)
    special = movers[: retagged + reencoded]
    originals = {}  # file index -> (size, audio hash, fingerprint) of the file as the library knew it
    with Clock() as preparing:
        for n, i in enumerate(special):  # the library knew the original; the folder has a changed copy
            source = Path(entries[i]["path"])
            data = source.read_bytes()
            fingerprint = to_blob(fingerprint_file(str(source)))
            originals[i] = (len(data), audio_hash(str(source)), fingerprint)
            target = changed / f"{i:06d}.mp3"
            if n < retagged:
                payload = data[len(_id3(entries[i]["artist"], entries[i]["title"])) :]
                target.write_bytes(_id3(entries[i]["artist"], entries[i]["title"], "re-tagged") + payload)
            else:
                import av
                import numpy as np

                with av.open(str(source)) as container:
                    pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
                reencoded_bytes = encode(pcm[np.newaxis, :].astype(np.float32), 22050, "mp3", 64_000)
                target.write_bytes(_id3(entries[i]["artist"], entries[i]["title"]) + reencoded_bytes)
            source.rename(source.with_suffix(".mp3.aside"))  # the original is gone from the folder
        for i in movers[retagged + reencoded :]:
            path = entries[i]["path"]
            originals[i] = (os.path.getsize(path), audio_hash(path), None)
    library = open_library(base / "lib.sqlite")
    mover_set = set(movers)
    # CRATE_BENCH_RELINK_UNKNOWN=1: the folder's other files are not in the library (a download folder,
    # not the music folder): every one is a candidate, and the file names are what narrows the search.
    unknown = bool(os.environ.get("CRATE_BENCH_RELINK_UNKNOWN"))
    items = []
    for i, entry in enumerate(entries):
        path = str(entry["path"])
        if unknown and i not in mover_set:
            continue
        if i in mover_set:
            size = originals[i][0]
            where = f"/old/place/{i:06d}.mp3"
        else:
            size, where = os.path.getsize(path), path
        tags = TagInfo(
            format="mp3", codec="mp3", artist=str(entry["artist"]), title=str(entry["title"]),
            duration=float(entry["seconds"]), bitrate=48, sample_rate=22050, channels=1,
        )  # fmt: skip
        items.append(ScannedFile(where, size, 0.0, tags))
    writer.upsert_scanned(library, items)
    with library.write() as conn:
        conn.execute("UPDATE tracks SET status = 'missing' WHERE path LIKE '/old/place/%'")
        conn.executemany(
            "INSERT INTO track_hashes (track_id, size, mtime, audio_hash, fingerprint) "
            "SELECT id, ?, 0, ?, ? FROM tracks WHERE path = ?",
            [
                (size, digest, blob, f"/old/place/{i:06d}.mp3")
                for i, (size, digest, blob) in originals.items()
            ],
        )
    library.checkpoint()
    os.system("sync")
    with Clock() as relinking:
        plan = relink.plan_relink(library, str(folder))
        relink.apply_relink(library, plan.relinked)
    right = sum(1 for _id, old, new in plan.relinked if Path(new).name[:6] == Path(old).name[:6])
    kind = {i: "retagged" for i in special[:retagged]} | {i: "reencoded" for i in special[retagged:]}
    ambiguous_kinds: dict[str, int] = {}
    for _id, old, _candidates in plan.ambiguous:
        what = kind.get(int(Path(old).name[:6]), "moved as it was")
        ambiguous_kinds[what] = ambiguous_kinds.get(what, 0) + 1
    example = [(Path(old).name, [Path(c).name for c in cands][:4]) for _i, old, cands in plan.ambiguous[:2]]
    library.close()
    for i in special:  # put the originals back for the next run
        source = Path(entries[i]["path"])
        source.with_suffix(".mp3.aside").rename(source)
    shutil.rmtree(changed)
    shutil.rmtree(base)
    return {
        "moved": moved,
        "of_which_retagged": retagged,
        "of_which_reencoded": reencoded,
        "files_in_folder": files,
        "other_files_in_the_library": not unknown,
        "relinked": len(plan.relinked),
        "relinked_to_the_right_file": right,
        "ambiguous": len(plan.ambiguous),
        "ambiguous_by_kind": ambiguous_kinds,
        "ambiguous_examples": example,
        "not_found": len(plan.not_found),
        **relinking.figures(),
        "plan_seconds_reported": plan.seconds,
        **making.figures("folder_made_or_found"),
        **preparing.figures("preparing"),
        "target_seconds": 60,
        "note": "real MP3 files (2-7 s each) in the page cache; the relink's own CPU time",
    }


def bench_hash_query(count: int, changed: int = 2_000) -> dict[str, object]:
    """The hash pass's question "which tracks still need an audio hash?" at ``count`` tracks, all hashed
    but ``changed`` (a scan saw them change): through the queue, and by the full scan it replaced."""
    from crate_app.hygiene import hashing

    with Clock() as opening:  # the first open of a library from before the queue fills it (migration)
        library = _big_library(count)
    with Clock() as hashing_all:  # every track hashed (made-up digests), as after the first pass
        with library.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO track_hashes (track_id, size, mtime, audio_hash, fingerprint, "
                "fingerprint_seconds) SELECT t.id, t.size, t.mtime, 'p:' || t.id, h.fingerprint, "
                "h.fingerprint_seconds FROM tracks t LEFT JOIN track_hashes h ON h.track_id = t.id"
            )
        pruned = hashing.prune_hash_queue(library)
    library.checkpoint()
    with Clock() as idle:
        nothing = hashing.tracks_to_hash(library)
    with library.write() as conn:  # a rescan saw these files change
        conn.execute(
            "UPDATE tracks SET mtime = mtime + 1 "
            "WHERE id IN (SELECT id FROM tracks ORDER BY random() LIMIT ?)",
            (changed,),
        )
    with Clock() as queued:
        todo = hashing.tracks_to_hash(library)
    full_sql = (
        "SELECT t.id FROM tracks t LEFT JOIN track_hashes h ON h.track_id = t.id WHERE t.status = 'ok' "
        "AND (h.track_id IS NULL OR h.size != t.size OR h.mtime != t.mtime "
        "OR (h.error IS NULL AND h.audio_hash IS NULL)) ORDER BY t.folder, t.id"
    )
    with Clock() as full:
        by_scan = [i for (i,) in library.execute(full_sql)]
    plan = [row[-1] for row in library.execute("EXPLAIN QUERY PLAN SELECT t.id FROM hash_queue q "
                                                "CROSS JOIN tracks t ON t.id = q.track_id")]  # fmt: skip
    library.close()
    return {
        "tracks": count,
        **opening.figures("open_library"),
        "queue_pruned_after_hashing_all": pruned,
        **hashing_all.figures("hash_rows_written"),
        "todo_when_all_hashed": len(nothing),
        **idle.figures("query_all_hashed"),
        "changed": changed,
        "todo_found": len(todo),
        "same_as_full_scan": todo == by_scan,
        **queued.figures("query_with_queue"),
        **full.figures("query_full_scan_it_replaced"),
        "plan": plan,
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


def bench_watch(files: int = 2000, copy_seconds: float = 0.0) -> dict[str, object]:
    """A burst of ``files`` new files copied into a watched folder (spread over ``copy_seconds``, as a
    download does; 0: as fast as the disk goes), until the library has them all."""
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
    scans: list[int] = []  # files handed to each scan
    service.changes_queued.connect(scans.append)
    service.start()
    while not ready:
        app.processEvents()
        time.sleep(0.01)
    cpu_started = cpu_seconds()
    copy_started = time.perf_counter()
    pool = root / "record pool"
    pool.mkdir()
    for number, path in enumerate(sorted(staging.iterdir())):  # a record pool's download: file after file
        shutil.copyfile(path, pool / path.name)
        if copy_seconds:
            while time.perf_counter() - copy_started < copy_seconds * (number + 1) / files:
                app.processEvents()
                time.sleep(0.002)
    copy_ended = time.perf_counter()
    while library.count() < files and time.perf_counter() - copy_ended < 120:
        app.processEvents()
        time.sleep(0.01)
    seconds = time.perf_counter() - copy_ended
    cpu = cpu_seconds() - cpu_started
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
        "cpu_seconds_copy_and_scans": round(cpu, 2),
        "scans": len(scans),
        "files_per_scan": scans,
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
    numbers = [float(a) if "." in a else int(a) for a in sys.argv[2:]]
    benches = {
        "tags": bench_tags,
        "fingerprint": bench_fingerprint,
        "relink": bench_relink,
        "backup": bench_backup,
        "watch": bench_watch,
        "hashing": bench_hashing,
        "hashing_job": bench_hashing_job,
        "hash_query": bench_hash_query,
    }
    defaults = {
        "tags": [1_000_000],
        "fingerprint": [1_000_000],
        "backup": [1_000_000],
        "hash_query": [1_000_000],
    }
    before = uptime()
    result = benches[which](*(numbers or defaults.get(which, [])))
    result["uptime_before"] = before
    result["uptime_after"] = uptime()
    print(json.dumps({which: result}, indent=2))


if __name__ == "__main__":
    main()
