"""Tracks per minute through the app's analysis service: 4-minute tracks (MP3, FLAC, M4A), 2 workers.

Run: .venv/bin/python tests/benchmarks/analysis_speed.py [--tracks 24] [--workers 2] [--rounds 2]

Renders eight synthetic 4-minute dance tracks (tests/benchmarks/analysis_synth.py) and encodes each
as a shop would sell it (44.1 kHz stereo: MP3 at 320 kbps, FLAC, M4A/AAC at 256 kbps, in turn), copies
them up to ``--tracks`` files (cached in the temp folder between runs), scans them into a fresh
library, then runs the real ``AnalysisService`` in an offscreen QCoreApplication: warm-up first
(timed on its own), then "analyse all" until ``finished``, and again with ``force`` for each further
round.  Results go through the single writer as in the app.  Threads
of OpenBLAS/OpenMP/numba are pinned to 1 before numpy loads, as the app does.

``--cli`` instead times ``crate-cli analyze --force`` in a fresh process (start-up included), twice,
with the CPU time and the peak resident memory of the largest process (the command or one of its
analysis processes; ``getrusage(RUSAGE_CHILDREN)``); ``--no-waveform`` runs the same command with the
waveform overview turned off (``AnalysisOptions(waveform=False)``: the excerpt alone is decoded).

Prints one JSON object per round and a summary; the target is >= 240 tracks/min on 2 cores.  The
machine may be shared: the load average before each round is printed with it.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

FORMATS = ("mp3", "flac", "m4a")
BIT_RATES = {"mp3": 320_000, "m4a": 256_000}
SOURCES = 8
TARGET_PER_MINUTE = 240


def make_files(count: int, seconds: float) -> list[Path]:
    """``count`` audio files (cached between runs): three tracks x three formats, then copies."""
    from analysis_synth import make_specs, render
    from audiofactory import encode

    tag = hashlib.sha1(f"v2-{seconds}".encode()).hexdigest()[:8]
    cache = Path(tempfile.gettempdir()) / f"crate-analysis-speed-{tag}"
    sources = [cache / f"source{i}.{FORMATS[i % len(FORMATS)]}" for i in range(SOURCES)]
    if not all(path.exists() for path in sources):
        cache.mkdir(parents=True, exist_ok=True)
        for i, spec in enumerate(make_specs(SOURCES, seed=99, seconds=seconds)):
            fmt = FORMATS[i % len(FORMATS)]
            temporary = cache / f".source{i}.{fmt}"
            temporary.write_bytes(encode(render(spec), 44100, fmt, bit_rate=BIT_RATES.get(fmt)))
            temporary.replace(cache / f"source{i}.{fmt}")
    return [sources[n % len(sources)] for n in range(count)]


# crate-cli with AnalysisOptions(waveform=False) as its options' default (no command-line flag for it).
NO_WAVEFORM_CLI = (
    "import functools, sys; import crate_app.cli.analyze as a; "
    "a.AnalysisOptions = functools.partial(a.AnalysisOptions, waveform=False); "
    "from crate_app.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def run_cli(sources: list[Path], workers: int, waveform: bool = True) -> None:
    """Time ``crate-cli analyze`` as a user runs it: a fresh process, start-up included."""
    import resource
    import subprocess

    with tempfile.TemporaryDirectory(prefix="crate-analysis-speed-cli-") as folder:
        music = Path(folder) / "music"
        music.mkdir()
        for n, source in enumerate(sources):
            shutil.copyfile(source, music / f"track{n:03d}{source.suffix}")
        library = str(Path(folder) / "library.sqlite")
        cli = [sys.executable, "-m", "crate_app.cli.main", "--library", library]
        subprocess.run([*cli, "scan", str(music)], check=True, capture_output=True)
        if not waveform:
            cli = [sys.executable, "-c", NO_WAVEFORM_CLI, "--library", library]
        for round_no in range(2):
            load = os.getloadavg()[0]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(
                [*cli, "analyze", "--force", "--json", "--workers", str(workers)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            summary = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                json.dumps(
                    {
                        "command": "crate-cli analyze --force",
                        "waveform": waveform,
                        "round": round_no + 1,
                        "tracks": len(sources),
                        "wall_seconds_including_start_up": round(wall, 2),
                        "tracks_per_min": round(len(sources) / wall * 60, 1),
                        "tracks_per_second": round(len(sources) / wall, 2),
                        "cpu_seconds_per_track": round(cpu / len(sources), 3),
                        # the largest process this benchmark has waited for so far (KiB on Linux)
                        "peak_rss_mib_largest_process": round(after.ru_maxrss / 1024, 1),
                        "target_tracks_per_min": TARGET_PER_MINUTE,
                        "load_average_before": round(load, 2),
                        "summary": summary,
                    }
                ),
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="analyse everything this many times")
    parser.add_argument("--seconds", type=float, default=240.0, help="length of each track")
    parser.add_argument(
        "--engine", choices=("processes", "threads"), default="processes",
        help="analyse in worker processes (the app's default) or in the worker threads themselves",
    )  # fmt: skip
    parser.add_argument(
        "--excerpt", type=float, default=None, help="override AnalysisOptions.excerpt_seconds"
    )
    parser.add_argument("--cli", action="store_true", help="time the crate-cli analyze command instead")
    parser.add_argument(
        "--no-waveform", action="store_true", help="with --cli: analyse without the waveform overview"
    )
    args = parser.parse_args()
    if args.cli:
        run_cli(make_files(args.tracks, args.seconds), args.workers, waveform=not args.no_waveform)
        return

    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

    from crate_app.domain.track import AnalysisOptions
    from crate_app.library.scanner import scan_paths
    from crate_app.services.analysis_service import AnalysisService
    from crate_app.store.library import open_library

    app = QCoreApplication.instance() or QCoreApplication([])
    sources = make_files(args.tracks, args.seconds)
    with tempfile.TemporaryDirectory(prefix="crate-analysis-speed-") as folder:
        music = Path(folder) / "music"
        music.mkdir()
        for n, source in enumerate(sources):
            shutil.copyfile(source, music / f"track{n:03d}{source.suffix}")
        library = open_library(Path(folder) / "library.sqlite")
        scan_paths(library, [str(music)], workers=0)
        service = AnalysisService(library, workers=args.workers, use_processes=args.engine == "processes")
        if args.excerpt is not None:
            service.options = AnalysisOptions(excerpt_seconds=args.excerpt)

        def wait_for(signal, timeout_s: float = 900.0) -> list[object]:
            loop = QEventLoop()
            received: list[object] = []

            def on_signal(*values: object) -> None:
                received.extend(values)
                loop.quit()

            signal.connect(on_signal)
            QTimer.singleShot(int(timeout_s * 1000), loop.quit)
            loop.exec()
            signal.disconnect(on_signal)
            return received

        started = time.perf_counter()
        service.warm_up()
        if not service.is_ready:
            wait_for(service.warm_up_changed)
        warm_up_seconds = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "warm_up_seconds": round(warm_up_seconds, 2),
                }
            ),
            flush=True,
        )

        rates = []
        for round_no in range(args.rounds):
            load = os.getloadavg()[0]
            cpu_started = time.process_time()
            started = time.perf_counter()
            service.analyze_query(force=round_no > 0)
            (summary,) = wait_for(service.finished)
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            per_minute = summary.analyzed / wall * 60
            rates.append(per_minute)
            print(
                json.dumps(
                    {
                        "round": round_no + 1,
                        "tracks": summary.total,
                        "analyzed": summary.analyzed,
                        "failed": summary.failed,
                        "track_seconds": args.seconds,
                        "formats": list(FORMATS),
                        "workers": args.workers,
                        "engine": args.engine,
                        "options": str(service.options),
                        "cores": os.cpu_count(),
                        "wall_seconds": round(wall, 2),
                        "tracks_per_min": round(per_minute, 1),
                        "window_process_cpu_seconds_per_track": round(cpu / max(1, summary.total), 3),
                        "load_average_before": round(load, 2),
                    }
                ),
                flush=True,
            )
        stats = library.stats()
        service.shutdown()
        library.close()
    best = max(rates)
    print(
        json.dumps(
            {
                "best_tracks_per_min": round(best, 1),
                "target_tracks_per_min": TARGET_PER_MINUTE,
                "target_met": best >= TARGET_PER_MINUTE,
                "analyzed_in_library": stats["analyzed"],
            }
        )
    )
    del app


if __name__ == "__main__":
    main()
