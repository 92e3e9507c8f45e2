"""``crate --self-test``: prove that an installed or bundled Crate works end to end, without a screen.

It builds a throw-away library under a temporary ``CRATE_HOME``, writes real WAV files (a 20 s click
track at 120 BPM over an A minor chord, plus 300 tiny files), scans them with worker processes (the
``spawn`` pool a frozen app must support), analyses the click track (numpy, scipy.fft, PyAV),
fingerprints it with Chromaprint (the bundled libchromaprint), shows a widget on Qt's offscreen
platform, imports the window's module, prints one JSON object and returns the exit code.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
import wave
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

CLICK_BPM = 120.0
CLICK_SECONDS = 20.0
TINY_FILES = 300  # more than the scanner's POOL_MIN_FILES, so the scan starts its process pool
SAMPLE_RATE = 22050
BPM_TOLERANCE = 1.0


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write mono float samples in [-1, 1] as a 16-bit PCM WAV file."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def click_track(
    bpm: float = CLICK_BPM, seconds: float = CLICK_SECONDS, rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Decaying 1 kHz clicks on every beat over a quiet A minor triad."""
    t = np.arange(int(seconds * rate)) / rate
    since_beat = t % (60.0 / bpm)
    clicks = 0.6 * np.sin(2 * np.pi * 1000.0 * t) * np.exp(-since_beat * 60.0)
    chord = sum(0.08 * np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    return (clicks + chord).astype(np.float32)


def make_music(folder: Path) -> Path:
    """The click track plus TINY_FILES short noise files; returns the click track's path."""
    tiny = folder / "tiny"
    tiny.mkdir(parents=True)
    click = folder / "click-120.wav"
    write_wav(click, click_track(), SAMPLE_RATE)
    noise = np.random.default_rng(7).uniform(-0.05, 0.05, size=800)
    for number in range(TINY_FILES):
        write_wav(tiny / f"{number:04d}.wav", noise, 8000)
    return click


def check_worker_pool(paths: list[Path]) -> int:
    """Read tags in a ``spawn`` worker process the way the scanner does; returns the worker's pid.

    The scanner quietly reads in-process when its workers die, so the scan alone would not show a
    broken pool in a frozen app."""
    from crate_app.library.scanner import read_chunk

    entries = [(str(p), p.stat().st_size, p.stat().st_mtime) for p in paths]
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        rows = pool.submit(read_chunk, entries, time.time()).result(timeout=120)
        pid = pool.submit(os.getpid).result(timeout=60)
    if len(rows) != len(entries) or pid == os.getpid():
        raise RuntimeError(f"worker process returned {len(rows)} rows for {len(entries)} files")
    return pid


def check_fingerprint(click: Path, folder: Path) -> dict[str, Any]:
    """Fingerprint the click track with libchromaprint (the library the app bundles, not ``fpcalc``),
    and a quieter copy starting half a second later: both must be found to be one recording (what
    "same recording" duplicates and relinking by fingerprint rely on)."""
    try:
        import acoustid
    except ImportError as exc:
        raise RuntimeError(f"pyacoustid is missing: {exc}") from exc
    if not acoustid.have_chromaprint:
        raise RuntimeError("libchromaprint could not be loaded: no acoustic fingerprints")
    import chromaprint

    from crate_app.hygiene.fingerprint import MIN_VALUES, fingerprint_file, same_recording

    shifted = folder / "click-shifted.wav"
    samples = click_track()
    write_wav(shifted, np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), 0.7 * samples]), SAMPLE_RATE)
    first, second = fingerprint_file(str(click)), fingerprint_file(str(shifted))
    if len(first) < MIN_VALUES or not same_recording(first, second):
        raise RuntimeError(f"fingerprints: {len(first)} values, the shifted copy not recognised")
    version = chromaprint._libchromaprint.chromaprint_get_version()
    return {"chromaprint": version.decode() if isinstance(version, bytes) else str(version),
            "fingerprint_values": len(first)}  # fmt: skip


def check_qt() -> dict[str, Any]:
    """Start Qt (offscreen unless QT_QPA_PLATFORM says otherwise), show and render a widget, and import
    the main window's module."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import __version__ as pyside_version
    from PySide6.QtCore import qVersion
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "crate"])
    label = QLabel("Crate self-test ♫")
    label.resize(240, 60)
    label.show()
    app.processEvents()
    image = label.grab().toImage()
    shown = label.isVisible() and not image.isNull() and image.width() > 0
    label.close()
    if not shown:
        raise RuntimeError("Qt could not show and render a widget")
    return {
        "qt": qVersion(),
        "pyside": pyside_version,
        "platform": app.platformName(),
        "gui": import_main_window_module(),
    }


def import_main_window_module() -> bool:
    """Import the window's module (proves a bundle holds everything it needs).  False only in a source
    checkout that does not have it yet."""
    try:
        import crate_app.gui.app  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "crate_app.gui.app" or getattr(sys, "frozen", False):
            raise
        return False
    return True


def _self_test(home: Path) -> dict[str, Any]:
    started = time.perf_counter()
    os.environ["CRATE_HOME"] = str(home)
    os.environ.pop("CRATE_LIBRARY", None)
    from crate_app import paths
    from crate_app.analysis import analyze_file, warm_up
    from crate_app.domain.keys import format_key_code
    from crate_app.library.scanner import scan_paths
    from crate_app.store.library import open_library

    click = make_music(home / "music")
    timings: dict[str, float] = {}

    mark = time.perf_counter()
    worker_pid = check_worker_pool(sorted((home / "music" / "tiny").iterdir())[:20])
    library = open_library(paths.default_library_path())
    try:
        summary = scan_paths(library, [home / "music"], workers=2).as_dict()
        tracks = library.count()
    finally:
        library.close()
    expected = TINY_FILES + 1
    if summary["added"] != expected or summary["errors"] or tracks != expected:
        raise RuntimeError(f"scan: expected {expected} tracks, got {tracks} ({summary})")
    timings["scan"] = time.perf_counter() - mark

    mark = time.perf_counter()
    warm_up()
    result = analyze_file(click)
    if result.bpm is None or abs(result.bpm - CLICK_BPM) > BPM_TOLERANCE:
        raise RuntimeError(f"analysis: expected {CLICK_BPM} BPM, got {result.bpm}")
    timings["analysis"] = time.perf_counter() - mark

    mark = time.perf_counter()
    fingerprint = check_fingerprint(click, home)
    timings["fingerprint"] = time.perf_counter() - mark

    mark = time.perf_counter()
    qt = check_qt()
    timings["qt"] = time.perf_counter() - mark
    return {
        "ok": True,
        "tracks": tracks,
        "bpm": result.bpm,
        "key": format_key_code(result.key) or None,
        "seconds": round(time.perf_counter() - started, 2),
        "timings": {name: round(value, 2) for name, value in timings.items()},
        "worker_pid": worker_pid,
        **fingerprint,
        "python": platform.python_version(),
        **qt,
        "frozen": bool(getattr(sys, "frozen", False)),
    }


def run_self_test() -> int:
    """Run the self-test; print one JSON object (``ok`` true or false) and return the exit code."""
    home = Path(tempfile.mkdtemp(prefix="crate-selftest-"))
    try:
        report = _self_test(home)
    except Exception as exc:  # report any failure as JSON, with the traceback on stderr
        traceback.print_exc()
        report = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(report), flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(run_self_test())
