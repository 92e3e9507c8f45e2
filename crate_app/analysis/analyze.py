"""``analyze_file``: decode an excerpt, then tempo and key.  Pure: no global state and no Qt, so it
runs in worker threads (decoding and FFTs release the GIL) or worker processes alike.

Excerpt choice: by default 60 s from the middle of the track are decoded (the demuxer seeks there, so
only that part is decoded: decoding is half the cost of an analysis).  Dance music keeps one tempo and
one key through its body, and the middle skips the beat-less or key-less intros and outros DJs mix
over; 60 s hold ~100-175 beats at 100-175 BPM, which pins the fitted period to well under 0.01 BPM.
The constant grid found there is extended to the whole file (first beat, first downbeat).
``AnalysisOptions.excerpt_seconds = 0`` analyses the whole track.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace

import numpy as np

from crate_app.analysis import waveform
from crate_app.analysis.decode import DecodedAudio, decode_excerpt, excerpt_window
from crate_app.analysis.key import chroma_frames, chroma_hop, estimate_key
from crate_app.analysis.metre import downbeat_offset
from crate_app.analysis.tempo import estimate_tempo, onset_envelopes
from crate_app.domain.track import AnalysisOptions, AnalysisResult

MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 48000


def validate_options(options: AnalysisOptions) -> None:
    """Raise ValueError for settings analysis cannot honour."""
    if not 0 < options.bpm_min < options.bpm_max:
        raise ValueError(f"BPM range must be 0 < min < max, got {options.bpm_min}-{options.bpm_max}")
    if not MIN_SAMPLE_RATE <= options.sample_rate <= MAX_SAMPLE_RATE:
        raise ValueError(f"analysis sample rate must be {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz")
    if options.excerpt_seconds < 0 or options.timeout_seconds <= 0:
        raise ValueError("excerpt_seconds must be >= 0 and timeout_seconds > 0")


def analyze_file(path: str | os.PathLike[str], options: AnalysisOptions | None = None) -> AnalysisResult:
    """BPM, key and beat grid of one audio file.  Raises ``DecodeError`` (plain-language message) if it
    cannot be decoded, ``ValueError`` for invalid options.  ``beat_times`` is the beat grid found in
    the excerpt, in seconds from the start of the track; ``first_beat`` and ``first_downbeat`` extend
    that constant grid back to the start of the file."""
    options = options or AnalysisOptions()
    validate_options(options)
    overview: bytes | None = None
    if options.waveform:
        # The overview needs the whole track: decode it once, draw the overview from it, and analyse
        # the excerpt cut from the same samples (no second decode).
        audio = decode_excerpt(path, options.sample_rate, 0.0, options.timeout_seconds)
        overview = waveform.encode(waveform.overview(audio.samples, audio.sample_rate))
        audio = cut_excerpt(audio, options.excerpt_seconds)
    else:
        audio = decode_excerpt(path, options.sample_rate, options.excerpt_seconds, options.timeout_seconds)
    result = analyze_samples(audio.samples, audio.sample_rate, options)
    duration = audio.duration if audio.duration is not None else audio.start + audio.seconds
    beat_times = tuple(round(audio.start + t, 4) for t in result.beat_times)
    first_beat = first_downbeat = None
    if result.bpm and result.first_beat is not None:
        period = 60.0 / result.bpm
        first_beat = grid_start(audio.start + result.first_beat, period)
        if result.first_downbeat is not None:
            first_downbeat = grid_start(audio.start + result.first_downbeat, 4 * period)
    return replace(
        result,
        waveform=overview,
        duration=round(duration, 3),
        analysed_seconds=round(audio.seconds, 3),
        beat_times=beat_times,
        first_beat=first_beat,
        first_downbeat=first_downbeat,
    )


def cut_excerpt(audio: DecodedAudio, excerpt_seconds: float) -> DecodedAudio:
    """The part of a whole-track decode that ``decode_excerpt(..., excerpt_seconds)`` would have decoded."""
    start, length = excerpt_window(audio.seconds, excerpt_seconds)
    if start == 0.0 and length is None:
        return audio
    first = round(start * audio.sample_rate)
    last = first + round((length or audio.seconds) * audio.sample_rate)
    return DecodedAudio(audio.samples[first:last], audio.sample_rate, audio.start + start, audio.duration)


def grid_start(time: float, period: float) -> float:
    """The first point at or after 0 s of the grid of ``period`` seconds through ``time``."""
    return round(time % period, 4)


def analyze_samples(
    samples: np.ndarray, sample_rate: int, options: AnalysisOptions | None = None
) -> AnalysisResult:
    """BPM, key and beat grid of mono float samples (times relative to the first sample)."""
    options = options or AnalysisOptions()
    samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    envelopes = onset_envelopes(samples, sample_rate) if len(samples) >= sample_rate else None
    tempo = estimate_tempo(samples, sample_rate, options.bpm_min, options.bpm_max, envelopes)
    chroma = chroma_frames(samples, sample_rate) if len(samples) >= 2 * chroma_hop(sample_rate) else None
    key = estimate_key(samples, sample_rate, chroma)
    first_beat = first_downbeat = None
    if tempo.bpm and tempo.beat_times and tempo.period and envelopes is not None:
        first_beat = tempo.beat_times[0]
        frame_seconds = envelopes.hop / sample_rate
        change = None
        if chroma is not None:
            change = harmonic_change(
                chroma[0], chroma_hop(sample_rate) / sample_rate, tempo.beat_times, tempo.period
            )
        offset = downbeat_offset(
            envelopes.low,
            envelopes.snare if envelopes.snare is not None else envelopes.full,
            first_beat / frame_seconds,
            tempo.period / frame_seconds,
            change,
        )
        first_downbeat = tempo.beat_times[offset] if offset < len(tempo.beat_times) else None
    return AnalysisResult(
        bpm=tempo.bpm,
        bpm_confidence=tempo.confidence,
        key=key.key.code if key.key is not None else None,
        key_confidence=key.confidence,
        duration=round(len(samples) / sample_rate, 3),
        analysed_seconds=round(len(samples) / sample_rate, 3),
        beat_times=tempo.beat_times,
        first_beat=first_beat,
        first_downbeat=first_downbeat,
        bpm_alt=tempo.bpm_alt,
        bpm_alt_confidence=tempo.bpm_alt_confidence,
        bpm_variable=tempo.variable,
    )


def harmonic_change(chroma: np.ndarray, frame_seconds: float, beat_times, period: float) -> np.ndarray:
    """How much the harmony changes at each beat: cosine distance between the chroma of the two beats
    before and the two beats after it (chords change on bar lines)."""
    if chroma.shape[1] == 0:
        return np.zeros(len(beat_times))
    cumulative = np.concatenate([np.zeros((12, 1)), np.cumsum(chroma, axis=1)], axis=1)
    frames = chroma.shape[1]

    def mean(start: float, end: float) -> np.ndarray:
        a = int(np.clip(round(start / frame_seconds), 0, frames))
        b = int(np.clip(round(end / frame_seconds), 0, frames))
        return (cumulative[:, b] - cumulative[:, a]) / (b - a) if b > a else np.zeros(12)

    values = np.zeros(len(beat_times))
    for i, t in enumerate(beat_times):
        before, after = mean(t - 2 * period, t), mean(t, t + 2 * period)
        norm = float(np.linalg.norm(before) * np.linalg.norm(after))
        values[i] = 1.0 - float(before @ after) / norm if norm > 0 else 0.0
    return values


_warm_lock = threading.Lock()


def warm_up() -> None:
    """Load what analysis uses (numpy, scipy.fft, PyAV) and run a tiny analysis, so that the first real
    track does not pay for it.  Safe to call from a background thread, more than once."""
    with _warm_lock:
        import av  # noqa: F401

        # A drum loop with a chord, long enough for every stage (tracking, octave, grid, bar, key) to run
        # and compile what it uses.
        rate = 11025
        t = np.arange(16 * rate) / rate
        noise = np.random.default_rng(0).standard_normal(len(t))
        kick = np.sin(2 * np.pi * 60 * t) * np.exp(-((t % 0.5) * 30))
        snare = 0.5 * noise * np.exp(-(((t - 0.5) % 1.0) * 40))
        hats = 0.1 * noise * np.exp(-((t % 0.25) * 80))
        chord = 0.1 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
        loop = (kick + snare + hats + chord).astype(np.float32)
        analyze_samples(loop, rate, AnalysisOptions(sample_rate=rate))
