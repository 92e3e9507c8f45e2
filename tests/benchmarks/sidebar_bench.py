"""Benchmark of the window's crates on a big library (not part of the default test run).

Builds (or reuses) a library of N made-up tracks (``table_bench.build_library``) with 5,000 crates in
nested folders, one crate of 100,000 tracks and a smart crate, opens the real window offscreen and
prints what it measured as JSON::

    .venv/bin/python tests/benchmarks/sidebar_bench.py [N] [--library PATH]

Figures: the sidebar's share of window start (its GUI-thread time, and until its tree is shown);
switching to the 100K crate (first rows), sorting it and jumping in it; the smart crate; adding
100,000 selected tracks to a crate, undoing that and removing them again, with the GUI-thread stalls
meanwhile (a 5 ms heartbeat timer: how late it fired); "Show in crates" and the crate list with counts.
Beside each wall time: the CPU time of the whole process (``*_cpu_ms``, ``cpu_s``) and of the GUI thread
alone (``*_gui_thread_cpu_ms``): on a shared machine the wall time is mostly waiting for a core.  An
edit's ``s`` runs until the window has settled again (table and sidebar re-read), ``written_s`` until
the edit was written.  Run it with ``PYTHONPATH=.`` from a worktree (the venv's editable install is main).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from table_bench import build_library, percentile, summary

from crate_app import crates
from crate_app.store.library import Library, open_library

BIG_CRATE = "Sets/Big 100K"
SMART_CRATE = "Smart/Fast and recent"
SMART_QUERY = "bpm:>=124 OR added:<400d"


def add_crates(library: Library, folders: int = 50, subfolders: int = 10, per_folder: int = 10) -> None:
    """5,000 crates (50 x 10 x 10) of 20 tracks each, a crate of 100,000 tracks, a smart crate."""
    try:
        crates.node_by_path(library, BIG_CRATE)
    except crates.CrateTreeError:
        pass
    else:  # built before: only the crate that the adding below fills starts empty again
        target = crates.node_by_path(library, "Sets/Target")
        if target.track_count:
            crates.delete_node(library, target.id)
            crates.create_path(library, "Sets/Target", "crate")
        return
    started = time.perf_counter()
    rng = random.Random(11)
    top = library.execute("SELECT MAX(id) FROM tracks").fetchone()[0]
    for f in range(folders):
        folder = crates.create_node(library, None, f"Folder {f:02d}", "folder")
        for s in range(subfolders):
            sub = crates.create_node(library, folder.id, f"Sub {s:02d}", "folder")
            for c in range(per_folder):
                crate = crates.create_node(library, sub.id, f"Crate {c:02d}", "crate")
                crates.add_tracks(library, crate.id, rng.sample(range(1, top + 1), 20))
        print(f"  crates: folder {f + 1}/{folders} in {time.perf_counter() - started:.0f} s", flush=True)
    big = crates.create_path(library, BIG_CRATE, "crate")
    crates.add_tracks(library, big.id, rng.sample(range(1, top + 1), 100_000))
    crates.create_path(library, SMART_CRATE, "smart", query=SMART_QUERY, sort="date_added", descending=True)
    crates.create_path(library, "Sets/Target", "crate")
    library.checkpoint()


def run(library_path: Path) -> dict[str, object]:
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QItemSelection, QItemSelectionModel, Qt, QTimer
    from PySide6.QtWidgets import QAbstractItemView, QApplication

    import crate_app.gui.crates_controller as controller_module
    import crate_app.gui.sidebar as sidebar_module
    from crate_app.gui.main_window import MainWindow
    from crate_app.gui.settings import open_settings
    from crate_app.gui.track_model import COLUMN_NAMES
    from crate_app.runtime import favour_the_gui_thread

    favour_the_gui_thread()
    _app = QApplication.instance() or QApplication([])
    loop = QEventLoop()

    def pump(ms: int) -> None:
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def wait_until(condition, timeout_s: float = 120) -> None:
        deadline = time.perf_counter() + timeout_s
        while not condition():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"waited {timeout_s} s for {condition}")
            pump(2)

    def step(text: str) -> None:
        print(f"  {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    # The sidebar's GUI-thread time: building it, and putting the tree into it when it arrives.
    spent: dict[str, float] = {"controller_init": 0.0, "tree_shown": 0.0}
    original_init = controller_module.CratesController.__init__
    original_loaded = sidebar_module.Sidebar._on_service_nodes_loaded
    tree_shown_at: list[float] = []

    def timed_init(self, *args, **kwargs):
        t0 = time.perf_counter()
        original_init(self, *args, **kwargs)
        spent["controller_init"] += time.perf_counter() - t0

    def timed_loaded(self, nodes):
        t0 = time.perf_counter()
        original_loaded(self, nodes)
        spent["tree_shown"] += time.perf_counter() - t0
        tree_shown_at.append(time.perf_counter())

    controller_module.CratesController.__init__ = timed_init  # type: ignore[method-assign]
    sidebar_module.Sidebar._on_service_nodes_loaded = timed_loaded  # type: ignore[method-assign]

    step("opening the window")
    settings_file = Path(library_path).parent / "bench-settings" / "sidebar.ini"
    settings_file.unlink(missing_ok=True)
    library = open_library(library_path)
    count = library.count()
    started = time.perf_counter()
    window = MainWindow(library, open_settings(settings_file))
    # Not the hygiene pass that hashes the audio of every track (1M made-up files here): another
    # feature's background job (hygiene_bench.py measures it), which would only blur these figures.
    window._watch_start_timer.stop()
    window.resize(1400, 900)
    window.show()
    model, table = window.model, window.table
    wait_until(lambda: not model.is_loading)
    table.viewport().repaint()
    first_rows = time.perf_counter() - started
    wait_until(lambda: bool(tree_shown_at))
    results: dict[str, object] = {
        "tracks": count,
        "crates": sum(1 for n in window.crates.service.nodes if n.kind != "folder"),
        "window_first_rows_s": round(first_rows, 3),
        "sidebar_gui_thread_ms": round((spent["controller_init"] + spent["tree_shown"]) * 1000, 1),
        "sidebar_build_ms": round(spent["controller_init"] * 1000, 1),
        "sidebar_fill_tree_ms": round(spent["tree_shown"] * 1000, 1),
        "sidebar_tree_shown_after_s": round(tree_shown_at[0] - started, 3),
    }
    service, sidebar = window.crates.service, window.crates.sidebar
    big = crates.node_by_path(library, BIG_CRATE)
    smart = crates.node_by_path(library, SMART_CRATE, with_counts=False)
    target = crates.node_by_path(library, "Sets/Target")

    step("window up; switching to the 100K crate")

    # Switching to the 100K crate: from the click to its first rows painted.
    cpu_ms: dict[str, list[float]] = {}  # CPU of the whole process / of the GUI thread, by measurement

    def cpu_now() -> tuple[float, float]:
        return time.process_time(), time.thread_time()

    def cpu_since(name: str, since: tuple[float, float]) -> None:
        process, gui = cpu_now()
        cpu_ms.setdefault(f"{name}_cpu_ms", []).append((process - since[0]) * 1000)
        cpu_ms.setdefault(f"{name}_gui_thread_cpu_ms", []).append((gui - since[1]) * 1000)

    def cpu_summary(name: str) -> dict[str, dict[str, float]]:
        return {key: summary(values) for key, values in cpu_ms.items() if key.startswith(name)}

    def switch(node_id: int) -> float:
        sidebar.select_collection()
        wait_until(lambda: not model.is_loading)
        t0, cpu = time.perf_counter(), cpu_now()
        sidebar.select_node(node_id)
        wait_until(lambda: not model.is_loading)
        table.viewport().repaint()
        cpu_since("switch", cpu)
        return (time.perf_counter() - t0) * 1000

    switches = [switch(big.id) for _ in range(5)]
    results["switch_to_100k_crate_first_rows_ms"] = summary(switches)
    results.update(cpu_summary("switch"))
    assert model.rowCount() == 100_000, model.rowCount()

    def timed_jump(row: int, name: str = "jump") -> float:
        t0, cpu = time.perf_counter(), cpu_now()
        table.scrollTo(model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        table.viewport().repaint()
        cpu_since(name, cpu)
        return (time.perf_counter() - t0) * 1000

    rng = random.Random(3)
    results["crate_order_random_jump_ms"] = summary([timed_jump(rng.randrange(100_000)) for _ in range(50)])
    header = table.horizontalHeader()
    sorts = {}
    for name in ("artist", "bpm", "title", "position"):
        t0, cpu = time.perf_counter(), cpu_now()
        header.setSortIndicator(COLUMN_NAMES.index(name), Qt.SortOrder.AscendingOrder)
        wait_until(lambda: not model.is_loading)
        table.viewport().repaint()
        cpu_since("sort", cpu)
        sorts[name] = round((time.perf_counter() - t0) * 1000, 1)
        if name == "artist":  # at once after the sort change (while the new order is being indexed)
            results["crate_by_artist_random_jump_ms"] = summary(
                [timed_jump(rng.randrange(100_000), "artist_jump") for _ in range(50)]
            )
            results.update(cpu_summary("artist_jump"))
            # Far rows show empty until the crate's ids in the new order are read (off the GUI thread).
            wait_until(lambda: model.is_warm)
            results["crate_by_artist_every_row_readable_after_s"] = round(time.perf_counter() - t0, 2)
    results["crate_sort_change_ms"] = sorts
    results.update(cpu_summary("sort"))
    results.update(cpu_summary("jump"))

    step("the smart crate")
    t0, cpu = time.perf_counter(), cpu_now()
    sidebar.select_node(smart.id)
    wait_until(lambda: not model.is_loading)
    table.viewport().repaint()
    cpu_since("smart", cpu)
    results["smart_crate_count_and_first_rows_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    results.update(cpu_summary("smart"))
    results["smart_crate_tracks"] = model.rowCount()

    t0 = time.perf_counter()
    for _ in range(20):
        crates.crates_of_track(library, rng.randrange(1, count + 1))
    results["show_in_crates_ms"] = round((time.perf_counter() - t0) * 1000 / 20, 2)
    for name, count_smart in (
        ("crate_list_with_counts", False),
        ("crate_list_counting_smart_crates_too", True),
    ):
        # The sidebar lists with the crates' stored counts and counts smart crates afterwards.
        # (this thread's CPU: the window's own threads may still be busy with the smart crate)
        t0, cpu = time.perf_counter(), time.thread_time()
        crates.list_nodes(library, with_counts=True, count_smart=count_smart)
        results[f"{name}_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        results[f"{name}_cpu_ms"] = round((time.thread_time() - cpu) * 1000, 1)

    step("adding 100,000 selected tracks")
    # Adding 100,000 selected tracks, with a heartbeat timer measuring how late the GUI thread is.
    sidebar.select_collection()
    wait_until(lambda: not model.is_loading)
    lateness: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1000 - 5))
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(beat)

    def timed_while_busy(action) -> tuple[float, list[float]]:
        """Seconds from the action to the edit written and the window settled again (the table and
        the sidebar re-read), and the heartbeat's lateness meanwhile; the CPU time goes to cpu_ms."""
        lateness.clear()
        last[0] = time.perf_counter()
        heartbeat.start()
        t0, cpu = time.perf_counter(), cpu_now()
        action()
        wait_until(lambda: not service.is_busy)
        written = time.perf_counter() - t0
        pump(20)  # the edit's follow-ups (table refresh, tree re-read) start
        wait_until(lambda: not model.is_loading and not service._reader.is_busy)
        seconds = time.perf_counter() - t0
        heartbeat.stop()
        cpu_since("edit", cpu)
        cpu_ms["written_s"] = [written]
        return seconds, list(lateness)

    def edit_figures(seconds: float, stalls: list[float], **more: object) -> dict[str, object]:
        return {
            "s": round(seconds, 2),
            "written_s": round(cpu_ms["written_s"][-1], 2),
            "cpu_s": round(cpu_ms["edit_cpu_ms"][-1] / 1000, 2),
            "gui_thread_cpu_s": round(cpu_ms["edit_gui_thread_cpu_ms"][-1] / 1000, 2),
            **more,
            "gui_stall_ms": summary(stalls),
        }

    selection = QItemSelection(model.index(0, 0), model.index(99_999, len(COLUMN_NAMES) - 1))
    table.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    seconds, stalls = timed_while_busy(lambda: window.crates.add_selected_to(target))
    added = len(crates.crate_track_ids(library, target.id))
    results["add_100k_selected"] = edit_figures(seconds, stalls, added=added)
    seconds, stalls = timed_while_busy(window.crates.undo_action.trigger)
    results["undo_add_100k"] = edit_figures(
        seconds, stalls, left=len(crates.crate_track_ids(library, target.id))
    )
    step("removing them")
    window.crates.redo_action.trigger()
    wait_until(lambda: not service.is_busy)
    sidebar.select_node(target.id)
    wait_until(lambda: not model.is_loading)
    table.selectAll()
    seconds, stalls = timed_while_busy(window.crates.remove_selected_from_crate)
    results["remove_100k_selected"] = edit_figures(
        seconds, stalls, left=len(crates.crate_track_ids(library, target.id))
    )
    results["gui_stall_p99_ms_overall"] = round(percentile(stalls, 99), 1)
    window.crates.service.undo_stack.clear()
    window.close()
    library.close()
    return results


def main() -> None:
    import argparse
    import json
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tracks", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--library", type=Path, help="where to build/keep the library file")
    args = parser.parse_args()
    from crate_app.paths import cache_dir

    path = args.library or cache_dir() / "bench" / f"sidebar-{args.tracks}-7.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    library = build_library(path, args.tracks)
    add_crates(library)
    library.close()
    load = os.getloadavg()
    results = run(path)
    results["load_average_at_start"] = [round(x, 2) for x in load]
    results["cpus"] = os.cpu_count()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
