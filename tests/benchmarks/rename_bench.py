"""Batch rename benchmark: N moves through the real journal against a bare os.rename loop.

    python tests/benchmarks/rename_bench.py [--files 100000] [--dir DIR]
    python tests/benchmarks/rename_bench.py --crash-trials 50 [--crash-files 300]

The first mode creates N small files in one filesystem, puts them in a library, plans a
``{artist}/{album}/{title}`` rename (planning and journal are timed separately), executes it through
``executor.run_batch`` and, on a second copy of the same files, runs a bare ``os.makedirs`` +
``os.rename`` loop over the same source -> target pairs.  It prints the figures as JSON.
Target: 100,000 moves in <= 60 s.

The second mode runs many kill/resume trials of a real ``crate-cli rename`` (SIGKILL at random
moments) and prints how many ended with nothing lost (target: all).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from crate_app.domain.track import ScannedFile, TagInfo  # noqa: E402
from crate_app.rename import executor  # noqa: E402
from crate_app.rename.batch import RenameRequest, plan_for_tracks, select_tracks  # noqa: E402
from crate_app.store import writer  # noqa: E402
from crate_app.store.library import open_library  # noqa: E402


def make_files(root: Path, count: int) -> list[ScannedFile]:
    items = []
    for i in range(count):
        folder = root / f"incoming{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"track{i:06d}.mp3"
        path.write_bytes(i.to_bytes(4, "little") * 64)
        tags = TagInfo(format="mp3", artist=f"Artist {i % 997}", album=f"Album {i % 31}", title=f"Title {i}")
        items.append(ScannedFile(str(path), 256, path.stat().st_mtime, tags))
    return items


def bench_moves(count: int, base: Path) -> dict[str, object]:
    journal_root, bare_root = base / "journal" / "music", base / "bare" / "music"
    items = make_files(journal_root, count)
    make_files(bare_root, count)
    library = open_library(base / "journal" / "lib.sqlite")
    library.add_root(str(journal_root))
    for start in range(0, count, 5000):
        writer.upsert_scanned(library, items[start : start + 5000])

    started = time.perf_counter()
    tracks = select_tracks(library)
    plan = plan_for_tracks(library, tracks, RenameRequest("{artist}/{album}/{title}"))
    plan_seconds = time.perf_counter() - started
    started = time.perf_counter()
    batch = executor.start_batch(library, plan, description="bench")
    journal_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = executor.run_batch(library, batch)
    run_seconds = time.perf_counter() - started
    assert result.status == "done" and result.failed == 0, result.errors[:5]

    def on_bare_copy(path: str) -> str:
        return path.replace(str(journal_root), str(bare_root), 1)

    pairs = [(on_bare_copy(m.src), on_bare_copy(m.dst)) for m in plan.moves]
    started = time.perf_counter()
    for src, dst in pairs:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.rename(src, dst)
    bare_seconds = time.perf_counter() - started
    library.close()
    total = plan_seconds + journal_seconds + run_seconds
    return {
        "files": count,
        "moved": result.moved,
        "plan_seconds": round(plan_seconds, 2),
        "journal_seconds": round(journal_seconds, 2),
        "execute_seconds": round(run_seconds, 2),
        "total_seconds": round(total, 2),
        "bare_rename_seconds": round(bare_seconds, 2),
        "execute_vs_bare_ratio": round(run_seconds / bare_seconds, 1) if bare_seconds else None,
        "moves_per_second": round(result.moved / run_seconds) if run_seconds else None,
        "target_total_seconds": 60 * count / 100_000,
        "meets_target": total <= 60 * count / 100_000,
    }


def crash_trials(trials: int, files: int, seed: int) -> dict[str, object]:
    from rename_crash_harness import run_trials

    with tempfile.TemporaryDirectory(prefix="crate-crash-") as tmp:
        started = time.perf_counter()
        try:
            report = run_trials(Path(tmp), files=files, trials=trials, seed=seed)
        except AssertionError as exc:
            return {"trials": trials, "nothing_lost": False, "failure": str(exc)}
        return {
            "trials": report.trials,
            "files": files,
            "killed_mid_batch": report.interrupted_mid_batch,
            "ended_with_nothing_lost": report.consistent,
            "undo_restored_layout": report.undo_restored,
            "seconds": round(time.perf_counter() - started, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="where to create the files (default: a temp folder)")
    parser.add_argument("--crash-trials", type=int, default=0, help="run kill/resume trials instead")
    parser.add_argument("--crash-files", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"# {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    if args.crash_trials:
        print(json.dumps(crash_trials(args.crash_trials, args.crash_files, args.seed)))
        return
    base = Path(tempfile.mkdtemp(prefix="crate-rename-bench-", dir=args.dir))
    try:
        print(json.dumps(bench_moves(args.files, base)))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
