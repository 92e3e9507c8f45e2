"""The pure parts of tempo and key estimation: beat-line fit, octave folding, key profiles."""

from __future__ import annotations

import numpy as np
import pytest

from crate_app.analysis.key import (
    MAJOR_PROFILE,
    MINOR_HEAD_START,
    MINOR_PROFILE,
    estimate_key,
    key_scores,
    register_weights,
)
from crate_app.analysis.tempo import beat_numbers, fit_beat_line, fold_bpm, refine_peaks
from crate_app.domain.keys import Key, all_keys


def _beats(bpm: float, count: int, start: float = 0.3) -> np.ndarray:
    return start + np.arange(count) * 60.0 / bpm


@pytest.mark.parametrize("bpm", [87.5, 124.0, 128.0, 140.0, 174.0, 123.45])
def test_line_fit_recovers_exact_tempo_from_frame_quantised_beats(bpm: float) -> None:
    frame = 512 / 22050
    quantised = np.round(_beats(bpm, 200) / frame) * frame  # what a frame-based tracker reports
    fit = fit_beat_line(quantised)
    assert fit is not None
    assert 60.0 / fit.period == pytest.approx(bpm, abs=0.01)
    assert fit.inliers == 200


def test_line_fit_survives_missing_extra_and_misplaced_beats() -> None:
    rng = np.random.default_rng(1)
    times = _beats(126.0, 180) + rng.normal(0, 0.004, 180)
    times = np.delete(times, [10, 11, 50, 120])  # dropped beats (a break)
    times = np.sort(np.concatenate([times, [times[30] + 0.2, times[90] + 0.23]]))  # off-beat detections
    times[60] += 0.09  # one beat badly placed
    fit = fit_beat_line(times)
    assert fit is not None
    assert 60.0 / fit.period == pytest.approx(126.0, abs=0.03)
    assert fit.inliers < fit.total


def test_line_fit_needs_enough_beats() -> None:
    assert fit_beat_line(_beats(120, 3)) is None
    assert fit_beat_line(np.array([])) is None


def test_beat_numbers_count_gaps_and_skip_doubles() -> None:
    times = np.array([0.0, 0.5, 1.0, 1.05, 2.0, 2.5])
    assert beat_numbers(times, 0.5).tolist() == [0, 1, 2, -1, 4, 5]


def test_refine_peaks_moves_to_the_parabola_vertex() -> None:
    envelope = np.array([0.0, 1.0, 3.0, 2.0, 0.0])
    refined = refine_peaks(envelope, np.array([2]))
    assert 2.0 < refined[0] < 2.5  # the right neighbour is higher: the true peak is right of frame 2
    assert refine_peaks(envelope, np.array([0, 4])).tolist() == [0.0, 4.0]  # edges stay


@pytest.mark.parametrize(
    ("bpm", "low", "high", "expected"),
    [
        (87.5, 70, 180, 87.5),
        (175.0, 70, 180, 175.0),
        (60.0, 70, 180, 120.0),
        (190.0, 70, 180, 95.0),
        (87.5, 90, 180, 175.0),
        (200.0, 90, 110, 100.0),
        (130.0, 60, 80, 65.0),
        (160.0, 85, 95, 80.0),  # nothing fits: the octave nearest to the range
    ],
)
def test_fold_bpm(bpm: float, low: float, high: float, expected: float) -> None:
    assert fold_bpm(bpm, low, high) == pytest.approx(expected)


def test_fold_bpm_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        fold_bpm(0.0, 70, 180)
    with pytest.raises(ValueError):
        fold_bpm(float("nan"), 70, 180)


@pytest.mark.parametrize("key", all_keys())
def test_key_scores_pick_the_key_of_its_own_profile(key: Key) -> None:
    profile = np.roll(MINOR_PROFILE if key.minor else MAJOR_PROFILE, key.pitch_class)
    scores = key_scores(profile)
    assert int(np.argmax(scores)) == key.code
    assert scores[key.code] == pytest.approx(1.0 + (MINOR_HEAD_START if key.minor else 0.0))


def test_key_scores_of_silence_are_flat() -> None:
    assert np.all(key_scores(np.zeros(12)) == -1.0)


def _chords(tonic_hz: float, minor: bool, seconds: float, rate: int, cents: float = 0.0) -> np.ndarray:
    """i-iv-v-VI or I-IV-V-vi as sawtooth-like triads with a bass on the roots."""
    steps = (0, 2, 3, 5, 7, 8, 10) if minor else (0, 2, 4, 5, 7, 9, 11)
    t = np.arange(int(seconds / 4 * rate)) / rate
    out = []
    for degree in (0, 3, 4, 5):
        chord = np.zeros_like(t)
        for k, octave in ((0, -1), (0, 0), (2, 0), (4, 0)):
            index = degree + k
            semitone = steps[index % 7] + 12 * (index // 7 + octave)
            freq = tonic_hz * 2 ** (semitone / 12 + cents / 1200)
            for partial in range(1, 5):
                chord += np.sin(2 * np.pi * freq * partial * t) / partial
        out.append(chord)
    return (0.1 * np.concatenate(out)).astype(np.float32)


@pytest.mark.parametrize(
    ("tonic_hz", "minor", "cents", "expected"),
    [
        (220.0, True, 0.0, Key(9, True)),  # A minor
        (261.63, False, 0.0, Key(0, False)),  # C major
        (185.0, True, 28.0, Key(6, True)),  # F# minor, 28 cents sharp
        (311.13, False, -27.0, Key(3, False)),  # Eb major, 27 cents flat
    ],
)
def test_estimate_key_on_synthetic_progressions(
    tonic_hz: float, minor: bool, cents: float, expected: Key
) -> None:
    estimate = estimate_key(_chords(tonic_hz, minor, 16.0, 11025, cents), 11025)
    assert estimate.key == expected
    assert estimate.confidence > 0.3
    assert abs(estimate.tuning * 100 - cents) < 12


def test_estimate_key_of_silence_and_of_too_little_audio() -> None:
    assert estimate_key(np.zeros(11025 * 5, dtype=np.float32), 11025).key is None
    assert estimate_key(np.ones(100, dtype=np.float32), 11025).key is None


def _hats(seconds: float, rate: int, level: float) -> np.ndarray:
    """Eighth-note hi-hats at 128 BPM: bursts of noise above ~2.5 kHz, louder than the chords."""
    rng = np.random.default_rng(7)
    noise = np.diff(rng.standard_normal(int(seconds * rate) + 1), n=1)  # tilted towards the top
    noise = np.diff(noise, n=1, append=0.0)
    t = np.arange(len(noise)) / rate
    envelope = np.exp(-((t % (60 / 128 / 2)) * 60))
    return (level * noise * envelope / np.max(np.abs(noise))).astype(np.float32)


@pytest.mark.parametrize(
    ("tonic_hz", "minor", "expected"),
    [(220.0, True, Key(9, True)), (311.13, False, Key(3, False))],  # A minor, Eb major
)
def test_estimate_key_ignores_loud_hi_hats(tonic_hz: float, minor: bool, expected: Key) -> None:
    chords = _chords(tonic_hz, minor, 16.0, 11025)
    mix = chords + _hats(len(chords) / 11025, 11025, 4 * float(np.max(np.abs(chords))))
    assert estimate_key(mix, 11025).key == expected


def test_register_weights_favour_the_middle_of_the_keyboard() -> None:
    weights = register_weights(2049, 11025, 4096)
    freqs = np.arange(2049) * 11025 / 4096
    at = {hz: weights[int(np.argmin(np.abs(freqs - hz)))] for hz in (20, 60, 250, 1000, 4000)}
    assert at[20] == 0.0  # below what a 0.37 s window can place in a pitch class
    assert at[250] > 0.99
    assert at[60] < 0.5 and at[1000] < 0.25 and at[4000] < 0.01


@pytest.mark.parametrize(("bpm", "seed"), [(125.0, 58), (132.0, 3)])
def test_a_tempo_between_two_whole_frame_lags_is_found_exactly(tmp_path, bpm: float, seed: int) -> None:
    """At 43 onset frames a second, 125 BPM lies between the lags of 123.0 and 129.2 BPM. A beat tracker
    started at the prior's whole-frame lag kept that spacing through a breakdown without drums, and a
    house track came out 1-1.5 % slow (125 -> 123.68, 132 -> 130.61)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from player_bench import house_track

    from crate_app.analysis import analyze_file
    from crate_app.selftest import write_wav

    path = tmp_path / "house.wav"
    write_wav(path, house_track(120.0, bpm=bpm, seed=seed).mean(axis=0), 44100)
    assert analyze_file(str(path)).bpm == pytest.approx(bpm, abs=0.05)
