"""Tempo: librosa's beat tracker, then a straight-line fit over the beat times for the exact BPM.

librosa estimates the tempo on a grid of autocorrelation lags (at 43 frames/s, 124 BPM reads as 123.0
and 140 as 143.6).  The beat tracker still finds the beats, so for constant-tempo music a robust
least-squares line through (beat number, beat time) gives the period to a small fraction of a
millisecond; the tracker is then run a second time at that tempo and the line fitted again.

Before the fit, dotted-metre mistakes (the tracker locking to 2/3, 3/4, 4/3 or 3/2 of the beat,
common with busy hi-hats) are corrected by comparing the periodicity of the bass-band onsets at
those periods.  The octave (x2, /2) is left to librosa's tempo prior and the user's BPM range.

librosa is imported inside the functions: ``import librosa.beat`` costs seconds (numba).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Analysis frame rate: hop of 512 samples at 22050 Hz, i.e. ~43 onset frames per second at any rate.
FRAMES_PER_SECOND = 22050 / 512
MIN_BEATS_FOR_FIT = 6
MIN_SECONDS = 2.0  # shorter audio gets no tempo


@dataclass(frozen=True, slots=True)
class TempoEstimate:
    bpm: float | None  # folded into the requested range, two decimals
    confidence: float  # 0..1
    # The fitted constant-tempo beat grid (or the tracker's beats when no line fits), in seconds from
    # the start of the analysed audio.
    beat_times: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class LineFit:
    period: float  # seconds per beat
    offset: float  # time of beat number 0
    inliers: int
    total: int
    rms_residual: float  # seconds


def hop_for_rate(sample_rate: int) -> int:
    """Hop length giving ~43 frames per second (512 at 22050 Hz, 256 at 11025 Hz)."""
    return max(64, round(sample_rate / FRAMES_PER_SECOND))


@dataclass(frozen=True, slots=True)
class OnsetEnvelopes:
    """Spectral-flux onset strength over all bands and over the bass band (kick and bass)."""

    full: np.ndarray
    low: np.ndarray
    hop: int


LOW_BAND_HZ = 200.0


def onset_envelopes(samples: np.ndarray, sample_rate: int) -> OnsetEnvelopes:
    """Onset strength (librosa's spectral flux on a log mel spectrogram), full band and bass band."""
    import librosa

    hop = hop_for_rate(sample_rate)
    n_mels = 64
    mel = librosa.feature.melspectrogram(
        y=samples, sr=sample_rate, n_fft=4 * hop, hop_length=hop, n_mels=n_mels, fmax=sample_rate / 2
    )
    log_mel = librosa.power_to_db(mel, ref=np.max)
    centres = librosa.mel_frequencies(n_mels + 2, fmax=sample_rate / 2)[1:-1]
    low_bins = max(2, int(np.sum(centres < LOW_BAND_HZ)))
    full = librosa.onset.onset_strength(S=log_mel, sr=sample_rate, hop_length=hop)
    low = librosa.onset.onset_strength(S=log_mel[:low_bins], sr=sample_rate, hop_length=hop)
    return OnsetEnvelopes(full.astype(np.float64), low.astype(np.float64), hop)


def refine_peaks(envelope: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Sub-frame positions of the beats: parabolic interpolation where a beat sits on a local peak."""
    frames = np.asarray(frames, dtype=np.int64)
    positions = frames.astype(np.float64)
    inner = (frames > 0) & (frames < len(envelope) - 1)
    f = frames[inner]
    left, mid, right = envelope[f - 1], envelope[f], envelope[f + 1]
    denominator = left - 2 * mid + right
    is_peak = (mid >= left) & (mid >= right) & (denominator < 0)
    shift = np.zeros_like(mid)
    shift[is_peak] = 0.5 * (left[is_peak] - right[is_peak]) / denominator[is_peak]
    positions[inner] += np.clip(shift, -0.5, 0.5)
    return positions


def beat_numbers(times: np.ndarray, period: float) -> np.ndarray:
    """Number each beat by accumulating the local inter-beat steps (robust to tempo drift and gaps).

    Returns -1 for beats that fall less than half a period after the previous one (double detections).
    """
    numbers = np.full(len(times), -1, dtype=np.int64)
    if not len(times):
        return numbers
    numbers[0] = 0
    last_time, last_number = times[0], 0
    for i in range(1, len(times)):
        step = round((times[i] - last_time) / period)
        if step < 1:
            continue
        last_number += step
        last_time = times[i]
        numbers[i] = last_number
    return numbers


def fit_beat_line(times: np.ndarray, rounds: int = 4) -> LineFit | None:
    """Least-squares line through (beat number, time), refitted without outliers; None if too few beats."""
    times = np.asarray(times, dtype=np.float64)
    if len(times) < MIN_BEATS_FOR_FIT:
        return None
    intervals = np.diff(times)
    intervals = intervals[intervals > 0]
    if not len(intervals):
        return None
    period = float(np.median(intervals))
    keep = np.ones(len(times), dtype=bool)
    offset = float(times[0])
    for _ in range(rounds):
        numbers = beat_numbers(times, period)
        usable = keep & (numbers >= 0)
        if usable.sum() < MIN_BEATS_FOR_FIT:
            return None
        slope, intercept = np.polyfit(numbers[usable].astype(np.float64), times[usable], 1)
        if not slope > 0:
            return None
        period, offset = float(slope), float(intercept)
        residuals = times - (offset + period * numbers)
        spread = 1.4826 * float(np.median(np.abs(residuals[usable] - np.median(residuals[usable]))))
        limit = max(3.0 * spread, 0.012, 0.0) if spread > 0 else 0.012
        keep = (np.abs(residuals) <= min(limit, 0.15 * period)) & (numbers >= 0)
    numbers = beat_numbers(times, period)
    usable = keep & (numbers >= 0)
    residuals = times[usable] - (offset + period * numbers[usable])
    rms = float(np.sqrt(np.mean(residuals**2))) if usable.any() else math.inf
    return LineFit(
        period=period, offset=offset, inliers=int(usable.sum()), total=len(times), rms_residual=rms
    )


def fold_bpm(bpm: float, bpm_min: float, bpm_max: float) -> float:
    """Double or halve ``bpm`` into [bpm_min, bpm_max]; if the range is narrower than an octave and
    nothing fits, the octave nearest to the range (in log distance) wins."""
    if not (bpm > 0 and math.isfinite(bpm)):
        raise ValueError(f"invalid tempo: {bpm}")
    if bpm_min <= 0 or bpm_max <= bpm_min:
        return bpm
    candidates = [bpm * 2.0**k for k in range(-6, 7)]
    inside = [c for c in candidates if bpm_min <= c <= bpm_max]
    if inside:
        # Prefer the octave the music was tracked at; otherwise the lowest that fits.
        return bpm if bpm in inside else inside[0]

    def distance(c: float) -> float:
        return max(math.log(bpm_min / c), math.log(c / bpm_max), 0.0)

    return min(candidates, key=distance)


def autocorrelation(envelope: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of the mean-removed onset envelope (lag 0 = 1)."""
    x = envelope - envelope.mean()
    size = 1 << math.ceil(math.log2(2 * len(x) + 1))
    spectrum = np.fft.rfft(x, size)
    ac = np.fft.irfft(spectrum * np.conj(spectrum), size)[: len(x)]
    return ac / ac[0] if ac[0] > 0 else np.zeros(len(x))


def _at_lag(ac: np.ndarray, lag: float) -> float:
    lo = math.floor(lag)
    if lo + 1 >= len(ac):
        return 0.0
    frac = lag - lo
    return float((1 - frac) * ac[lo] + frac * ac[lo + 1])


def periodicity(ac: np.ndarray, period_frames: float, max_lag_frames: float) -> float:
    """Mean autocorrelation at the multiples of a period: high when the onsets repeat at every
    multiple, lower for a period one and a half or two thirds of the true beat (half of its
    multiples fall between beats)."""
    if period_frames < 1:
        return 0.0
    count = max(2, int(max_lag_frames // period_frames))
    lags = period_frames * np.arange(1, count + 1)
    lags = lags[lags < len(ac) - 1]
    if not len(lags):
        return 0.0
    return float(np.mean(np.interp(lags, np.arange(len(ac)), ac)))


def best_periodicity(
    ac: np.ndarray, period_frames: float, max_lag_frames: float, spread: float = 0.08
) -> tuple[float, float]:
    """(period, periodicity) maximising ``periodicity`` within +-``spread`` of ``period_frames``: the
    tracker's tempo is only known to a few percent when it tracks the wrong metrical level, and far
    multiples are sensitive to the exact period."""
    candidates = period_frames * np.linspace(1 - spread, 1 + spread, 81)
    scores = [periodicity(ac, p, max_lag_frames) for p in candidates]
    best = int(np.argmax(scores))
    return float(candidates[best]), float(scores[best])


# Metrical confusions beat trackers make in 4/4 music, as ratios of the true period to the tracked one.
CONFUSION_RATIOS = (2.0 / 3.0, 3.0 / 4.0, 4.0 / 3.0, 3.0 / 2.0)


def resolve_metre(ac_low: np.ndarray, period_frames: float, frames_per_second: float) -> float:
    """Correct a beat period the tracker took at 2/3, 3/4, 4/3 or 3/2 of the true one.

    Judged on the bass band (kick and bass), whose onsets repeat at every beat but, unlike the hats,
    not at every eighth note: the true period's multiples all carry periodicity, a dotted period's
    only every other one.  Octave (2x) choices are left alone: both octaves score alike here.
    """
    max_lag = 8.0 * frames_per_second
    _, best_score = best_periodicity(ac_low, period_frames, max_lag)
    best = period_frames
    for ratio in CONFUSION_RATIOS:
        if not 0.25 * frames_per_second <= period_frames * ratio <= 1.5 * frames_per_second:
            continue  # 40-240 BPM
        candidate, score = best_periodicity(ac_low, period_frames * ratio, max_lag)
        if score > best_score + 0.15:
            best, best_score = candidate, score
    return best


def _pulse_strength(ac: np.ndarray, period_frames: float) -> float:
    """How strongly the onset envelope repeats at the beat period (0..1)."""
    values = [_at_lag(ac, period_frames * multiple) for multiple in (1, 2, 4)]
    return float(np.clip(max(values), 0.0, 1.0))


def estimate_tempo(
    samples: np.ndarray,
    sample_rate: int,
    bpm_min: float = 70.0,
    bpm_max: float = 180.0,
    envelopes: OnsetEnvelopes | None = None,
) -> TempoEstimate:
    """BPM (two decimals, folded into [bpm_min, bpm_max]), a confidence and the beat times."""
    import librosa.beat

    if len(samples) < MIN_SECONDS * sample_rate or not np.any(samples):
        return TempoEstimate(None, 0.0, ())
    envelopes = envelopes if envelopes is not None else onset_envelopes(samples, sample_rate)
    env, hop = envelopes.full, envelopes.hop
    if not np.any(env > 0):
        return TempoEstimate(None, 0.0, ())
    frame_seconds = hop / sample_rate
    frames_per_second = 1.0 / frame_seconds

    def track(bpm: float | None) -> tuple[float, np.ndarray]:
        tempo, frames = librosa.beat.beat_track(
            onset_envelope=env, sr=sample_rate, hop_length=hop, start_bpm=120.0, bpm=bpm, units="frames"
        )
        return float(np.atleast_1d(tempo)[0]), frames

    coarse_bpm, frames = track(None)
    if not coarse_bpm > 0:
        return TempoEstimate(None, 0.0, ())
    ac = autocorrelation(env)
    coarse_period = 60.0 / coarse_bpm * frames_per_second
    period = resolve_metre(autocorrelation(envelopes.low), coarse_period, frames_per_second)
    if period != coarse_period:
        coarse_bpm = 60.0 / (period * frame_seconds)
        _, frames = track(coarse_bpm)

    fit = fit_beat_line(refine_peaks(env, frames) * frame_seconds) if len(frames) else None
    if fit is not None and abs(fit.period * coarse_bpm / 60.0 - 1) > 0.05:
        fit = None  # the beats do not follow the tempo: do not trust the line
    if fit is not None:
        # Track again at the fitted tempo: the beats then follow the true grid, not the coarse one.
        _, frames2 = track(60.0 / fit.period)
        fit2 = fit_beat_line(refine_peaks(env, frames2) * frame_seconds) if len(frames2) else None
        if fit2 is not None and abs(fit2.period / fit.period - 1) < 0.02:
            fit, frames = fit2, frames2
    if fit is not None:
        bpm = 60.0 / fit.period
        regularity = fit.inliers / max(1, fit.total)
        jitter = math.exp(-((fit.rms_residual / fit.period / 0.03) ** 2))
        first = math.ceil(-fit.offset / fit.period)
        last = int((len(env) * frame_seconds - fit.offset) / fit.period)
        beat_times = tuple(float(fit.offset + fit.period * n) for n in range(first, last + 1))
    else:
        bpm = float(coarse_bpm)
        regularity, jitter = 0.3, 0.5
        beat_times = tuple(float(t) for t in librosa.frames_to_time(frames, sr=sample_rate, hop_length=hop))
    pulse = _pulse_strength(ac, 60.0 / bpm * frames_per_second)
    confidence = float(np.clip(regularity * jitter * (0.5 + 0.5 * min(1.0, pulse / 0.5)), 0.0, 1.0))
    folded = fold_bpm(bpm, bpm_min, bpm_max)
    return TempoEstimate(round(folded, 2), round(confidence, 3), beat_times)
