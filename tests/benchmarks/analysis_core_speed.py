"""Throughput of the analysis core (no Qt): tracks per minute for 4-minute tracks, two worker threads.

Run: .venv/bin/python tests/benchmarks/analysis_core_speed.py [--tracks 24] [--threads 2]

Renders three synthetic 4-minute tracks, encodes each as MP3, FLAC and M4A (44.1 kHz stereo), copies
them up to ``--tracks`` files, warms up librosa, then analyses all files with ``analyze_file`` and the
default options in a ThreadPoolExecutor, with OMP/OPENBLAS/MKL/NUMBA threads pinned to 1 (set before
numpy loads).  Also prints the single-thread CPU time per track and per stage.  The target for the
app's service is >= 240 tracks/min on 2 cores, i.e. <= 0.5 s of CPU per track.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

from analysis_synth import make_specs, render  # noqa: E402
from audiofactory import encode  # noqa: E402

from crate_app.analysis import analyze_file, warm_up  # noqa: E402
from crate_app.analysis.decode import decode_excerpt  # noqa: E402
from crate_app.analysis.key import estimate_key  # noqa: E402
from crate_app.analysis.tempo import estimate_tempo  # noqa: E402
from crate_app.domain.track import AnalysisOptions  # noqa: E402

FORMATS = ("mp3", "flac", "m4a")


def stage_times(path: Path, options: AnalysisOptions) -> tuple[float, float, float]:
    """CPU seconds (this thread) for decode, tempo and key of one file."""
    clock = time.thread_time
    t0 = clock()
    audio = decode_excerpt(path, options.sample_rate, options.excerpt_seconds, options.timeout_seconds)
    t1 = clock()
    estimate_tempo(audio.samples, audio.sample_rate, options.bpm_min, options.bpm_max)
    t2 = clock()
    estimate_key(audio.samples, audio.sample_rate)
    t3 = clock()
    return t1 - t0, t2 - t1, t3 - t2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument(
        "--pool", choices=("thread", "process"), default="thread", help="compare with worker processes"
    )
    args = parser.parse_args()
    options = AnalysisOptions()
    print(f"cores: {os.cpu_count()}, threads: {args.threads}, options: {options}")
    print("(the machine is shared with other work: figures are noisy)")

    with tempfile.TemporaryDirectory(prefix="crate-speed-") as folder:
        sources = []
        for i, spec in enumerate(make_specs(3, seed=99, seconds=args.seconds)):
            samples = render(spec)
            for fmt in FORMATS:
                path = Path(folder) / f"source{i}.{fmt}"
                path.write_bytes(encode(samples, 44100, fmt))
                sources.append(path)
        files = []
        for n in range(args.tracks):
            source = sources[n % len(sources)]
            target = Path(folder) / f"track{n:03d}{source.suffix}"
            shutil.copyfile(source, target)
            files.append(target)

        started = time.perf_counter()
        warm_up()
        print(f"warm_up: {time.perf_counter() - started:.1f} s")

        per_format: dict[str, list[tuple[float, float, float]]] = {}
        for path in sources:
            per_format.setdefault(path.suffix, []).append(stage_times(path, options))
        print("single thread, CPU seconds per track (decode + tempo + key):")
        for suffix, rows in per_format.items():
            decode = sum(r[0] for r in rows) / len(rows)
            tempo = sum(r[1] for r in rows) / len(rows)
            key = sum(r[2] for r in rows) / len(rows)
            print(f"  {suffix:5} {decode:.3f} + {tempo:.3f} + {key:.3f} = {decode + tempo + key:.3f}")

        if args.pool == "process":
            with ProcessPoolExecutor(max_workers=args.threads, initializer=warm_up) as pool:
                list(pool.map(time.sleep, [0.5] * args.threads))  # start and warm the workers first
                started = time.perf_counter()
                results = list(pool.map(analyze_file, files, [options] * len(files)))
                wall = time.perf_counter() - started
            print(
                f"{len(files)} tracks of {args.seconds:g} s ({', '.join(FORMATS)}), "
                f"{args.threads} processes: {wall:.1f} s wall, {len(files) / wall * 60:.0f} tracks/min"
            )
        else:
            cpu_started = time.process_time()
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.threads) as pool:
                results = list(pool.map(lambda p: analyze_file(p, options), files))
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            print(
                f"{len(files)} tracks of {args.seconds:g} s ({', '.join(FORMATS)}), {args.threads} threads: "
                f"{wall:.1f} s wall, {len(files) / wall * 60:.0f} tracks/min; "
                f"process CPU {cpu / len(files):.3f} s per track"
            )
        assert all(r.bpm is not None for r in results)


if __name__ == "__main__":
    main()
