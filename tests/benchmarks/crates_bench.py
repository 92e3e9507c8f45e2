"""Benchmark of crates at scale (not part of the default test run).

A library of N tracks (table_bench's builder), 5,000 crates in nested folders (about 20 tracks each),
one crate of 100,000 tracks and a smart crate matching about 200,000; prints what it measured as
JSON::

    .venv/bin/python tests/benchmarks/crates_bench.py [N] [--library PATH]

The library is copied from table_bench's cached one (built first if missing) and kept, so a second
run skips the set-up.  Times are wall-clock on this machine (shared: see load_average_at_start).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from table_bench import build_library, summary

from crate_app import crates
from crate_app.domain.crates import escape_name, name_key
from crate_app.store.library import Library, open_library
from crate_app.store.view import SortOrder, TrackView

FOLDERS, SUBFOLDERS, CRATES_EACH, TRACKS_EACH = 50, 10, 10, 20  # 5,000 crates, 550 folders
BIG = 100_000
SMART_QUERY = "genre:house OR genre:techno"  # words: the search index (FTS5)
SMART_RANGE_QUERY = "bpm:121-126.5"  # a range on an indexed column
SORTS = ("artist", "title", "album", "genre", "bpm", "key", "duration", "year", "date_added", "path")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


CPU_MS: dict[str, list[float]] = {}  # CPU milliseconds of the read measurements, by name
CPU: dict[str, float] = {}  # CPU seconds of the last timed() call, for the write operations


def timed(function, *args, **kwargs):
    """(value, wall seconds); the CPU seconds this process spent go to CPU["last"]: on a machine
    shared with other jobs the wall time is mostly waiting for a core, the CPU time is not."""
    started, cpu = time.perf_counter(), time.process_time()
    value = function(*args, **kwargs)
    CPU["last"] = time.process_time() - cpu
    return value, time.perf_counter() - started


def make_tree(library: Library, rng: random.Random) -> None:
    """5,000 crates of ~20 random tracks in 50 folders of 10 subfolders, written in one transaction
    (the set-up, not what is measured: the API's own operations are timed below)."""
    max_id = library.execute("SELECT MAX(id) FROM tracks").fetchone()[0]
    now = time.time()
    with library.write() as conn:
        for f in range(FOLDERS):
            folder = f"Folder {f:02d}"
            conn.execute(
                "INSERT INTO crate_nodes (parent_id, name, name_key, kind, position, path, path_key, "
                "created_at, modified_at) VALUES (NULL, ?, ?, 'folder', ?, ?, ?, ?, ?)",
                (folder, name_key(folder), f, escape_name(folder), escape_name(name_key(folder)), now, now),
            )
            folder_id = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            for s in range(SUBFOLDERS):
                sub = f"Sub {s:02d}"
                path = f"{folder}/{sub}"
                conn.execute(
                    "INSERT INTO crate_nodes (parent_id, name, name_key, kind, position, path, path_key, "
                    "created_at, modified_at) VALUES (?, ?, ?, 'folder', ?, ?, ?, ?, ?)",
                    (folder_id, sub, name_key(sub), s, path, path.casefold(), now, now),
                )
                sub_id = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                for c in range(CRATES_EACH):
                    name = f"Crate {c:02d}"
                    crate_path = f"{path}/{name}"
                    conn.execute(
                        "INSERT INTO crate_nodes (parent_id, name, name_key, kind, position, path, path_key, "
                        "track_count, created_at, modified_at) VALUES (?, ?, ?, 'crate', ?, ?, ?, ?, ?, ?)",
                        (sub_id, name, name_key(name), c, crate_path, crate_path.casefold(), TRACKS_EACH, now,
                         now),
                    )  # fmt: skip
                    crate_id = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                    picks = rng.sample(range(1, max_id + 1), TRACKS_EACH)
                    conn.executemany(
                        "INSERT INTO crate_entries (crate_id, track_id, position, added_at) "
                        "VALUES (?, ?, ?, ?)",
                        [(crate_id, track_id, p, now) for p, track_id in enumerate(picks)],
                    )


def run(library: Library, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    results: dict[str, object] = {"tracks": library.count()}
    if not library.execute("SELECT 1 FROM crate_nodes LIMIT 1").fetchone():
        _, seconds = timed(make_tree, library, rng)
        results["setup_tree_s"] = round(seconds, 1)
    results["crates"] = library.execute("SELECT COUNT(*) FROM crate_nodes WHERE kind = 'crate'").fetchone()[0]
    results["folders"] = library.execute("SELECT COUNT(*) FROM crate_nodes WHERE kind = 'folder'").fetchone()[
        0
    ]
    for leftover in ("Big", "Smart"):
        try:
            crates.delete_node(library, crates.node_by_path(library, leftover).id)
        except crates.CrateTreeError:
            pass
    big = crates.create_path(library, "Big/Hundred K")
    by_date = {"sort": "date_added", "descending": True}
    smart = crates.create_path(library, "Smart/House and Techno", "smart", query=SMART_QUERY, **by_date)
    by_range = crates.create_path(library, "Smart/Peak BPM", "smart", query=SMART_RANGE_QUERY, **by_date)
    latest = crates.create_path(library, "Smart/Latest 100", "smart", query="", limit=100, **by_date)
    max_id = library.execute("SELECT MAX(id) FROM tracks").fetchone()[0]
    selection = rng.sample(range(1, max_id + 1), BIG)

    # -- adding, removing, undoing 100,000 tracks -------------------------------------------------
    change, seconds = timed(crates.add_tracks, library, big.id, selection)
    assert len(change.added) == BIG
    results["add_100k_ms"] = ms(seconds)
    results["add_100k_cpu_ms"] = ms(CPU["last"])
    removed, seconds = timed(crates.remove_tracks, library, big.id, selection)
    assert len(removed.removed) == BIG
    results["remove_100k_ms"] = ms(seconds)
    results["remove_100k_cpu_ms"] = ms(CPU["last"])
    _, seconds = timed(crates.restore_entries, library, removed)
    results["undo_remove_100k_ms"] = ms(seconds)
    results["undo_remove_100k_cpu_ms"] = ms(CPU["last"])
    assert crates.crate_track_ids(library, big.id) == selection
    half = selection[::2]
    removed, seconds = timed(crates.remove_tracks, library, big.id, half)
    results["remove_every_other_50k_ms"] = ms(seconds)
    results["remove_every_other_50k_cpu_ms"] = ms(CPU["last"])
    _, seconds = timed(crates.restore_entries, library, removed)
    results["undo_remove_every_other_50k_ms"] = ms(seconds)
    results["undo_remove_every_other_50k_cpu_ms"] = ms(CPU["last"])
    assert crates.crate_track_ids(library, big.id) == selection
    taken, seconds = timed(crates.delete_node, library, big.id)
    results["delete_100k_crate_ms"] = ms(seconds)
    results["delete_100k_crate_cpu_ms"] = ms(CPU["last"])
    _, seconds = timed(crates.restore_subtree, library, taken)
    results["undo_delete_100k_crate_ms"] = ms(seconds)
    results["undo_delete_100k_crate_cpu_ms"] = ms(CPU["last"])
    assert crates.crate_track_ids(library, big.id) == selection
    _, seconds = timed(crates.move_entries, library, big.id, selection[50_000:50_100], 10)
    results["reorder_100_rows_of_100k_ms"] = ms(seconds)
    results["reorder_100_rows_of_100k_cpu_ms"] = ms(CPU["last"])
    library.checkpoint()

    # -- the 100K crate in the table -------------------------------------------------------------------
    def first_rows(order: SortOrder | None, name: str = "first_rows") -> float:
        started, cpu = time.perf_counter(), time.process_time()
        view = TrackView(library, None, order, big.id)
        view.count()
        view.rows(0, 100)
        CPU_MS.setdefault(name, []).append((time.process_time() - cpu) * 1000)
        return (time.perf_counter() - started) * 1000

    results["switch_to_100k_crate_first_rows_ms"] = summary([first_rows(None, "switch") for _ in range(20)])
    results["switch_to_100k_crate_first_rows_cpu_ms"] = summary(CPU_MS["switch"])
    sorts = {}
    for column in SORTS:
        for descending in (False, True):
            sorts[f"{column}{' desc' if descending else ''}"] = round(
                first_rows(SortOrder(column, descending), "sort"), 1
            )
    sorts["position desc"] = round(first_rows(SortOrder("position", True)), 1)
    results["sort_change_first_rows_ms"] = sorts
    results["sort_change_p99_ms"] = summary(list(sorts.values()))["p99"]
    results["sort_change_cpu_ms"] = summary(CPU_MS["sort"])

    def jumps(view: TrackView, count: int = 200) -> dict[str, float]:
        total = view.count()
        times, cpu_times = [], []
        for _ in range(count):
            offset = rng.randrange(max(1, total - 100))
            started, cpu = time.perf_counter(), time.process_time()
            view.rows(offset, 100)
            times.append((time.perf_counter() - started) * 1000)
            cpu_times.append((time.process_time() - cpu) * 1000)
        return {**summary(times), "cpu_p50": summary(cpu_times)["p50"], "cpu_p99": summary(cpu_times)["p99"]}

    results["random_jump_crate_order_ms"] = jumps(TrackView(library, crate_id=big.id))
    warm = {}
    jumped = {}
    for column in ("artist", "bpm", "date_added"):
        view = TrackView(library, None, SortOrder(column), big.id)
        view.rows(0, 100)
        if column == "artist":
            results["random_jump_by_artist_before_warm_ms"] = jumps(view, 20)
        _, seconds = timed(view.warm)
        warm[column] = ms(seconds)
        jumped[column] = jumps(view)
    results["warm_other_order_ms"] = warm
    results["random_jump_other_order_warm_ms"] = jumped
    results["random_jump_p99_ms"] = max(
        [results["random_jump_crate_order_ms"]["p99"], *(value["p99"] for value in jumped.values())]
    )

    # -- smart crates ----------------------------------------------------------------------------------
    def smart_first_rows(node_id: int) -> tuple[int, float]:
        started, cpu = time.perf_counter(), time.process_time()
        view = TrackView(library, crate_id=node_id)
        count = view.count()
        view.rows(0, 100)
        CPU_MS.setdefault(f"smart{node_id}", []).append((time.process_time() - cpu) * 1000)
        return count, (time.perf_counter() - started) * 1000

    smart_runs = [smart_first_rows(smart.id) for _ in range(5)]
    results["smart_crate_matches"] = smart_runs[0][0]
    results["smart_crate_count_and_first_rows_ms"] = summary([t for _, t in smart_runs])
    results["smart_crate_count_and_first_rows_cpu_ms"] = summary(CPU_MS[f"smart{smart.id}"])
    range_runs = [smart_first_rows(by_range.id) for _ in range(5)]
    results["smart_range_crate_matches"] = range_runs[0][0]
    results["smart_range_crate_count_and_first_rows_ms"] = summary([t for _, t in range_runs])
    results["smart_range_crate_count_and_first_rows_cpu_ms"] = summary(CPU_MS[f"smart{by_range.id}"])
    latest_runs = [smart_first_rows(latest.id) for _ in range(5)]
    results["smart_latest_100_count_and_first_rows_ms"] = summary([t for _, t in latest_runs])

    # -- the sidebar and "Show in crates" --------------------------------------------------------------
    in_crates = [
        t for (t,) in library.execute("SELECT track_id FROM crate_entries ORDER BY random() LIMIT 200")
    ]
    times, cpu_times = [], []
    for track_id in in_crates:
        _, seconds = timed(crates.crates_of_track, library, track_id)
        times.append(seconds * 1000)
        cpu_times.append(CPU["last"] * 1000)
    results["crates_of_track_ms"] = summary(times)
    results["crates_of_track_cpu_ms"] = summary(cpu_times)
    listed, cpu_times = [], []
    for _ in range(10):
        listed.append(timed(crates.list_nodes, library, count_smart=False)[1] * 1000)
        cpu_times.append(CPU["last"] * 1000)
    results["list_nodes_with_crate_counts_ms"] = summary(listed)
    results["list_nodes_with_crate_counts_cpu_ms"] = summary(cpu_times)
    listed, cpu_times, with_counts = [], [], None
    for _ in range(5):
        with_counts, seconds = timed(crates.list_nodes, library)
        listed.append(seconds * 1000)
        cpu_times.append(CPU["last"] * 1000)
    results["list_nodes_with_smart_counts_too_ms"] = summary(listed)
    results["list_nodes_with_smart_counts_too_cpu_ms"] = summary(cpu_times)
    results["nodes_listed"] = len(with_counts)
    _, seconds = timed(crates.node_by_path, library, "Folder 37/Sub 04/Crate 09")
    results["node_by_path_ms"] = ms(seconds)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tracks", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--library", type=Path, help="where to keep the crate library")
    parser.add_argument("--base", type=Path, help="a library of N tracks to copy (default: build one)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from crate_app.paths import cache_dir

    path = args.library or cache_dir() / "bench" / f"crates-{args.tracks}-{args.seed}.sqlite"
    if not path.exists():
        base = args.base or cache_dir() / "bench" / f"table-{args.tracks}-{args.seed}.sqlite"
        print(f"building the base library {base} ...", file=sys.stderr)
        build_library(base, args.tracks, args.seed).close()
        shutil.copy(base, path)
    load = os.getloadavg()
    library = open_library(path)
    results = run(library, args.seed)
    library.close()
    results["load_average_at_start"] = [round(x, 2) for x in load]
    results["cpus"] = os.cpu_count()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
