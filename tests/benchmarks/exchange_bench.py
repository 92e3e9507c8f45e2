"""Benchmark of exports and imports at scale (not part of the default test run).

Builds (once, cached) a library of N made-up tracks with C crates of ~200 tracks each, then runs each
step in its own process through ``crate-cli`` and prints its wall time and peak RSS as JSON::

    .venv/bin/python tests/benchmarks/exchange_bench.py [--tracks 1000000] [--crates 5000]

Targets (issue 12, 2 cores): rekordbox XML export <= 60 s with peak RSS <= 400 MB, Traktor NML
likewise, M3U8 for 5,000 crates <= 20 s, import of that rekordbox XML <= 120 s; the Engine DJ export has
no target and is measured too.  The steps run the crate_app found first on the path (set PYTHONPATH to a
worktree to measure it).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

STEPS = {
    "export-rekordbox": ["export", "rekordbox", "{out}/collection.xml"],
    "export-traktor": ["export", "traktor", "{out}/traktor"],
    "export-m3u8": ["export", "m3u8", "{out}/m3u8"],
    "export-engine": ["export", "engine", "{out}/engine"],
    "import-rekordbox": ["import", "rekordbox", "{out}/collection.xml"],
}
# Engine DJ has no target in the issue; it is measured beside the others.
TARGETS = {"export-rekordbox": 60, "export-traktor": 60, "export-m3u8": 20, "import-rekordbox": 120}


def build(path: Path, tracks: int, crates: int, seed: int = 7) -> None:
    """The library with ``tracks`` tracks (table_bench's generator) and ``crates`` crates."""
    from table_bench import build_library

    from crate_app import crates as crates_api

    library = build_library(path, tracks, seed)
    for node in crates_api.children_of(library, None):  # crates an earlier import step made
        if node.kind == "folder" and node.name == "rekordbox":
            crates_api.delete_node(library, node.id)
    have = sum(1 for n in crates_api.list_nodes(library, with_counts=False) if n.kind == "crate")
    if have < crates:
        rng = random.Random(seed)
        started = time.perf_counter()
        ids = [i for (i,) in library.execute("SELECT id FROM tracks")]
        for number in range(have, crates):
            path_text = f"Folder {number // 100:03d}/Crate {number:05d}"
            crate = crates_api.create_path(library, path_text, "crate")
            crates_api.add_tracks(library, crate.id, rng.sample(ids, rng.randint(100, 300)))
            if number % 500 == 499:
                print(f"  built {number + 1:,} crates in {time.perf_counter() - started:.0f} s", flush=True)
        library.checkpoint()
    library.close()


def run_step(step: str, library: Path, out: Path) -> dict[str, object]:
    """Run one step in this process; report its time and this process's peak RSS."""
    from crate_app.cli.main import main

    args = [a.format(out=out) for a in STEPS[step]]
    started = time.perf_counter()
    code = main(["--library", str(library), *args, "--json"])
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime  # the machine is shared: CPU time says what the work costs
    return {"step": step, "exit": code, "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
            "peak_rss_mb": round(peak_rss_kb(usage) / 1024)}  # fmt: skip


def peak_rss_kb(usage: resource.struct_rusage) -> int:
    """This process's peak resident memory.  Linux's ru_maxrss carries over the peak of the process that
    started this one (the fork before exec keeps it), so the benchmark's own build of the library showed
    as every step's peak; /proc's VmHWM is this program's own."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--crates", type=int, default=5_000)
    parser.add_argument("--library", type=Path)
    parser.add_argument("--steps", nargs="*", default=list(STEPS))
    parser.add_argument("--step", help=argparse.SUPPRESS)  # internal: run one step in this process
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from crate_app.paths import cache_dir

    path = args.library or cache_dir() / "bench" / f"exchange-{args.tracks}-{args.crates}.sqlite"
    if args.step:
        print(json.dumps(run_step(args.step, path, args.out)))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    build(path, args.tracks, args.crates)
    elapsed = time.perf_counter() - started
    print(f"library ready ({args.tracks:,} tracks, {args.crates:,} crates) in {elapsed:.0f} s")
    out = path.parent / f"exchange-out-{args.tracks}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    results = []
    for step in args.steps:
        done = subprocess.run(
            [sys.executable, __file__, "--library", str(path), "--step", step, "--out", str(out),
             "--tracks", str(args.tracks), "--crates", str(args.crates)],
            capture_output=True, text=True,
        )  # fmt: skip
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        result = json.loads(lines[-1]) if lines else {"step": step, "error": done.stderr.strip()[-300:]}
        if len(lines) >= 2:
            result["summary"] = json.loads(lines[0])
        result["target_s"] = TARGETS.get(step)
        if step in ("export-rekordbox", "export-traktor"):
            result["target_rss_mb"] = 400
        results.append(result)
        print(json.dumps(result), flush=True)
    sizes = {
        p.name: round(p.stat().st_size / 1e6)
        for pattern in ("*.xml", "*.nml", "m.db")
        for p in out.rglob(pattern)
    }
    print(json.dumps({"files_mb": sizes}))


if __name__ == "__main__":
    main()
