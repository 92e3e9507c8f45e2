"""``analyze_file``: decode an excerpt, then tempo and key.  Pure: no global state and no Qt, so it
runs in worker threads (decoding and FFTs release the GIL) or worker processes alike.

Excerpt choice: by default 90 s from the middle of the track are decoded (the demuxer seeks there, so
only that part is decoded).  Dance music keeps one tempo and one key through its body, and the middle
skips the beat-less or key-less intros and outros DJs mix over; 90 s hold ~150-260 beats at 100-175
BPM, which pins the fitted period to well under 0.01 BPM.  ``AnalysisOptions.excerpt_seconds = 0``
analyses the whole track.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from crate_app.analysis import numba_cache, waveform
from crate_app.analysis.decode import DecodedAudio, decode_excerpt, excerpt_window
from crate_app.analysis.key import estimate_key
from crate_app.analysis.tempo import estimate_tempo
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
    """BPM and key of one audio file.  Raises ``DecodeError`` (plain-language message) if it cannot be
    decoded, ``ValueError`` for invalid options.  ``beat_times`` is the beat grid found in the
    excerpt, in seconds from the start of the track."""
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
    return AnalysisResult(
        waveform=overview,
        bpm=result.bpm,
        bpm_confidence=result.bpm_confidence,
        key=result.key,
        key_confidence=result.key_confidence,
        duration=round(duration, 3),
        analysed_seconds=round(audio.seconds, 3),
        beat_times=beat_times,
        first_beat=grid_start(beat_times[0], result.bpm) if beat_times and result.bpm else None,
    )


def cut_excerpt(audio: DecodedAudio, excerpt_seconds: float) -> DecodedAudio:
    """The part of a whole-track decode that ``decode_excerpt(..., excerpt_seconds)`` would have decoded."""
    start, length = excerpt_window(audio.seconds, excerpt_seconds)
    if start == 0.0 and length is None:
        return audio
    first = round(start * audio.sample_rate)
    last = first + round((length or audio.seconds) * audio.sample_rate)
    return DecodedAudio(audio.samples[first:last], audio.sample_rate, audio.start + start, audio.duration)


def grid_start(beat_time: float, bpm: float) -> float:
    """The first beat at or after 0 s of the constant grid at ``bpm`` through ``beat_time``."""
    period = 60.0 / bpm
    return round(beat_time % period, 4)


def analyze_samples(
    samples: np.ndarray, sample_rate: int, options: AnalysisOptions | None = None
) -> AnalysisResult:
    """BPM and key of mono float samples (beat times relative to the first sample)."""
    options = options or AnalysisOptions()
    samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    tempo = estimate_tempo(samples, sample_rate, options.bpm_min, options.bpm_max)
    key = estimate_key(samples, sample_rate)
    return AnalysisResult(
        bpm=tempo.bpm,
        bpm_confidence=tempo.confidence,
        key=key.key.code if key.key is not None else None,
        key_confidence=key.confidence,
        duration=round(len(samples) / sample_rate, 3),
        analysed_seconds=round(len(samples) / sample_rate, 3),
        beat_times=tempo.beat_times,
    )


_warm_lock = threading.Lock()


def warm_up() -> None:
    """Import librosa's heavy modules (numba compiles or loads its cache) and run a tiny analysis, so the
    first real track does not pay for it.  Safe to call from a background thread, more than once.
    numba's cache is written only here, by one process at a time (see ``numba_cache``)."""
    with _warm_lock, numba_cache.warming():
        import librosa.beat
        import librosa.feature  # noqa: F401

        rate = 11025
        t = np.arange(6 * rate) / rate
        clicks = (np.sin(2 * np.pi * 60 * t) * np.exp(-((t % 0.5) * 30))).astype(np.float32)
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        analyze_samples(clicks + tone, rate, AnalysisOptions(sample_rate=rate))
