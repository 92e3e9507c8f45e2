"""The overview waveform: a few hundred columns of peak and RMS level in three bands (low / mid /
high), computed from the mono samples the analysis decodes anyway, and packed into 1.3 KB.

Pure numpy, no Qt: ``overview(samples, rate)`` -> :class:`Overview`; ``encode``/``decode`` to and from
the stored bytes.  Levels are absolute (1.0 = full scale) so that quiet and loud tracks look it; the
player scales them for drawing.

The stored layout is in ``crate_app.domain.waveform`` (the window reads it without numpy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crate_app.domain.waveform import BAND_COUNT, pack_waveform, parse_waveform

# 216 columns x 3 bands x 2 bytes + 9 header bytes = 1,305 bytes: three fit in one 4 KB SQLite page
# (240 columns, 1,449 bytes, fit only two: 485 instead of 348 MB of waveforms per 200K tracks).
COLUMNS = 216
BANDS = ("low", "mid", "high")
BAND_EDGES_HZ = (250.0, 2500.0)  # low below 250 Hz (kick, bass), high above 2.5 kHz (hats, cymbals)
FRAME_SECONDS = 0.023  # level frames of ~23 ms: the "peak" is the loudest frame in a column


@dataclass(frozen=True, slots=True)
class Overview:
    """``peak`` and ``rms``: arrays (columns, 3) of levels in [0, 1]; ``seconds`` of audio covered."""

    peak: np.ndarray
    rms: np.ndarray
    seconds: float

    @property
    def columns(self) -> int:
        return int(self.peak.shape[0])


def overview(samples: np.ndarray, sample_rate: int, columns: int = COLUMNS) -> Overview:
    """Peak and RMS per column and band of mono float ``samples`` (the whole track, evenly split)."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    seconds = len(samples) / sample_rate
    frame = 1 << max(6, round(np.log2(sample_rate * FRAME_SECONDS)))
    frames = len(samples) // frame
    if frames == 0:
        return Overview(np.zeros((columns, 3), np.float32), np.zeros((columns, 3), np.float32), seconds)
    from scipy.fft import rfft  # float32 in, complex64 out: twice numpy's speed here

    window = np.hanning(frame).astype(np.float32)
    spectra = rfft(samples[: frames * frame].reshape(frames, frame) * window, axis=1)
    power = spectra.real**2 + spectra.imag**2
    power[:, 1:-1] *= 2.0  # one-sided spectrum: each inner bin stands for its negative twin too
    # Parseval with the window's energy: band power per frame, in units of the signal's mean square.
    power /= frame * float(np.sum(window**2))
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    low_edge, high_edge = BAND_EDGES_HZ
    masks = (freqs < low_edge, (freqs >= low_edge) & (freqs < high_edge), freqs >= high_edge)
    band_power = np.stack([power[:, mask].sum(axis=1) for mask in masks], axis=1)  # (frames, 3)
    # Column c holds frames [starts[c], starts[c + 1]); when there are fewer frames than columns,
    # neighbouring columns share a frame.
    starts = np.minimum((np.arange(columns) * frames) // columns, frames - 1)
    ends = np.maximum(((np.arange(1, columns + 1)) * frames) // columns, starts + 1)
    cumulative = np.concatenate([np.zeros((1, 3)), np.cumsum(band_power, axis=0)])
    mean_power = (cumulative[ends] - cumulative[starts]) / (ends - starts)[:, None]
    peak_power = np.maximum.reduceat(band_power, starts, axis=0)
    # reduceat over a run [s, next start): with shared frames the next start may equal s; fix those.
    same = np.append(starts[1:] <= starts[:-1], True)
    peak_power[same] = np.maximum(peak_power[same], band_power[starts[same]])
    rms = np.sqrt(mean_power).astype(np.float32)
    peak = np.sqrt(2.0 * peak_power).astype(np.float32)  # a frame's RMS times sqrt(2): a sine's peak
    return Overview(np.clip(peak, 0.0, 1.0), np.clip(rms, 0.0, 1.0), seconds)


def _quantise(levels: np.ndarray) -> np.ndarray:
    return np.round(255.0 * np.sqrt(np.clip(levels, 0.0, 1.0))).astype(np.uint8)


def encode(view: Overview) -> bytes:
    """The stored form of an overview (see ``crate_app.domain.waveform``)."""
    body = np.stack([_quantise(view.peak), _quantise(view.rms)], axis=2)  # (columns, 3, 2)
    return pack_waveform(view.columns, view.seconds, body.tobytes())


def decode(data: bytes) -> Overview:
    """An overview from its stored bytes; ValueError for bytes that are not one."""
    stored = parse_waveform(data)
    body = np.frombuffer(stored.levels, np.uint8).reshape(stored.columns, BAND_COUNT, 2) / np.float32(255.0)
    return Overview(body[:, :, 0] ** 2, body[:, :, 1] ** 2, stored.seconds)
