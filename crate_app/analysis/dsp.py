"""The signal processing the estimators need, in numpy and ``scipy.fft`` alone: short-time spectra, the
mel and chroma filter banks, spectral-flux onset strength and a dynamic-programming beat tracker.

These are the textbook methods librosa implements (Slaney's mel scale and area-normalised triangles;
Ellis's chroma bank of Gaussian bumps; onset strength as the mean rectified rise of a log mel
spectrogram; Ellis's beat tracker, "Beat tracking by dynamic programming", JNMR 36, 2007), written
here with the same conventions, so that analysis gives the answers it gave with librosa.  Why not
librosa itself: importing ``librosa.beat`` and ``librosa.onset`` loads numba and a few dozen compiled
kernels, ~3.5 s of CPU and ~170 MB in every analysis process, before the first file (more than a
dozen four-minute tracks' worth of analysis), and its cache had to be guarded against concurrent
writers.  The tracker's recursion is vectorised over blocks of half a beat (no frame in a block can
be another's predecessor), so it needs no compiler either.

No Qt, no librosa.
"""

from __future__ import annotations

import math

import numpy as np

# A magnitude floor and the dynamic range kept by ``power_to_db`` (librosa's defaults).
AMIN = 1e-10
TOP_DB = 80.0


def hann(size: int) -> np.ndarray:
    """The periodic Hann window (for spectra: its shifted copies sum to a constant)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size) / size)).astype(np.float32)


def frames_of(samples: np.ndarray, size: int, hop: int, center: bool) -> np.ndarray:
    """Overlapping frames (frames, size) of ``samples`` as a view; ``center`` pads ``size // 2`` zeros
    on both sides so that frame ``t`` is centred on sample ``t * hop``."""
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if center:
        samples = np.pad(samples, size // 2)
    count = 1 + (len(samples) - size) // hop if len(samples) >= size else 0
    if count <= 0:
        return np.zeros((0, size), np.float32)
    return np.lib.stride_tricks.sliding_window_view(samples, size)[::hop][:count]


def magnitude_spectrogram(samples: np.ndarray, n_fft: int, hop: int, center: bool = True) -> np.ndarray:
    """|STFT| with a periodic Hann window, shape (1 + n_fft // 2, frames), float32."""
    from scipy.fft import rfft

    frames = frames_of(samples, n_fft, hop, center)
    if not len(frames):
        return np.zeros((n_fft // 2 + 1, 0), np.float32)
    spectra = rfft(frames * hann(n_fft), axis=1)
    return np.abs(spectra).T


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear (3 per 200 Hz) below 1 kHz, logarithmic (27 per factor 6.4) above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    logarithmic = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, logarithmic, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * (200.0 / 3)
    logarithmic = 1000.0 * np.exp((math.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, logarithmic, linear)


def mel_frequencies(count: int, fmin: float = 0.0, fmax: float = 11025.0) -> np.ndarray:
    """``count`` frequencies evenly spaced on the mel scale from ``fmin`` to ``fmax`` (Hz)."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), count))


def mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None):
    """Triangular mel filters (n_mels, 1 + n_fft // 2), each scaled to unit area (Slaney's norm)."""
    fmax = sample_rate / 2.0 if fmax is None else fmax
    edges = mel_frequencies(n_mels + 2, fmin, fmax)
    bins = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    ramps = edges[:, None] - bins[None, :]
    widths = np.diff(edges)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def power_to_db(power: np.ndarray) -> np.ndarray:
    """Decibels relative to the loudest value, floored ``TOP_DB`` below it."""
    reference = 10.0 * np.log10(max(AMIN, float(np.max(power)) if power.size else AMIN))
    db = 10.0 * np.log10(np.maximum(AMIN, power)) - reference
    if db.size:
        np.maximum(db, db.max() - TOP_DB, out=db)
    return db


def onset_strength(log_spectrum: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Spectral flux: the mean over rows of each frame's rise over the previous frame (rectified), one
    value per frame, delayed by the frames' centring so that a rise lines up with the audio."""
    frames = log_spectrum.shape[1]
    if log_spectrum.shape[0] == 0 or frames < 2:
        return np.zeros(frames)
    rise = np.maximum(0.0, log_spectrum[:, 1:] - log_spectrum[:, :-1]).mean(axis=0)
    lag = 1 + n_fft // (2 * hop)
    return np.concatenate([np.zeros(lag), rise])[:frames].astype(np.float64)


def chroma_filters(sample_rate: int, n_fft: int, tuning: float = 0.0) -> np.ndarray:
    """Ellis's chroma filter bank (12, 1 + n_fft // 2), C first: for each bin a Gaussian bump on its
    pitch class as wide as the bin (unit length per bin), weighted by a Gaussian over octaves centred on
    C5 (two octaves wide).  ``tuning`` moves A4 by that fraction of a semitone."""
    frequencies = np.linspace(0.0, sample_rate, n_fft, endpoint=False)[1:]
    a4 = 440.0 * 2.0 ** (tuning / 12.0)
    pitch = 12.0 * np.log2(frequencies / (a4 / 16.0))  # semitones above A0 - 4 octaves: pitch class at % 12
    pitch = np.concatenate([[pitch[0] - 18.0], pitch])
    widths = np.concatenate([np.maximum(np.diff(pitch), 1.0), [1.0]])
    distance = pitch[None, :] - np.arange(12.0)[:, None]
    distance = np.remainder(distance + 6.0 + 120.0, 12.0) - 6.0
    weights = np.exp(-0.5 * (2.0 * distance / widths[None, :]) ** 2)
    norms = np.sqrt(np.sum(weights**2, axis=0))
    weights /= np.where(norms > np.finfo(np.float64).tiny, norms, 1.0)
    weights *= np.exp(-0.5 * ((pitch / 12.0 - 5.0) / 2.0) ** 2)[None, :]
    weights = np.roll(weights, -3, axis=0)  # rows from A to rows from C
    return np.ascontiguousarray(weights[:, : n_fft // 2 + 1], dtype=np.float32)


# The beat tracker's penalty for a beat interval that strays from the tempo (Ellis's "tightness").
TIGHTNESS = 100.0


def track_beats(envelope: np.ndarray, bpm: float, frame_rate: float, trim: bool = True) -> np.ndarray:
    """Frames of the beats in an onset envelope, for a tempo of ``bpm``: the beat sequence maximising
    the onset strength at the beats minus a penalty for intervals off the beat period (squared log
    ratio), by dynamic programming; weak beats at either end are dropped when ``trim``.  Unlike
    librosa's, the period is not rounded to whole frames (which pulled 125 BPM to 123)."""
    envelope = np.asarray(envelope, dtype=np.float64)
    n = len(envelope)
    if n == 0 or not np.any(envelope) or not bpm > 0:
        return np.zeros(0, dtype=np.int64)
    period = frame_rate * 60.0 / bpm  # not rounded to whole frames: at 43 frames/s, 125 BPM is 20.67
    if period < 1:
        return np.zeros(0, dtype=np.int64)
    spread = envelope.std(ddof=1) if n > 1 else 0.0
    normalised = envelope / (spread + np.finfo(np.float64).tiny)
    reach = round(period)
    taps = np.arange(-reach, reach + 1)  # whole frames, centred on 0
    window = np.exp(-0.5 * (taps * 32.0 / period) ** 2)
    local = np.convolve(normalised, window, mode="full")[len(window) // 2 : len(window) // 2 + n]

    # Predecessors of frame i lie at lags nearest..farthest frames back; scanning from the nearest,
    # the first maximum wins, as in a loop that keeps only strictly better scores.
    nearest, farthest = max(1, int(np.round(period / 2))), int(2 * period)
    lags = np.arange(nearest, farthest + 1)
    penalty = TIGHTNESS * (np.log(lags) - math.log(period)) ** 2
    cumulative = np.empty(n)
    backlink = np.full(n, -1, dtype=np.int64)
    block = max(1, nearest)
    for first in range(0, n, block):
        rows = np.arange(first, min(n, first + block))
        candidates = rows[:, None] - lags[None, :]
        valid = candidates >= 0
        scores = np.where(valid, cumulative[np.maximum(candidates, 0)] - penalty, -np.inf)
        best = np.argmax(scores, axis=1)
        best_score = scores[np.arange(len(rows)), best]
        found = np.isfinite(best_score)
        cumulative[rows] = local[rows] + np.where(found, best_score, 0.0)
        backlink[rows] = np.where(found, candidates[np.arange(len(rows)), best], -1)
    # Until the first frame with some onset strength, no frame links back (the track starts there).
    threshold = 0.01 * local.max()
    strong = np.flatnonzero(local >= threshold)
    backlink[: strong[0] if len(strong) else n] = -1

    beats = np.zeros(n, dtype=bool)
    frame = _last_beat(cumulative)
    while frame >= 0:
        beats[frame] = True
        frame = int(backlink[frame])
    if trim:
        _trim(local, beats)
    return np.flatnonzero(beats)


def _last_beat(cumulative: np.ndarray) -> int:
    """The last local maximum of the cumulative score that reaches half the maxima's median."""
    n = len(cumulative)
    padded = np.concatenate([cumulative[:1], cumulative, cumulative[-1:]])
    is_max = (cumulative > padded[:-2]) & (cumulative >= padded[2:])
    if not is_max.any():
        return n - 1
    threshold = 0.5 * float(np.median(cumulative[is_max]))
    chosen = np.flatnonzero(is_max & (cumulative >= threshold))
    return int(chosen[-1]) if len(chosen) else n - 1


def _trim(local: np.ndarray, beats: np.ndarray) -> None:
    """Drop the beats in the weak stretches at the ends: frames whose local score stays under half the
    RMS of the (smoothed) scores at the beats."""
    scores = local[beats]
    if not len(scores):
        return
    # (As librosa: the smoothed scores' tail, two values past the last beat, counts too.)
    smooth = np.convolve(scores, np.hanning(5))[2 : len(local) + 2]
    threshold = 0.5 * math.sqrt(float(np.mean(smooth**2)))
    strong = np.flatnonzero(local > threshold)
    if not len(strong):
        beats[:] = False
        return
    beats[: strong[0]] = False
    beats[strong[-1] + 1 :] = False
