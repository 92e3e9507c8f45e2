"""Accuracy of BPM, key and downbeat analysis per evaluation set, with plain librosa beside it.

Run: .venv/bin/python tests/benchmarks/analysis_accuracy.py --set rendered=/tmp/crate-dj-set \
        --set real=/tmp/crate-real [--synthetic 24] [--jobs 2]

A set is a folder of audio files with an ``annotations.csv`` (columns ``file``, ``bpm``, ``key``, and
optionally ``first_downbeat`` in seconds and ``genre``; empty cells are unknown).
``render_dj_set.py`` writes such a folder of music rendered from MIDI with a sampled SoundFont; real
recordings with human annotations go in another (see the report in issue 14 for where ours came from).
The shared test clips (``../shared/testdata/audio``) are always scored as the set "shared".
``--synthetic N`` adds the sine-and-noise tracks of analysis_synth.py as a regression set.

Each file is analysed by Crate (``analyze_file`` with the default options, as the app does) and by a
baseline in the same run: plain librosa on the whole file (``beat_track`` for the tempo; mean
``chroma_stft`` matched to the Krumhansl-Kessler profiles for the key).  Per set it prints Acc1 (within
4 %), Acc1 for references in 70-180 BPM, Acc2 (4 % of x1, x2, /2, x3, /3), within 0.1 BPM, key exact
and MIREX weighted, the first-downbeat error, and every miss.  Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

import numpy as np  # noqa: E402

from crate_app.domain.keys import Key, parse_key  # noqa: E402
from crate_app.domain.track import AnalysisOptions  # noqa: E402

TESTDATA = Path(os.environ.get("CRATE_TESTDATA", ROOT.parent / "shared" / "testdata"))
SYNTH_FORMATS = ("mp3", "flac", "m4a", "ogg")
DOWNBEAT_TOLERANCE = 0.010
NOT_RUN = "baseline not run"

# Krumhansl-Kessler probe-tone profiles (1982), the baseline's key templates.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass
class Item:
    path: Path
    bpm: float | None
    key: Key | None
    first_downbeat: float | None = None
    genre: str = ""


@dataclass
class Estimate:
    bpm: float | None = None
    key: Key | None = None
    first_beat: float | None = None
    first_downbeat: float | None = None
    bpm_alt: float | None = None
    variable: bool = False
    seconds: float = 0.0
    error: str = ""


@dataclass
class Scored:
    item: Item
    crate: Estimate
    base: Estimate
    extra: dict = field(default_factory=dict)


# --- scores -------------------------------------------------------------------------------------


def within(bpm: float | None, reference: float, tolerance: float) -> bool:
    return bpm is not None and abs(bpm - reference) <= tolerance


def acc1(bpm: float | None, reference: float) -> bool:
    return bpm is not None and abs(bpm - reference) <= 0.04 * reference


def acc2(bpm: float | None, reference: float) -> bool:
    return any(acc1(bpm, reference * factor) for factor in (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0))


def mirex_key_score(estimate: Key | None, reference: Key) -> float:
    """MIREX weighted key score: same 1.0, a fifth above or below in the same mode 0.5, relative
    0.3, parallel 0.2 (mir_eval's ``key.weighted_score``)."""
    if estimate is None:
        return 0.0
    if estimate == reference:
        return 1.0
    interval = (estimate.pitch_class - reference.pitch_class) % 12
    if estimate.minor == reference.minor and interval in (5, 7):
        return 0.5
    if estimate.minor != reference.minor:
        if estimate == reference.relative():
            return 0.3
        if interval == 0:
            return 0.2
    return 0.0


def downbeat_errors(estimate: Estimate, item: Item) -> tuple[float, float] | None:
    """(error to the first downbeat, error to the nearest bar line), seconds; None if not scorable."""
    if item.first_downbeat is None or item.bpm is None or estimate.first_downbeat is None:
        return None
    bar = 4 * 60.0 / item.bpm
    offset = estimate.first_downbeat - item.first_downbeat
    phase = offset - bar * round(offset / bar)
    return abs(offset), abs(phase)


# --- analysers ----------------------------------------------------------------------------------


def analyse_crate(path: str, options: AnalysisOptions) -> Estimate:
    from crate_app.analysis import analyze_file
    from crate_app.domain.errors import DecodeError

    started = time.perf_counter()
    try:
        result = analyze_file(path, options)
    except DecodeError as error:
        return Estimate(error=f"DecodeError: {error}")
    return Estimate(
        bpm=result.bpm,
        key=Key.from_code(result.key) if result.key is not None else None,
        first_beat=result.first_beat,
        first_downbeat=result.first_downbeat,
        bpm_alt=result.bpm_alt,
        variable=result.bpm_variable,
        seconds=time.perf_counter() - started,
    )


def analyse_baseline(path: str) -> Estimate:
    """Plain librosa: beat_track on the whole file at 22050 Hz; mean chroma_stft against the
    Krumhansl-Kessler profiles.  (Decoded with Crate's PyAV decoder: librosa.load needs an external
    ffmpeg for M4A.)"""
    import librosa

    from crate_app.analysis.decode import decode_excerpt
    from crate_app.domain.errors import DecodeError

    started = time.perf_counter()
    try:
        audio = decode_excerpt(path, 22050, 0.0)
    except DecodeError as error:
        return Estimate(error=f"DecodeError: {error}")
    y = audio.samples
    tempo, beats = librosa.beat.beat_track(y=y, sr=22050, units="time")
    bpm = float(np.atleast_1d(tempo)[0]) or None
    chroma = librosa.feature.chroma_stft(y=y, sr=22050).mean(axis=1)
    best, best_key = -2.0, None
    for tonic in range(12):
        rotated = np.roll(chroma, -tonic)
        for minor, profile in ((False, KK_MAJOR), (True, KK_MINOR)):
            score = float(np.corrcoef(rotated, profile)[0, 1])
            if score > best:
                best, best_key = score, Key(tonic, minor)
    return Estimate(
        bpm=round(bpm, 2) if bpm else None,
        key=best_key if np.any(chroma > 0) else None,
        first_beat=float(beats[0]) if len(beats) else None,
        seconds=time.perf_counter() - started,
    )


def analyse_item(item: Item, options: AnalysisOptions, baseline: bool = True) -> Scored:
    base = analyse_baseline(str(item.path)) if baseline else Estimate(error=NOT_RUN)
    return Scored(item, analyse_crate(str(item.path), options), base)


def analyse_synthetic(
    spec, index: int, folder: str, options: AnalysisOptions, baseline: bool = True
) -> Scored:
    from analysis_synth import render
    from audiofactory import encode

    fmt = SYNTH_FORMATS[index % len(SYNTH_FORMATS)]
    path = Path(folder) / f"{index:03d}-{spec.style}-{spec.bpm:.2f}.{fmt}"
    path.write_bytes(encode(render(spec), 44100, fmt))
    item = Item(path, spec.bpm, Key(spec.tonic, spec.minor), 0.0, spec.style)
    try:
        return analyse_item(item, options, baseline)
    finally:
        path.unlink()


# --- sets ---------------------------------------------------------------------------------------


def read_set(folder: Path) -> list[Item]:
    """The annotated files of a set folder (annotations.csv)."""
    table = folder / "annotations.csv"
    if not table.exists():
        sys.exit(f"{folder}: no annotations.csv (columns file, bpm, key[, first_downbeat, genre])")
    items = []
    with open(table, newline="") as handle:
        for row in csv.DictReader(handle):
            path = folder / row["file"]
            if not path.exists():
                print(f"  (missing: {path})")
                continue
            downbeat = (row.get("first_downbeat") or "").strip()
            items.append(
                Item(
                    path,
                    float(row["bpm"]) if (row.get("bpm") or "").strip() else None,
                    parse_key(row.get("key") or None),
                    float(downbeat) if downbeat else None,
                    (row.get("genre") or "").strip(),
                )
            )
    return items


def shared_set() -> list[Item]:
    audio = TESTDATA / "audio"
    if not audio.is_dir():
        print(f"(test data not found at {TESTDATA}: shared clips skipped)")
        return []
    # dubstep.*: a reference analysis (not a human annotation) gives ~140 BPM, A minor.
    items = [Item(path, 140.0, Key(9, True), genre="dubstep") for path in sorted(audio.glob("dubstep.*"))]
    items.append(Item(audio / "madmom_sample.wav", 87.5, None))
    return items


# --- report -------------------------------------------------------------------------------------


def share(flags: list[bool]) -> str:
    if not flags:
        return "    -        "
    return f"{100.0 * sum(flags) / len(flags):5.1f} % ({sum(flags):2d}/{len(flags):2d})"


def report(title: str, scored: list[Scored]) -> dict:
    print(f"\n=== {title}: {len(scored)} files")
    timed = [s for s in scored if s.item.bpm is not None]
    in_range = [s for s in timed if 70 <= s.item.bpm <= 180]
    keyed = [s for s in scored if s.item.key is not None]
    summary = {}
    print(f"  {'':24} {'Crate':>18}   {'librosa baseline':>18}")
    rows = [
        ("BPM within 0.1", timed, lambda e, s: within(e.bpm, s.item.bpm, 0.1)),
        ("Acc1 (4 %)", timed, lambda e, s: acc1(e.bpm, s.item.bpm)),
        ("Acc1, refs 70-180 BPM", in_range, lambda e, s: acc1(e.bpm, s.item.bpm)),
        ("Acc2 (x2 /2 x3 /3)", timed, lambda e, s: acc2(e.bpm, s.item.bpm)),
        ("key exact", keyed, lambda e, s: e.key == s.item.key),
    ]
    for label, group, test in rows:
        crate = [test(s.crate, s) for s in group]
        base = [test(s.base, s) for s in group]
        summary[label] = (crate, base)
        print(f"  {label:24} {share(crate):>18}   {share(base):>18}")
    if keyed:
        crate = sum(mirex_key_score(s.crate.key, s.item.key) for s in keyed) / len(keyed)
        base = sum(mirex_key_score(s.base.key, s.item.key) for s in keyed) / len(keyed)
        print(f"  {'key MIREX weighted':24} {100 * crate:12.1f} %     {100 * base:12.1f} %")
    downbeats = [(s, downbeat_errors(s.crate, s.item)) for s in scored]
    downbeats = [(s, e) for s, e in downbeats if e is not None]
    annotated = [s for s in scored if s.item.first_downbeat is not None and s.item.bpm is not None]
    if annotated:
        first = [e is not None and e[0] <= DOWNBEAT_TOLERANCE for s, e in
                 ((s, downbeat_errors(s.crate, s.item)) for s in annotated)]  # fmt: skip
        phase = [e is not None and e[1] <= DOWNBEAT_TOLERANCE for s, e in
                 ((s, downbeat_errors(s.crate, s.item)) for s in annotated)]  # fmt: skip
        print(f"  {'first downbeat <= 10 ms':24} {share(first):>18}   {'(none)':>18}")
        print(f"  {'bar lines <= 10 ms':24} {share(phase):>18}")
        if downbeats:
            median = np.median([e[1] for _, e in downbeats]) * 1000
            print(f"  {'median bar-line error':24} {median:10.1f} ms")
    flagged = [s for s in scored if s.crate.variable]
    if flagged:
        print(f"  flagged variable tempo: {', '.join(s.item.path.name for s in flagged)}")
    crate_time = sorted(s.crate.seconds for s in scored)
    print(f"  Crate analyze_file wall time: median {crate_time[len(crate_time) // 2]:.2f} s (shared CPU)")

    misses = []
    for s in scored:
        problems = []
        for who, e in (("crate", s.crate), ("base", s.base)):
            if e.error and e.error != NOT_RUN:
                problems.append(f"{who}: {e.error}")
        if s.item.bpm is not None and not within(s.crate.bpm, s.item.bpm, 0.1):
            kind = (
                "4%"
                if acc1(s.crate.bpm, s.item.bpm)
                else ("octave" if acc2(s.crate.bpm, s.item.bpm) else "wrong")
            )
            alt = f" (alt {s.crate.bpm_alt})" if s.crate.bpm_alt else ""
            problems.append(f"bpm {s.item.bpm:.2f} -> {s.crate.bpm}{alt} [{kind}; base {s.base.bpm}]")
        if s.item.key is not None and s.crate.key != s.item.key:
            got = s.crate.key.musical() if s.crate.key else None
            base = s.base.key.musical() if s.base.key else None
            problems.append(f"key {s.item.key.musical()} -> {got} [base {base}]")
        errors = downbeat_errors(s.crate, s.item)
        if s.item.first_downbeat is not None and (errors is None or errors[0] > DOWNBEAT_TOLERANCE):
            got = (
                "none"
                if errors is None
                else f"{s.crate.first_downbeat:.3f} (bar-line error {1000 * errors[1]:.0f} ms)"
            )
            problems.append(f"downbeat {s.item.first_downbeat:.3f} -> {got}")
        if problems:
            misses.append(f"    {s.item.path.name}: " + "; ".join(problems))
    if misses:
        print("  misses:")
        print("\n".join(misses))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=FOLDER", help="an annotated folder"
    )
    parser.add_argument(
        "--synthetic", type=int, default=0, help="sine-and-noise regression tracks (0 = none)"
    )
    parser.add_argument("--seed", type=int, default=31337, help="seed of the synthetic set")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--sample-rate", type=int, default=AnalysisOptions().sample_rate)
    parser.add_argument("--excerpt", type=float, default=AnalysisOptions().excerpt_seconds)
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip plain librosa (quicker; its columns read 0)"
    )
    args = parser.parse_args()
    options = AnalysisOptions(sample_rate=args.sample_rate, excerpt_seconds=args.excerpt)
    baseline = not args.no_baseline
    print(f"Crate options: {options}")
    started = time.perf_counter()

    sets: list[tuple[str, list[Item]]] = []
    for spec in args.set:
        name, _, folder = spec.partition("=")
        if not folder:
            name, folder = Path(spec).name, spec
        sets.append((name, read_set(Path(folder))))
    sets.append(("shared", shared_set()))

    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [
            (name, [pool.submit(analyse_item, item, options, baseline) for item in items])
            for name, items in sets
        ]
        synthetic = []
        if args.synthetic:
            from analysis_synth import make_specs

            folder = tempfile.mkdtemp(prefix="crate-accuracy-")
            specs = make_specs(args.synthetic, seed=args.seed, seconds=120.0)
            synthetic = [
                pool.submit(analyse_synthetic, spec, i, folder, options, baseline)
                for i, spec in enumerate(specs)
            ]
        for name, pending in futures:
            report(name, [f.result() for f in pending])
        if synthetic:
            report(f"synthetic sine-and-noise regression (seed {args.seed})", [f.result() for f in synthetic])
            os.rmdir(folder)
    print(
        f"\nTotal wall time {time.perf_counter() - started:.0f} s (the CPU is shared; niced runs are slower)"
    )


if __name__ == "__main__":
    main()
