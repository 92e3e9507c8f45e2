"""Tempo: a dynamic-programming beat tracker (``dsp.track_beats``), then a straight-line fit over the
beat times for the exact BPM.

A tempo read from a grid of autocorrelation lags is coarse (at 43 frames/s, 124 BPM reads as 123.0 and
140 as 143.6).  The beat tracker still finds the beats, so for constant-tempo music a robust
least-squares line through (beat number, beat time) gives the period to a small fraction of a
millisecond; the tracker is then run a second time at that tempo and the line fitted again.

Before the fit, dotted-metre mistakes (the tracker locking to 2/3, 3/4, 4/3 or 3/2 of the beat,
common with busy hi-hats) are corrected by comparing the periodicity of the bass-band onsets at
those periods.  The octave (x2, /2) is left to librosa's tempo prior and the user's BPM range.

No librosa (see ``dsp``).
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
    period: float | None = None  # seconds per beat of the grid at the exact (unrounded) tempo
    bpm_alt: float | None = None  # the runner-up octave
    bpm_alt_confidence: float = 0.0
    variable: bool = False  # the beats drift from any constant grid
    rule: str = ""  # what decided the octave (see metre.choose_octave)


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
    """Spectral-flux onset strength over all bands, the bass band (kick and bass) and the snare band
    (snares and claps carry their noise between 1 and 5 kHz, above most of the harmony's energy)."""

    full: np.ndarray
    low: np.ndarray
    hop: int
    snare: np.ndarray | None = None


LOW_BAND_HZ = 200.0
SNARE_BAND_HZ = (1000.0, 5000.0)


def onset_envelopes(samples: np.ndarray, sample_rate: int) -> OnsetEnvelopes:
    """Onset strength (spectral flux on a log mel spectrogram): full band, bass band and snare band."""
    from crate_app.analysis import dsp

    hop = hop_for_rate(sample_rate)
    n_fft, n_mels = 4 * hop, 64
    power = dsp.magnitude_spectrogram(samples, n_fft, hop) ** 2
    log_mel = dsp.power_to_db(dsp.mel_filters(sample_rate, n_fft, n_mels) @ power)
    centres = dsp.mel_frequencies(n_mels + 2, fmax=sample_rate / 2)[1:-1]
    low_bins = max(2, int(np.sum(centres < LOW_BAND_HZ)))
    # n_fft: how far the centred frames lag, so that the envelope lines up with the audio.
    full = dsp.onset_strength(log_mel, n_fft, hop)
    low = dsp.onset_strength(log_mel[:low_bins], n_fft, hop)
    snare_rows = (centres >= SNARE_BAND_HZ[0]) & (centres <= SNARE_BAND_HZ[1])
    snare = dsp.onset_strength(log_mel[snare_rows], n_fft, hop) if snare_rows.sum() >= 2 else full
    return OnsetEnvelopes(full, low, hop, snare)


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


def prior_tempo(ac: np.ndarray, frames_per_second: float, centre_bpm: float = 120.0) -> float | None:
    """The BPM whose lag has the highest autocorrelation weighted by a log-normal prior (one octave
    wide, centred on ``centre_bpm``), like librosa's ``feature.tempo``; None for no pulse."""
    lags = np.arange(
        max(1, int(frames_per_second * 60 / 300)), min(len(ac), int(frames_per_second * 60 / 30) + 1)
    )
    if not len(lags):
        return None
    bpm = 60.0 * frames_per_second / lags
    weighted = np.clip(ac[lags], 0.0, None) * np.exp(-0.5 * np.log2(bpm / centre_bpm) ** 2)
    best = int(np.argmax(weighted))
    return float(bpm[best]) if weighted[best] > 0 else None


def _pulse_strength(ac: np.ndarray, period_frames: float) -> float:
    """How strongly the onset envelope repeats at the beat period (0..1)."""
    values = [_at_lag(ac, period_frames * multiple) for multiple in (1, 2, 4)]
    return float(np.clip(max(values), 0.0, 1.0))


# A constant-tempo track's beats: the thirds of the excerpt agree on the period to this share, and the
# beats stay this close to the fitted line (share of a period).
MAX_PERIOD_DRIFT = 0.012
MAX_RMS_SHARE = 0.06
MIN_INLIER_SHARE = 0.6


def is_variable(times: np.ndarray, fit: LineFit) -> bool:
    """True when the tracked beats drift or jump: the thirds of the excerpt have different periods, or
    many beats stray from the line."""
    if fit.inliers < MIN_INLIER_SHARE * fit.total or fit.rms_residual > MAX_RMS_SHARE * fit.period:
        return True
    thirds = np.array_split(np.asarray(times, dtype=np.float64), 3)
    fits = [fit_beat_line(part) for part in thirds if len(part) >= 2 * MIN_BEATS_FOR_FIT]
    periods = [f.period for f in fits if f is not None]
    return len(periods) >= 2 and (max(periods) - min(periods)) / fit.period > MAX_PERIOD_DRIFT


def refine_phase(envelope: np.ndarray, first: float, period: float, search: float = 0.2) -> float:
    """Grid start (frames) moved to where the onsets peak: the comb of the grid is scanned over
    +-``search`` of a period around ``first`` and the best offset refined to a fraction of a frame."""
    count = int((len(envelope) - 2 - first - search * period) // period)
    if count < MIN_BEATS_FOR_FIT:
        return first
    base = first + period * np.arange(count)
    frames = np.arange(len(envelope), dtype=np.float64)
    offsets = np.linspace(-search * period, search * period, int(4 * 2 * search * period) + 1)
    scores = np.array([np.mean(np.interp(base + o, frames, envelope)) for o in offsets])
    best = int(np.argmax(scores))
    shift = offsets[best]
    if 0 < best < len(scores) - 1:
        left, mid, right = scores[best - 1], scores[best], scores[best + 1]
        denominator = left - 2 * mid + right
        if denominator < 0:
            shift += 0.5 * (left - right) / denominator * (offsets[1] - offsets[0])
    return first + shift


def attack_offset(samples: np.ndarray, sample_rate: int, beat_times: np.ndarray) -> float:
    """Median time (seconds) from the grid's beats to the steepest rise of the audio's energy near each
    beat: the attack of the kick or snare, found at ~3 ms resolution on the samples themselves (the
    onset envelope's 23 ms frames and its window place a drum's peak, not its start)."""
    hop = max(8, sample_rate // 350)
    usable = len(samples) // hop * hop
    if usable < 4 * hop or not len(beat_times):
        return 0.0
    frames = samples[:usable].astype(np.float64).reshape(-1, hop)
    energy = np.log(np.convolve((frames**2).mean(axis=1), np.ones(2) / 2, mode="same") + 1e-10)
    rise = np.diff(energy, prepend=energy[0])
    before, after = round(0.06 * sample_rate / hop), round(0.04 * sample_rate / hop)
    offsets, weights = [], []
    for t in beat_times:
        centre = round(t * sample_rate / hop)
        lo, hi = centre - before, centre + after
        if lo < 1 or hi >= len(rise):
            continue
        window = rise[lo:hi]
        best = int(np.argmax(window))
        offsets.append((lo + best + 0.5) * hop / sample_rate - t)
        weights.append(float(window[best]))
    if len(offsets) < MIN_BEATS_FOR_FIT:
        return 0.0
    order = np.argsort(offsets)
    cumulative = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(offsets)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def estimate_tempo(
    samples: np.ndarray,
    sample_rate: int,
    bpm_min: float = 60.0,
    bpm_max: float = 180.0,
    envelopes: OnsetEnvelopes | None = None,
) -> TempoEstimate:
    """BPM (two decimals, the octave DJs count, folded into [bpm_min, bpm_max] only when outside),
    a confidence, the runner-up octave and the constant beat grid."""
    from crate_app.analysis.dsp import track_beats
    from crate_app.analysis.metre import choose_octave

    if len(samples) < MIN_SECONDS * sample_rate or not np.any(samples):
        return TempoEstimate(None, 0.0, ())
    envelopes = envelopes if envelopes is not None else onset_envelopes(samples, sample_rate)
    env, hop = envelopes.full, envelopes.hop
    if not np.any(env > 0):
        return TempoEstimate(None, 0.0, ())
    frame_seconds = hop / sample_rate
    frames_per_second = 1.0 / frame_seconds

    def track(bpm: float) -> tuple[float, np.ndarray]:
        return bpm, track_beats(env, bpm, frames_per_second)

    # The global tempo estimate under a prior centred on 120 BPM: the tracker's start and the octave
    # rule's fallback (as librosa's, from one autocorrelation instead of a tempogram: ~4x cheaper).
    ac = autocorrelation(env)
    prior = prior_tempo(ac, frames_per_second)
    if prior is None:
        return TempoEstimate(None, 0.0, ())
    # The prior's lag is a whole number of frames (at 43 frames/s, 125 BPM lies between 123.0 and
    # 129.2), and a tracker started there keeps that spacing: refine it on the lag's multiples first.
    refined_period, _ = best_periodicity(ac, 60.0 * frames_per_second / prior, 8.0 * frames_per_second, 0.04)
    coarse_bpm, frames = track(60.0 * frames_per_second / refined_period)
    if not coarse_bpm > 0:
        return TempoEstimate(None, 0.0, ())
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
    tracked_times = refine_peaks(env, frames) * frame_seconds
    variable = fit is None or is_variable(tracked_times, fit)
    tracked_bpm = 60.0 / fit.period if fit is not None else float(coarse_bpm)
    if fit is not None:
        regularity = fit.inliers / max(1, fit.total)
        jitter = math.exp(-((fit.rms_residual / fit.period / 0.03) ** 2))
    else:
        regularity, jitter = 0.3, 0.5

    snare = envelopes.snare if envelopes.snare is not None else env
    choice = choose_octave(tracked_bpm, snare, envelopes.low, frames_per_second, prior, env)
    factor = 2.0 ** round(math.log2(choice.bpm / tracked_bpm))
    bpm = tracked_bpm * factor
    alt = choice.alt_bpm * (bpm / choice.bpm)
    alt_confidence = choice.alt_confidence
    if not bpm_min <= bpm <= bpm_max:  # the user's range: a fallback for what the rhythm did not settle
        alt, alt_confidence = bpm, 1.0 - choice.alt_confidence  # the rhythm's choice becomes the runner-up
        folded_factor = fold_bpm(bpm, bpm_min, bpm_max) / bpm
        factor, bpm = factor * folded_factor, bpm * folded_factor
    period_frames = 60.0 / bpm * frames_per_second
    if fit is not None:
        start = (fit.offset / frame_seconds) % period_frames
    else:
        start = float(frames[0]) % period_frames if len(frames) else 0.0
    # Where the beats are: kick and snare (not offbeat hats); a halved grid keeps the stronger beats.
    accents = envelopes.low / (np.max(envelopes.low) or 1.0) + snare / (np.max(snare) or 1.0)
    if factor < 1:
        alternatives = [start, (start + period_frames / 2) % period_frames]
        start = max(alternatives, key=lambda f: float(np.mean(_grid_values(accents, f, period_frames))))
    start = refine_phase(accents, start, period_frames)
    grid = (start + period_frames * np.arange(int((len(env) - start) // period_frames) + 1)) * frame_seconds
    first = (grid[0] + attack_offset(samples, sample_rate, grid)) % (period_frames * frame_seconds)
    count = int((len(samples) / sample_rate - first) / (period_frames * frame_seconds)) + 1
    beat_times = tuple(float(first + period_frames * frame_seconds * n) for n in range(count))

    pulse = _pulse_strength(ac, period_frames)
    confidence = float(np.clip(regularity * jitter * (0.5 + 0.5 * min(1.0, pulse / 0.5)), 0.0, 1.0))
    if variable:
        confidence = min(confidence, 0.3)
    return TempoEstimate(
        bpm=round(bpm, 2),
        confidence=round(confidence, 3),
        beat_times=beat_times,
        period=period_frames * frame_seconds,
        bpm_alt=round(alt, 2),
        bpm_alt_confidence=round(alt_confidence, 3),
        variable=variable,
        rule=choice.rule,
    )


def _grid_values(envelope: np.ndarray, first: float, period: float) -> np.ndarray:
    positions = first + period * np.arange(int((len(envelope) - 1 - first) // period) + 1)
    return np.interp(positions, np.arange(len(envelope), dtype=np.float64), envelope)
