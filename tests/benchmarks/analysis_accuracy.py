"""Accuracy of BPM and key analysis on synthetic tracks with known answers and on the shared test clips.

Run: .venv/bin/python tests/benchmarks/analysis_accuracy.py [--count 48] [--seed 31337] [--jobs 2]

The synthetic tracks (see analysis_synth.py) are rendered at 44.1 kHz stereo, encoded to MP3, FLAC,
M4A and Ogg Vorbis in turn, written to a temporary folder and analysed with ``analyze_file`` and the
default options, like the app does.  The detector was developed on seeds 2024 and 7; the default
seed here is a different one.  ``--sample-rate`` and ``--excerpt`` override the analysis options.
Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

from analysis_synth import TrackSpec, make_specs, render  # noqa: E402
from audiofactory import encode  # noqa: E402

from crate_app.analysis import analyze_file  # noqa: E402
from crate_app.domain.errors import DecodeError  # noqa: E402
from crate_app.domain.keys import Key  # noqa: E402
from crate_app.domain.track import AnalysisOptions  # noqa: E402

FORMATS = ("mp3", "flac", "m4a", "ogg")
TESTDATA = Path(os.environ.get("CRATE_TESTDATA", ROOT.parent / "shared" / "testdata"))


@dataclass
class Outcome:
    name: str
    true_bpm: float
    true_key: Key | None
    bpm: float | None
    bpm_confidence: float
    key: Key | None
    key_confidence: float
    seconds: float  # analysis wall time
    note: str = ""
    alt_bpm: float | None = None


def within(bpm: float | None, reference: float, tolerance: float) -> bool:
    return bpm is not None and abs(bpm - reference) <= tolerance


def acc1(bpm: float | None, reference: float) -> bool:
    return bpm is not None and abs(bpm - reference) <= 0.04 * reference


def acc2(bpm: float | None, reference: float) -> bool:
    return any(acc1(bpm, reference * factor) for factor in (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0))


def mirex_key_score(estimate: Key | None, reference: Key) -> float:
    """MIREX weighted key score: same 1.0, fifth above/below (same mode) 0.5, relative 0.3, parallel 0.2."""
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


def run_synthetic(spec: TrackSpec, index: int, folder: str, options: AnalysisOptions) -> Outcome:
    fmt = FORMATS[index % len(FORMATS)]
    path = Path(folder) / f"{index:03d}-{spec.style}-{spec.bpm:.2f}.{fmt}"
    path.write_bytes(encode(render(spec), 44100, fmt))
    truth = Key(spec.tonic, spec.minor)
    started = time.perf_counter()
    result = analyze_file(path, options)
    elapsed = time.perf_counter() - started
    path.unlink()
    note = f"{fmt} {spec.style}" + (f" detune {spec.detune_cents:+.0f}c" if spec.detune_cents else "")
    note += " swing" if spec.swing else ""
    return Outcome(
        name=f"synth {index:02d}",
        true_bpm=spec.bpm,
        true_key=truth,
        bpm=result.bpm,
        bpm_confidence=result.bpm_confidence,
        key=Key.from_code(result.key) if result.key is not None else None,
        key_confidence=result.key_confidence,
        seconds=elapsed,
        note=note,
    )


def run_real(
    path: Path, bpm: float, key: Key | None, options: AnalysisOptions, alt_bpm: float | None = None
) -> Outcome:
    started = time.perf_counter()
    try:
        result = analyze_file(path, options)
    except DecodeError as error:
        return Outcome(path.name, bpm, key, None, 0.0, None, 0.0, 0.0, note=f"DecodeError: {error}")
    return Outcome(
        name=path.name,
        true_bpm=bpm,
        true_key=key,
        bpm=result.bpm,
        bpm_confidence=result.bpm_confidence,
        key=Key.from_code(result.key) if result.key is not None else None,
        key_confidence=result.key_confidence,
        seconds=time.perf_counter() - started,
        note=f"{result.analysed_seconds:.2f} s of audio",
        alt_bpm=alt_bpm,
    )


def show(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if within(o.bpm, o.true_bpm, 0.1):
            bpm_ok = "ok "
        elif acc1(o.bpm, o.true_bpm):
            bpm_ok = "4% "  # right octave, not exact
        else:
            bpm_ok = "oct" if acc2(o.bpm, o.true_bpm) else "BAD"
        key_ok = "-" if o.true_key is None else ("ok " if o.key == o.true_key else "BAD")
        key_text = o.key.camelot() if o.key else "-"
        true_key = o.true_key.camelot() if o.true_key else "-"
        bpm_text = f"{o.bpm:7.2f}" if o.bpm is not None else "   None"
        print(
            f"  {o.name:22} bpm {o.true_bpm:7.2f} -> {bpm_text} ({o.bpm_confidence:.2f}) {bpm_ok}  "
            f"key {true_key:>3} -> {key_text:>3} ({o.key_confidence:.2f}) {key_ok}  "
            f"{o.seconds:5.2f} s  {o.note}"
        )


def summarise(title: str, outcomes: list[Outcome]) -> None:
    n = len(outcomes)
    if not n:
        return

    def share(flags) -> str:
        flags = list(flags)
        return f"{100.0 * sum(flags) / len(flags):5.1f} % ({sum(flags)}/{len(flags)})"

    print(f"\n{title}: {n} tracks")
    print(f"  BPM within 0.1      {share(within(o.bpm, o.true_bpm, 0.1) for o in outcomes)}")
    print(f"  BPM within 0.01     {share(within(o.bpm, o.true_bpm, 0.0101) for o in outcomes)}")
    print(f"  Acc1 (4 %)          {share(acc1(o.bpm, o.true_bpm) for o in outcomes)}")
    print(f"  Acc2 (4 %, x2 x3)   {share(acc2(o.bpm, o.true_bpm) for o in outcomes)}")
    keyed = [o for o in outcomes if o.true_key is not None]
    if keyed:
        print(f"  key exact           {share(o.key == o.true_key for o in keyed)}")
        mirex = sum(mirex_key_score(o.key, o.true_key) for o in keyed) / len(keyed)
        print(f"  key MIREX weighted  {100.0 * mirex:5.1f} %")
    times = sorted(o.seconds for o in outcomes)
    print(f"  analyse_file wall time per file: median {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=48, help="synthetic tracks (24 keys, evenly)")
    parser.add_argument("--seed", type=int, default=31337)
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each synthetic track")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--sample-rate", type=int, default=AnalysisOptions().sample_rate)
    parser.add_argument("--excerpt", type=float, default=AnalysisOptions().excerpt_seconds)
    args = parser.parse_args()

    specs = make_specs(args.count, seed=args.seed, seconds=args.seconds)
    options = AnalysisOptions(sample_rate=args.sample_rate, excerpt_seconds=args.excerpt)
    print(
        f"Synthetic set: {len(specs)} tracks of {args.seconds:g} s, seed {args.seed}, "
        f"{', '.join(FORMATS)} in turn; {options}"
    )
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="crate-accuracy-") as folder,
        ProcessPoolExecutor(max_workers=args.jobs) as pool,
    ):
        futures = [pool.submit(run_synthetic, spec, i, folder, options) for i, spec in enumerate(specs)]
        synthetic = [f.result() for f in futures]
    show(synthetic)
    summarise("Synthetic set", synthetic)
    traps = [o for o, s in zip(synthetic, specs, strict=True) if s.octave_trap]
    summarise("  of which tempo-octave traps (half-time dubstep, drum & bass)", traps)
    detuned = [o for o, s in zip(synthetic, specs, strict=True) if s.detune_cents]
    summarise("  of which detuned by up to 30 cents", detuned)

    audio = TESTDATA / "audio"
    if audio.is_dir():
        a_minor = Key(9, minor=True)
        real = [run_real(path, 140.0, a_minor, options) for path in sorted(audio.glob("dubstep.*"))]
        real.append(run_real(audio / "madmom_sample.wav", 87.5, None, options, alt_bpm=175.0))
        print(
            "\nShared test clips (dubstep.*: ~140 BPM, A minor, 6.85 s; "
            "madmom_sample: 87.5 BPM, alt 175, 2.8 s)"
        )
        show(real)
        madmom = real[-1]
        print(
            f"  madmom_sample: {madmom.bpm} BPM -> within 4 % of 87.5: {acc1(madmom.bpm, 87.5)}, "
            f"of the alternative 175: {acc1(madmom.bpm, 175.0)}"
        )
        summarise("Shared test clips", real)
    else:
        print(f"\n(test data not found at {TESTDATA}: shared clips skipped)")
    print(
        f"\nTotal wall time {time.perf_counter() - started:.0f} s "
        "(rendering and encoding included; the CPU is shared)"
    )


if __name__ == "__main__":
    main()
