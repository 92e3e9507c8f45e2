"""The analysis's own signal processing (``crate_app.analysis.dsp``): spectra, filter banks, onset
strength and the beat tracker, on signals whose answers are known.  No librosa, no audio files."""

from __future__ import annotations

import numpy as np
import pytest

from crate_app.analysis import dsp
from crate_app.analysis.metre import snare_share

RATE = 11025


def test_a_sine_peaks_in_its_bin_and_frames_are_centred() -> None:
    n_fft, hop = 1024, 256
    t = np.arange(RATE) / RATE
    bin_hz = RATE / n_fft
    spectrum = dsp.magnitude_spectrogram(np.sin(2 * np.pi * 40 * bin_hz * t), n_fft, hop)
    assert spectrum.shape == (n_fft // 2 + 1, 1 + RATE // hop)
    assert spectrum.dtype == np.float32
    assert set(np.argmax(spectrum[:, 4:-4], axis=0)) == {40}
    # The Hann window's sum (n_fft / 2) times the sine's amplitude (1/2 per side).
    assert spectrum[40, 10] == pytest.approx(n_fft / 4, rel=1e-3)
    uncentred = dsp.magnitude_spectrogram(np.ones(RATE, np.float32), n_fft, hop, center=False)
    assert uncentred.shape[1] == 1 + (RATE - n_fft) // hop


def test_mel_scale_and_filters() -> None:
    assert dsp.hz_to_mel(1000.0) == pytest.approx(15.0)
    assert dsp.mel_to_hz(dsp.hz_to_mel(np.array([100.0, 1000.0, 4000.0]))) == pytest.approx([100, 1000, 4000])
    n_fft = 1024
    filters = dsp.mel_filters(RATE, n_fft, 64)
    assert filters.shape == (64, n_fft // 2 + 1) and np.all(filters >= 0)
    # Area-normalised triangles: each wide filter integrates to ~1 over frequency (Hz).
    areas = filters.sum(axis=1) * RATE / n_fft
    assert areas[20:] == pytest.approx(np.ones(44), rel=0.05)
    centres = dsp.mel_frequencies(66, fmax=RATE / 2)[1:-1]
    peaks = np.argmax(filters, axis=1) * RATE / n_fft
    assert np.abs(peaks[20:] - centres[20:]).max() < RATE / n_fft


def test_power_to_db_is_relative_to_the_peak_and_floored() -> None:
    db = dsp.power_to_db(np.array([[1.0, 0.1, 1e-12, 0.0]]))
    assert db[0, :2] == pytest.approx([0.0, -10.0]) and db.min() == pytest.approx(-80.0)


def test_onset_strength_rises_where_the_step_is_after_the_centring_lag() -> None:
    log_spectrum = np.zeros((8, 50), np.float32)
    log_spectrum[:4, 20:] = 10.0  # half the rows step up at frame 20
    envelope = dsp.onset_strength(log_spectrum, n_fft=1024, hop=256)
    assert len(envelope) == 50 and np.flatnonzero(envelope).tolist() == [20 + 1 + 2 - 1]
    assert envelope.max() == pytest.approx(5.0)


def test_chroma_filters_fold_a_to_a_and_follow_the_tuning() -> None:
    n_fft = 4096
    freqs = np.arange(n_fft // 2 + 1) * RATE / n_fft
    a440 = round(440 * n_fft / RATE)
    filters = dsp.chroma_filters(RATE, n_fft)
    assert filters.shape == (12, n_fft // 2 + 1) and int(np.argmax(filters[:, a440])) == 9  # C first: A is 9
    assert int(np.argmax(filters[:, round(261.63 * n_fft / RATE)])) == 0  # middle C
    # A quarter-tone sharp tuning: 452.9 Hz is then A.
    sharp = dsp.chroma_filters(RATE, n_fft, tuning=0.5)
    assert int(np.argmax(sharp[:, int(np.argmin(np.abs(freqs - 452.9)))])) == 9


def click_envelope(frames: int, period: float, first: float, seed: int = 0) -> np.ndarray:
    envelope = 0.05 * np.random.default_rng(seed).random(frames)
    for position in np.arange(first, frames, period):
        envelope[round(position)] += 1.0
    return envelope


@pytest.mark.parametrize(("bpm", "first"), [(120.0, 7.0), (128.0, 3.0), (174.0, 11.0), (90.0, 0.0)])
def test_the_beat_tracker_finds_a_steady_pulse(bpm: float, first: float) -> None:
    frame_rate = RATE / 256
    period = 60.0 / bpm * frame_rate
    envelope = click_envelope(2000, period, first)
    beats = dsp.track_beats(envelope, bpm, frame_rate)
    expected = np.round(np.arange(first, 2000, period)).astype(int)
    assert len(beats) >= len(expected) - 2
    # Every beat but the last within a frame of a click (the last one's local score is cut short by the
    # end of the envelope, and the tracker can place it a few frames early).
    assert np.abs(beats[:-1, None] - expected[None, :]).min(axis=1).max() <= 1
    assert np.all(np.diff(beats[:-1]) >= round(period) - 1)


def test_the_beat_tracker_follows_the_tempo_it_is_given_between_clicks() -> None:
    frame_rate = RATE / 256
    envelope = click_envelope(2000, 60.0 / 120 * frame_rate, 5.0)
    beats = dsp.track_beats(envelope, 240.0, frame_rate)  # twice the clicks' tempo: beats between them
    assert np.median(np.diff(beats)) == pytest.approx(60.0 / 240 * frame_rate, abs=1)


def test_the_beat_tracker_on_silence_or_nonsense() -> None:
    assert len(dsp.track_beats(np.zeros(500), 120.0, 43.0)) == 0
    assert len(dsp.track_beats(np.ones(0), 120.0, 43.0)) == 0
    assert len(dsp.track_beats(click_envelope(500, 21.5, 0.0), 0.0, 43.0)) == 0


def test_snare_share_is_nil_when_the_snare_band_only_echoes_the_kick() -> None:
    kick = click_envelope(1000, 20.0, 0.0)
    assert snare_share(kick.copy(), kick) < 0.05  # a click in both bands: no snare of its own
    snare = click_envelope(1000, 40.0, 10.0, seed=1)  # a backbeat between the kicks
    assert snare_share(snare, kick) > 0.5
