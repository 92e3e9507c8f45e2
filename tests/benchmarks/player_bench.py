"""Benchmark of the preview player, the overview waveform, the track panel and tag editing (not part
of the default test run).  Prints one JSON object of figures::

    .venv/bin/python tests/benchmarks/player_bench.py [--quick] [--edit-files N] [--storage-rows N]

- ``space_to_playing_ms``: from Space (PlayerService.load(play=True)) to PlayingState with the
  position advancing, per format, four-minute 44.1 kHz stereo files, warm page cache (median of 5);
  beside it when PlayingState was entered and when the sound started (the first position report
  minus the media time it reports: Qt reports once per decoded frame, 104 ms for FLAC);
- ``overview_paint_ms``: a repaint of the 1000x64 overview with grid and cues (median of 50), and the
  first paint that renders the bands;
- ``next_row_ms``: selecting the next row until its waveform and cover are shown (cover read with
  mutagen the first time, from the thumbnail cache afterwards);
- ``browse_rss_mb``: resident memory after browsing 100, 500 and all rows (covers differ per file);
- ``tag_edit``: one tag written into N files (default 1,000) with progress, seconds and files/s;
- ``waveform_column``: random jumps in a big table (every track with an overview) with the thin
  waveform column shown and hidden;
- ``waveform_storage``: the overview blob in a side table vs. a column of the tracks table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_TESTS = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_TESTS.parent), str(_TESTS), str(_TESTS / "benchmarks")]  # this checkout's crate_app
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from audiofactory import encode, write_tags  # noqa: E402
from table_bench import rss_mb  # noqa: E402


def house_track(seconds: float, bpm: float = 124.0, rate: int = 44100, seed: int = 0) -> np.ndarray:
    """A synthetic dance track (stereo float32): intro of drums, bass and chords, a breakdown without
    drums in the middle, the drop, an outro of drums only."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n, dtype=np.float32) / rate
    beat = 60.0 / bpm
    phase = (t % beat) / beat
    bar_pos = t / (beat * 4)
    kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-phase * beat * 30)) * t) * np.exp(-phase * beat * 12)
    hat_phase = ((t + beat / 2) % beat) / beat
    hats = rng.standard_normal(n).astype(np.float32) * np.exp(-hat_phase * beat * 60) * 0.25
    hats = np.diff(hats, prepend=0.0) * 0.8  # bright
    roots = np.array([55.0, 55.0, 65.41, 49.0])[(bar_pos.astype(int)) % 4]
    bass = 0.35 * np.sign(np.sin(2 * np.pi * roots * t)) * (0.6 + 0.4 * np.exp(-phase * beat * 6))
    chord = sum(0.08 * np.sin(2 * np.pi * roots * 4 * r * t) for r in (1.0, 1.26, 1.5))
    section = t / seconds
    drums_on = ~(((section > 0.42) & (section < 0.58)) | (section < 0.06))
    bass_on = (section > 0.12) & (section < 0.9) & ~((section > 0.42) & (section < 0.5))
    mono = 0.7 * kick * drums_on + hats * (section < 0.95) + bass * bass_on + chord * (section > 0.25)
    fade = np.minimum(1.0, np.minimum(t / 2.0, (seconds - t) / 3.0))
    mono = (mono * fade * 0.6).astype(np.float32)
    return np.stack([mono, np.roll(mono, 40)])


def jpeg(seed: int, size: int = 500) -> bytes:
    """A cover picture (gradient and a disc), different per seed."""
    from PySide6.QtCore import QBuffer
    from PySide6.QtGui import QColor, QImage, QPainter

    image = QImage(size, size, QImage.Format.Format_RGB32)
    hue = (seed * 47) % 360
    image.fill(QColor.fromHsv(hue, 160, 120))
    painter = QPainter(image)
    painter.setBrush(QColor.fromHsv((hue + 180) % 360, 200, 230))
    painter.drawEllipse(size // 5, size // 5, size * 3 // 5, size * 3 // 5)
    painter.setBrush(QColor(20, 20, 20))
    painter.drawEllipse(size * 9 // 20, size * 9 // 20, size // 10, size // 10)
    painter.end()
    buffer = QBuffer()
    buffer.open(QBuffer.OpenModeFlag.WriteOnly)
    image.save(buffer, "JPEG", 85)
    return bytes(buffer.data())


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def bench_space_to_playing(app, folder: Path, repeats: int) -> dict[str, dict[str, float]]:
    """Cold: Space on a track the player has not seen (load + play).  Prepared: Space after the row
    stayed selected long enough for the strip to load it (what a user who looks before playing gets)."""
    from crate_app.domain.track import TrackRecord
    from crate_app.services.player_service import PlayerService, StartPoint

    samples = house_track(240.0)
    player = PlayerService()
    player.start_point = StartPoint.START
    figures: dict[str, dict[str, float]] = {"cold": {}, "prepared": {}}

    first_report: list[tuple[float, int]] = []  # (when, position in ms) of the first position report
    player.player.positionChanged.connect(
        lambda ms: first_report.append((time.perf_counter(), ms)) if ms > 0 and not first_report else None
    )
    audio_started: dict[str, list[float]] = {}
    state_reached: dict[str, list[float]] = {}
    playing_at: list[float] = []  # when PlayingState was entered
    player.player.playbackStateChanged.connect(
        lambda state: playing_at.append(time.perf_counter()) if state == state.PlayingState else None
    )

    def wait_playing(started: float, fmt: str) -> float:
        first_report.clear()
        playing_at.clear()
        while not (player.is_playing and player.player.position() > 0):
            app.processEvents()
            time.sleep(0.001)
            if time.perf_counter() - started > 5:
                break
        if first_report:  # the renderer was at media time 0 this long after Space
            when, position_ms = first_report[0]
            audio_started.setdefault(fmt, []).append(when - position_ms / 1000.0 - started)
        if playing_at:
            state_reached.setdefault(fmt, []).append(playing_at[0] - started)
        return time.perf_counter() - started

    for fmt in ("mp3", "flac", "m4a"):
        path = folder / f"four-minutes.{fmt}"
        if not path.exists():
            path.write_bytes(encode(samples, 44100, fmt))
        path.read_bytes()  # warm page cache
        cold, prepared = [], []
        for attempt in range(repeats):
            player.stop()
            started = time.perf_counter()
            player.load(TrackRecord(id=2 * attempt + 1, path=str(path), duration=240.0), play=True)
            cold.append(wait_playing(started, fmt))
            player.stop()
            player.load(TrackRecord(id=2 * attempt + 2, path=str(path), duration=240.0), play=False)
            settle = time.perf_counter()
            while time.perf_counter() - settle < 0.3:
                app.processEvents()
            started = time.perf_counter()
            player.toggle()
            prepared.append(wait_playing(started, fmt))
        figures["cold"][fmt] = _median_ms(cold)
        figures.setdefault("load", {})[fmt] = round(os.getloadavg()[0], 1)
        # Qt reports the position once per decoded frame, so "advancing" is first seen one frame after
        # the sound starts (a FLAC frame is 4,608 samples, 104 ms; MP3 26 ms): when it really started.
        figures.setdefault("audio_started", {})[fmt] = _median_ms(audio_started.get(fmt, [0.0]))
        figures.setdefault("playing_state", {})[fmt] = _median_ms(state_reached.get(fmt, [0.0]))
        figures["prepared"][fmt] = _median_ms(prepared)
    player.stop()
    return figures


def bench_paint(app) -> dict[str, float]:
    from PySide6.QtGui import QPixmap

    from crate_app.analysis import waveform
    from crate_app.domain.beatgrid import BeatGrid
    from crate_app.domain.cues import CuePoint
    from crate_app.domain.waveform import parse_waveform
    from crate_app.gui.waveform_view import WaveformView

    mono = house_track(240.0, rate=11025)[0]
    stored = parse_waveform(waveform.encode(waveform.overview(mono, 11025)))
    view = WaveformView()
    view.resize(1000, 64)
    view.set_track(stored, 240.0)
    view.set_grid(BeatGrid(124.0, 0.1, 0.1))
    view.set_cues(
        [CuePoint("hot", i, 20.0 * i + 1) for i in range(8)] + [CuePoint("loop", None, 100.0, 107.7)]
    )
    target = QPixmap(view.size())
    view.render(target)  # one-off font and glyph set-up
    figures: dict[str, float] = {}
    for label, reset in (("bands_and_overlay", True), ("repaint", False)):
        wall, cpu = [], []
        for i in range(30):
            if reset:
                view.set_track(stored, 240.0)  # a newly selected track: the bands are rendered again
            view.position = i * 4.0
            started, started_cpu = time.perf_counter(), time.process_time()
            view.render(target)
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        figures[f"{label}_ms"] = _median_ms(wall)
        figures[f"{label}_cpu_ms"] = _median_ms(cpu)  # this process's CPU: what a quiet machine would see
    return figures


def bench_browsing(app, folder: Path, count: int) -> dict[str, object]:
    from crate_app.analysis import waveform
    from crate_app.gui.main_window import MainWindow
    from crate_app.gui.settings import open_settings
    from crate_app.library.scanner import scan_paths
    from crate_app.store.library import open_library
    from crate_app.store.waveforms import save_waveform

    music = folder / "browse"
    data = b""
    for i in range(count):
        path = music / f"{i:05d}.mp3"
        if path.exists():
            continue
        data = data or encode(house_track(20.0, seed=1), 44100, "mp3")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        write_tags(path, {"title": f"Track {i}", "artist": f"Artist {i % 97}"}, cover=jpeg(i))
    for extra in music.glob("*.mp3"):
        if int(extra.stem) >= count:
            extra.unlink()
    library_path = folder / "browse.sqlite"
    library_path.unlink(missing_ok=True)
    library = open_library(library_path)
    scan_paths(library, [str(music)])
    blob = waveform.encode(waveform.overview(house_track(240.0, rate=11025)[0], 11025))
    for track_id in library.iter_track_ids():
        save_waveform(library, track_id, blob)
    os.environ["CRATE_HOME"] = str(folder / "home")
    shutil.rmtree(folder / "home", ignore_errors=True)
    window = MainWindow(library, open_settings(folder / "settings.ini"))
    window.resize(1400, 850)
    window.show()
    while window.model.is_loading:
        app.processEvents()
    area = window.player_area
    table = window.table
    table.setFocus()

    cpu: list[float] = []

    def select(row: int) -> float:
        started, started_cpu = time.perf_counter(), time.process_time()
        table.selectRow(row)
        expected = window.model.track_at(row).id
        while not (
            area.tracks.track is not None
            and area.tracks.track.id == expected
            and area.strip.waveform.waveform is not None
            and not area.panel.cover.pixmap().isNull()
        ):
            app.processEvents()
            if time.perf_counter() - started > 5:
                break
        app.processEvents()  # the paint
        cpu.append(time.process_time() - started_cpu)
        return time.perf_counter() - started

    first_visit = [select(row) for row in range(1, 41)]
    first_visit_cpu = cpu[:]
    second_visit = [select(row) for row in range(1, 41)]
    second_visit_cpu = cpu[len(first_visit_cpu) :]
    rss: dict[str, float] = {"start": round(rss_mb(), 1)}
    for row in range(41, count):
        select(row)
        if row + 1 in (100, 500, count):
            rss[str(row + 1)] = round(rss_mb(), 1)
    cache_bytes = sum(
        f.stat().st_size for f in (folder / "home" / "cache" / "covers").rglob("*") if f.is_file()
    )
    window.shutdown()
    library.close()
    return {
        "next_row_first_visit_ms": _median_ms(first_visit),
        "next_row_first_visit_max_ms": round(max(first_visit) * 1000, 1),
        "next_row_first_visit_cpu_ms": _median_ms(first_visit_cpu),  # this process (and its threads)
        "next_row_cached_ms": _median_ms(second_visit),
        "next_row_cached_cpu_ms": _median_ms(second_visit_cpu),
        "load": round(os.getloadavg()[0], 1),
        "browse_rss_mb": rss,
        "cover_cache_kb": round(cache_bytes / 1024),
    }


def bench_waveform_column(app, folder: Path, rows: int, jumps: int) -> dict[str, object]:
    """Random jumps in a table of ``rows`` made-up tracks, each with a stored overview, with the thin
    waveform column shown and hidden: scroll, paint, the column's one query and image building, and
    the repaint that draws them."""
    from PySide6.QtWidgets import QAbstractItemView
    from table_bench import build_library

    from crate_app.analysis import waveform
    from crate_app.gui.main_window import MainWindow
    from crate_app.gui.settings import open_settings
    from crate_app.gui.track_model import WAVEFORM_COLUMN

    path = folder / f"column-{rows}.sqlite"
    library = build_library(path, rows)
    if library.execute("SELECT COUNT(*) FROM waveforms").fetchone()[0] < rows:
        blobs = [
            waveform.encode(waveform.overview(house_track(60.0, rate=11025, seed=seed)[0], 11025))
            for seed in range(8)
        ]
        with library.write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO waveforms (track_id, data) VALUES (?, ?)",
                ((track_id, blobs[track_id % 8]) for track_id in library.iter_track_ids()),
            )
        library.checkpoint()
    os.environ["CRATE_HOME"] = str(folder / "home")
    window = MainWindow(library, open_settings(folder / "column-settings.ini"))
    window.resize(1400, 900)
    window.show()
    while window.model.is_loading:
        app.processEvents()
    table, model, delegate = window.table, window.model, window.player_area.waveform_column
    import random

    rng = random.Random(5)
    figures: dict[str, object] = {"rows": rows, "load": round(os.getloadavg()[0], 1)}
    # The first round warms the window's view and the library's pages (it is reported, but compare the
    # rounds after it).
    rounds = (("first_round_cold", False), ("column_hidden", True), ("column_shown", False))
    for label, hidden in rounds:
        table.setColumnHidden(WAVEFORM_COLUMN, hidden)
        wall, cpu = [], []
        for _ in range(jumps):
            row = rng.randrange(rows)
            started, started_cpu = time.perf_counter(), time.process_time()
            table.scrollTo(model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop)
            table.viewport().repaint()
            app.processEvents()  # the column's read after the paint, and its repaint
            table.viewport().repaint()
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        figures[label] = {"jump_ms": _median_ms(wall), "jump_cpu_ms": _median_ms(cpu),
                          "max_ms": round(max(wall) * 1000, 1)}  # fmt: skip
    figures["column_queries"] = delegate.queries
    figures["cached_images"] = len(delegate.images)
    window.shutdown()
    library.close()
    return figures


def _paged_out_mb() -> float:
    """Data the whole machine wrote to disk so far (/proc/vmstat pgpgout, KiB), in MB; 0 elsewhere."""
    try:
        with open("/proc/vmstat") as handle:
            for line in handle:
                if line.startswith("pgpgout "):
                    return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return 0.0


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_tag_edit(app, folder: Path, files: int) -> dict[str, object]:
    from crate_app.library.scanner import scan_paths
    from crate_app.services.jobs import JobRunner
    from crate_app.services.tag_edit_service import TagEditService
    from crate_app.store.library import open_library

    music = folder / "edit"
    shutil.rmtree(music, ignore_errors=True)
    music.mkdir(parents=True)
    source = music / "source.mp3"
    source.write_bytes(encode(house_track(240.0, seed=2), 44100, "mp3"))
    write_tags(source, {"title": "T", "artist": "A", "genre": "House"}, cover=jpeg(1))
    for i in range(files):
        shutil.copyfile(source, music / f"{i:05d}.mp3")
    source.unlink()
    library = open_library(folder / "edit.sqlite")
    scan_paths(library, [str(music)])
    tracks = library.tracks_by_ids(library.iter_track_ids())
    runner = JobRunner(1)
    service = TagEditService(runner, library)
    progress_events = []
    service.progress.connect(progress_events.append)
    outcome = []
    service.finished.connect(outcome.append)
    load_before, written_before = os.getloadavg()[0], _paged_out_mb()
    started, cpu_started, children_started = time.perf_counter(), time.process_time(), _children_cpu()
    service.edit(tracks, {"genre": "Deep House"})
    while not outcome:
        app.processEvents()
        time.sleep(0.002)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started + _children_cpu() - children_started
    written = _paged_out_mb() - written_before
    runner.shutdown()
    size_mb = sum(p.stat().st_size for p in music.iterdir()) / 1e6
    library.close()
    shutil.rmtree(music, ignore_errors=True)
    return {
        "files": files,
        "file_mb": round(size_mb / files, 2),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),  # this process and its worker processes
        "load_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "files_per_s": round(files / seconds, 1),
        "disk_written_mb_per_s": round(written / seconds, 1),  # the whole machine's, during the edit
        "failed": len(outcome[0].failures),
        "progress_reports": len(progress_events),
    }


def bench_storage(folder: Path, rows: int) -> dict[str, object]:
    """A tracks-like table of ``rows`` rows with the overview blob in a side table or a column."""
    from crate_app.analysis.waveform import COLUMNS
    from crate_app.domain.waveform import BAND_COUNT, HEADER

    blob = os.urandom(HEADER.size + COLUMNS * BAND_COUNT * 2)
    text_columns = ", ".join(f"c{i} TEXT" for i in range(20))
    figures: dict[str, object] = {"rows": rows, "blob_bytes": len(blob)}
    for layout in ("side_table", "column"):
        path = folder / f"storage-{layout}.sqlite"
        path.unlink(missing_ok=True)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        extra = ", waveform BLOB" if layout == "column" else ""
        conn.execute(f"CREATE TABLE tracks (id INTEGER PRIMARY KEY, title TEXT, {text_columns}{extra})")
        if layout == "side_table":
            conn.execute("CREATE TABLE waveforms (track_id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        row_text = ["word " * 3] * 20
        for start in range(0, rows, 10_000):
            chunk = range(start, min(rows, start + 10_000))
            if layout == "column":
                conn.executemany(f"INSERT INTO tracks VALUES (?, ?, {', '.join('?' * 20)}, ?)",
                                 [(i + 1, f"title {i}", *row_text, blob) for i in chunk])  # fmt: skip
            else:
                conn.executemany(f"INSERT INTO tracks VALUES (?, ?, {', '.join('?' * 20)})",
                                 [(i + 1, f"title {i}", *row_text) for i in chunk])  # fmt: skip
                conn.executemany("INSERT INTO waveforms VALUES (?, ?)", [(i + 1, blob) for i in chunk])
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        conn = sqlite3.connect(path)
        started = time.perf_counter()
        conn.execute("SELECT COUNT(*) FROM tracks WHERE title LIKE '%99999%'").fetchone()
        scan = time.perf_counter() - started
        lookup_sql = (
            "SELECT waveform FROM tracks WHERE id = ?"
            if layout == "column"
            else "SELECT data FROM waveforms WHERE track_id = ?"
        )
        started = time.perf_counter()
        for i in range(1, 2001):
            conn.execute(lookup_sql, ((i * 7919) % rows + 1,)).fetchone()
        lookup = (time.perf_counter() - started) / 2000
        conn.close()
        figures[layout] = {
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "full_scan_like_ms": round(scan * 1000, 1),
            "lookup_ms": round(lookup * 1000, 3),
        }
        path.unlink()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats, fewer files")
    parser.add_argument("--edit-files", type=int, default=1000)
    parser.add_argument("--browse-rows", type=int, default=1000)
    parser.add_argument("--storage-rows", type=int, default=200_000)
    parser.add_argument("--column-rows", type=int, default=200_000)
    parser.add_argument(
        "--only", default="", help="comma-separated: playing,paint,browse,edit,column,storage"
    )
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.gettempdir()) / "crate-player-bench"
    folder.mkdir(exist_ok=True)
    every = {"playing", "paint", "browse", "edit", "column", "storage"}
    only = set(args.only.split(",")) if args.only else every
    figures: dict[str, object] = {}
    if "playing" in only:
        figures["space_to_playing_ms"] = bench_space_to_playing(app, folder, 3 if args.quick else 5)
        print(json.dumps(figures), flush=True)
    if "paint" in only:
        figures["overview_paint"] = bench_paint(app)
    if "browse" in only:
        figures["browsing"] = bench_browsing(app, folder, 200 if args.quick else args.browse_rows)
    if "edit" in only:
        figures["tag_edit"] = bench_tag_edit(app, folder, 50 if args.quick else args.edit_files)
    if "column" in only:
        figures["waveform_column"] = bench_waveform_column(
            app, folder, 20_000 if args.quick else args.column_rows, 50 if args.quick else 200
        )
    if "storage" in only:
        figures["waveform_storage"] = bench_storage(folder, 20_000 if args.quick else args.storage_rows)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
