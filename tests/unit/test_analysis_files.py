"""analyze_file on real encoded files: exact BPM and key, format agreement, clear errors, bounded work."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from audiofactory import encode, tone

from crate_app.analysis import analyze_file
from crate_app.analysis import decode as decode_module
from crate_app.analysis.decode import decode_excerpt, excerpt_window, format_position
from crate_app.domain.errors import DecodeError
from crate_app.domain.keys import Key
from crate_app.domain.track import AnalysisOptions

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
from analysis_synth import TrackSpec, render  # noqa: E402

# One short track per format: (format, spec).  Tempi and keys spread over the range DJs use.
TRACKS = [
    ("mp3", TrackSpec(124.0, 9, True, "house", (0, 3, 4, 5), seconds=36, seed=11)),  # A minor
    ("flac", TrackSpec(140.0, 7, False, "trance", (0, 4, 5, 3), seconds=36, arpeggio=True, seed=12)),  # G
    ("m4a", TrackSpec(174.0, 5, True, "dnb", (0, 5, 3, 4), seconds=36, seed=13)),  # F minor
    ("ogg", TrackSpec(92.5, 3, False, "hiphop", (0, 3, 4, 5), seconds=38, swing=0.2, seed=14)),  # Eb
    ("wav", TrackSpec(128.0, 1, True, "techno", (0, 3, 5, 4), seconds=36, detune_cents=-22, seed=15)),  # C#m
]


@pytest.fixture(scope="module")
def tracks(tmp_path_factory) -> dict[str, tuple[Path, TrackSpec]]:
    folder = tmp_path_factory.mktemp("tracks")
    made = {}
    for fmt, spec in TRACKS:
        path = folder / f"{spec.style}.{fmt}"
        path.write_bytes(encode(render(spec), 44100, fmt))
        made[fmt] = (path, spec)
    return made


@pytest.mark.parametrize("fmt", [fmt for fmt, _ in TRACKS])
def test_exact_bpm_and_key(tracks, fmt: str) -> None:
    path, spec = tracks[fmt]
    result = analyze_file(path, AnalysisOptions())
    assert result.bpm == pytest.approx(spec.bpm, abs=0.05)
    assert result.key == Key(spec.tonic, spec.minor).code
    assert result.bpm_confidence > 0.5
    assert result.key_confidence > 0.1
    assert result.duration == pytest.approx(spec.seconds, abs=0.2)
    beats = np.diff(result.beat_times)
    assert np.allclose(beats, 60.0 / spec.bpm, atol=0.002)
    # The grid reaches back to the file's start: the track's beats and bars start at 0 s.
    period = 60.0 / spec.bpm
    assert 0 <= result.first_beat < period
    assert min(result.first_beat, period - result.first_beat) < 0.012
    bar_phase = result.first_downbeat % (4 * period)
    assert min(bar_phase, 4 * period - bar_phase) < 0.012


def test_an_mp3_excerpt_lines_up_with_the_whole_track(tracks) -> None:
    """MP3 timestamps count from the encoder delay: a seeked excerpt must not land ~25 ms late."""
    path, _ = tracks["mp3"]
    whole = decode_excerpt(path, 11025, 0.0)
    part = decode_excerpt(path, 11025, 10.0)
    first = round((part.start - whole.start) * 11025)
    piece = part.samples[:11025]
    lags = range(-400, 401)
    best = max(
        lags, key=lambda lag: float(np.dot(whole.samples[first + lag : first + lag + len(piece)], piece))
    )
    assert abs(best) <= 11  # 1 ms


def test_bpm_folds_into_the_users_range(tracks) -> None:
    path, _ = tracks["ogg"]  # 92.5 BPM
    assert analyze_file(path, AnalysisOptions(bpm_min=120, bpm_max=240)).bpm == pytest.approx(185.0, abs=0.1)
    path, _ = tracks["m4a"]  # 174 BPM
    assert analyze_file(path, AnalysisOptions(bpm_min=60, bpm_max=120)).bpm == pytest.approx(87.0, abs=0.05)


def test_worker_threads_give_the_same_answers(tracks) -> None:
    paths = [path for path, _ in tracks.values()][:4]
    serial = [analyze_file(p) for p in paths]
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = list(pool.map(analyze_file, paths))
    assert [(r.bpm, r.key) for r in threaded] == [(r.bpm, r.key) for r in serial]


def test_excerpt_comes_from_the_middle(tmp_path: Path) -> None:
    rate = 22050
    # 60 s: 20 s at 220 Hz, 20 s at 440 Hz, 20 s at 880 Hz.
    signal = np.concatenate([tone(20.0, rate, freq, channels=1)[0] for freq in (220.0, 440.0, 880.0)])
    path = tmp_path / "steps.flac"
    path.write_bytes(encode(signal[np.newaxis, :], rate, "flac"))
    audio = decode_excerpt(path, 11025, excerpt_seconds=16.0)
    assert audio.start == pytest.approx(22.0, abs=0.05)
    assert audio.seconds == pytest.approx(16.0, abs=0.01)
    assert audio.duration == pytest.approx(60.0, abs=0.01)
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert np.argmax(spectrum) * 11025 / len(audio.samples) == pytest.approx(440.0, abs=1.0)
    # The excerpt lines up with the same stretch of a full decode.
    full = decode_excerpt(path, 11025, excerpt_seconds=0)
    offset = round(22.0 * 11025)
    reference = full.samples[offset : offset + len(audio.samples)]
    assert np.corrcoef(reference[1000:-1000], audio.samples[1000:-1000])[0, 1] > 0.99


def test_excerpt_window() -> None:
    assert excerpt_window(240.0, 90.0) == (75.0, 90.0)
    assert excerpt_window(60.0, 90.0) == (0.0, None)
    assert excerpt_window(240.0, 0.0) == (0.0, None)
    assert excerpt_window(None, 90.0) == (0.0, 90.0)
    assert [format_position(s) for s in (0, 42.7, 725, 3723)] == ["0:00", "0:42", "12:05", "1:02:03"]


def test_dubstep_formats_agree(testdata: Path) -> None:
    paths = sorted((testdata / "audio").glob("dubstep.*"))
    assert {p.suffix for p in paths} == {".wav", ".flac", ".mp3", ".ogg", ".aac"}
    durations = [decode_excerpt(p, 11025, 90.0).seconds for p in paths]
    assert max(durations) - min(durations) < 0.06
    results = [analyze_file(p) for p in paths]
    bpms = [r.bpm for r in results]
    assert all(b is not None and abs(b - 140.0) <= 0.04 * 140.0 for b in bpms)  # reference: ~140
    assert max(bpms) - min(bpms) < 0.1
    assert len({r.key for r in results}) == 1  # every codec gives the same key


def test_madmom_clip_tempo_is_reported(testdata: Path) -> None:
    result = analyze_file(testdata / "audio" / "madmom_sample.wav")
    assert result.bpm is not None and 70 <= result.bpm <= 180
    assert result.analysed_seconds == pytest.approx(2.8, abs=0.01)


def test_silence_has_no_bpm_or_key(tmp_path: Path) -> None:
    path = tmp_path / "silence.flac"
    path.write_bytes(encode(np.zeros((2, 44100 * 10), dtype=np.float32), 44100, "flac"))
    result = analyze_file(path)
    assert result.bpm is None and result.key is None
    assert result.bpm_confidence == 0.0 and result.key_confidence == 0.0


# ---- errors -------------------------------------------------------------------------------------------


def _error(path: Path, **options) -> str:
    with pytest.raises(DecodeError) as caught:
        analyze_file(path, AnalysisOptions(**options))
    return str(caught.value)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp3"
    path.write_bytes(b"")
    assert _error(path) == "file is empty"


def test_text_renamed_mp3(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("Shopping list\n- vinyl\n- headphones\n" * 20)
    assert _error(path) == "not an audio file"


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert _error(tmp_path / "gone.mp3") == "file not found"
    folder = tmp_path / "folder.mp3"
    folder.mkdir()
    assert "folder" in _error(folder)


@pytest.mark.parametrize("fmt", ["mp3", "flac"])
def test_truncated_file_says_so(tmp_path: Path, fmt: str) -> None:
    data = encode(tone(30.0), 44100, fmt)
    path = tmp_path / f"cut.{fmt}"
    path.write_bytes(data[: len(data) // 3])
    message = _error(path)
    assert message.startswith("file is truncated: audio stops at 0:")
    assert "the header says 0:30" in message


def test_truncated_m4a_without_index(tmp_path: Path) -> None:
    data = encode(tone(10.0), 44100, "m4a")
    path = tmp_path / "cut.m4a"
    path.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: gone
    assert _error(path).startswith("damaged or truncated audio file")


def test_corrupt_packets_midway_fail_with_the_position(tmp_path: Path) -> None:
    data = bytearray(encode(tone(20.0), 44100, "flac"))
    rng = np.random.default_rng(3)
    start = len(data) // 2
    data[start:] = rng.integers(0, 256, len(data) - start, dtype=np.uint8).tobytes()
    path = tmp_path / "noise.flac"
    path.write_bytes(bytes(data))
    message = _error(path)
    assert message.startswith(("decoding failed at 0:", "file is truncated")), message


# Malformed samples from tinytag's test set, with the plain-language error each must give.
TINYTAG_ERRORS = {
    "empty_file.mp3": "file is empty",
    "empty_file.m4a": "file is empty",
    "detect_none.x": "not an audio file",
    "EXPECTED_tinytag_TEST_FILES.json": "not an audio file",
    "mpeg4_xa9des.m4a": "no audio stream",
    "ilbm.aiff": "no audio stream",
    "magic_bytes_only_flac.x": "damaged or truncated audio file",
    "magic_bytes_only_mp4.x": "damaged or truncated audio file",
    "mp4_extended_size_truncated.m4a": "damaged or truncated audio file",
    "test.m4a": "file is truncated: the header says 5:14 but there is no audio data",
    "vbri.mp3": "file is truncated",
    "no_audio_data_uncompressed.wav": "no audio data in the file",
    "zero_value_properties.flac": "decoding failed at 0:00",
}


@pytest.mark.parametrize(("name", "message"), sorted(TINYTAG_ERRORS.items()))
def test_malformed_tinytag_samples(testdata: Path, name: str, message: str) -> None:
    assert _error(testdata / "tags" / "tinytag" / name).startswith(message)


def test_every_tinytag_sample_gives_a_result_or_a_decode_error_quickly(testdata: Path) -> None:
    """No sample makes the analysis spin: each takes a bounded amount of CPU time (CPU, not wall time,
    so that a loaded machine or a parallel test worker does not fail it; the warm-up comes first)."""
    from crate_app.analysis import warm_up

    warm_up()
    failures = []
    for path in sorted((testdata / "tags" / "tinytag").iterdir()):
        started = time.process_time()
        try:
            analyze_file(path, AnalysisOptions(excerpt_seconds=20.0))
        except DecodeError as error:
            assert str(error), path.name
        except Exception as error:  # pragma: no cover - reported below
            failures.append(f"{path.name}: {type(error).__name__}: {error}")
        if time.process_time() - started > 10.0:
            failures.append(f"{path.name}: took {time.process_time() - started:.1f} s of CPU")
    assert not failures


def test_decode_is_bounded_by_the_deadline(tmp_path: Path) -> None:
    path = tmp_path / "long.mp3"
    path.write_bytes(encode(tone(20.0), 44100, "mp3"))
    assert _error(path, timeout_seconds=0.001).startswith(("decoding took longer than", "opening the file"))


def test_decode_is_bounded_by_the_duration_cap(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "long.flac"
    path.write_bytes(encode(tone(20.0), 44100, "flac"))
    monkeypatch.setattr(decode_module, "MAX_DECODE_SECONDS", 3.0)
    assert decode_excerpt(path, 11025, excerpt_seconds=0).seconds == pytest.approx(3.0, abs=0.01)


def test_invalid_options() -> None:
    with pytest.raises(ValueError):
        analyze_file("x.mp3", AnalysisOptions(bpm_min=150, bpm_max=100))
    with pytest.raises(ValueError):
        analyze_file("x.mp3", AnalysisOptions(sample_rate=100))


# ---- import cost and start-up helpers ---------------------------------------------------------------


def _run(code: str, **env: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=300,
    )
    return completed.stdout.strip()


def test_importing_the_package_loads_no_heavy_module() -> None:
    loaded = _run(
        "import sys, crate_app.analysis; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('librosa', 'numba', 'av', 'scipy')))"
    )
    assert loaded == "[]"


def test_analysing_a_file_loads_neither_librosa_nor_numba(tmp_path: Path) -> None:
    """The analysis is numpy and scipy.fft (``dsp``): librosa, numba and llvmlite are not in the app's
    bundle, so a file's analysis must not import them (a fresh process: this one may have them)."""
    from crate_app import selftest

    click = tmp_path / "click.wav"
    selftest.write_wav(click, selftest.click_track(seconds=12.0), selftest.SAMPLE_RATE)
    out = _run(
        "import sys; from crate_app.analysis import analyze_file, warm_up; warm_up(); "
        f"result = analyze_file({str(click)!r}); "
        "print(round(result.bpm)); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'librosa', 'numba', 'llvmlite'}))"
    )
    assert out.splitlines() == [str(round(selftest.CLICK_BPM)), "[]"]


def test_warm_up_runs() -> None:
    from crate_app.analysis import warm_up

    warm_up()
    warm_up()  # idempotent


@pytest.mark.parametrize("fmt", ["mp3", "flac", "m4a", "ogg", "wav"])
def test_randomly_damaged_files_never_escape_or_hang(tmp_path: Path, fmt: str) -> None:
    from crate_app.analysis import warm_up

    warm_up()  # the first use loads the libraries: keep that out of the timing below
    data = encode(tone(8.0), 44100, fmt)
    rng = np.random.default_rng(7)
    for attempt in range(4):
        damaged = bytearray(data)
        # Overwrite a few stretches anywhere, headers included.
        for _ in range(3):
            start = int(rng.integers(0, len(damaged) - 64))
            damaged[start : start + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
        path = tmp_path / f"damaged{attempt}.{fmt}"
        path.write_bytes(bytes(damaged))
        started = time.process_time()
        try:
            result = analyze_file(path, AnalysisOptions(timeout_seconds=10.0))
        except DecodeError as error:
            assert str(error)
        else:
            assert result.analysed_seconds is not None and result.analysed_seconds > 0
        assert time.process_time() - started < 15.0  # CPU time: no spinning on damaged data


def test_decoding_mixes_channels_to_their_mean_and_survives_a_rate_change(tmp_path: Path) -> None:
    """FFmpeg's filter graph mixes down and resamples: stereo becomes the mean of the channels (the
    overview's levels are absolute), and a stream whose rate changes midway (two MP3s joined) is
    decoded whole, through a new graph for the second part."""
    rate = 44100
    sine = np.sin(2 * np.pi * 440.0 * np.arange(3 * rate) / rate).astype(np.float32)
    left_only = tmp_path / "left.flac"
    left_only.write_bytes(encode(np.stack([sine, np.zeros_like(sine)]), rate, "flac"))
    mono = decode_excerpt(left_only, 11025).samples
    assert np.sqrt(np.mean(mono**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)
    slower = np.sin(2 * np.pi * 440.0 * np.arange(3 * 22050) / 22050).astype(np.float32)
    joined = tmp_path / "joined.mp3"
    joined.write_bytes(encode(np.stack([sine, sine]), rate, "mp3") + encode(slower[None, :], 22050, "mp3"))
    audio = decode_excerpt(joined, 11025)
    assert audio.seconds == pytest.approx(6.0, abs=0.1)
    first, second = audio.samples[2000:20000], audio.samples[-20000:-2000]
    assert np.sqrt(np.mean(first**2)) == pytest.approx(np.sqrt(0.5), rel=0.1)  # (the encoder: -5 %)
    assert np.sqrt(np.mean(second**2)) == pytest.approx(np.sqrt(0.5), rel=0.1)
