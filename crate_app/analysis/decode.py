"""Decode an excerpt of an audio file to mono float32 with PyAV (FFmpeg in-process, every format).

Decoding is bounded so that a malformed or hostile file cannot hang a worker: a wall-clock deadline is
checked between packets and also enforced inside FFmpeg's I/O (PyAV's ``timeout``), the amount of
decoded audio is capped, and every PyAV/FFmpeg error becomes a :class:`DecodeError` with a message a
person can read.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from crate_app.domain.errors import DecodeError
from crate_app.domain.progress import format_position

# Cap on the audio decoded in one call when the whole track is wanted (excerpt 0): 30 minutes keeps
# the memory for decoded audio and spectrograms bounded (~250 MB); longer files (DJ mixes) are
# analysed on their first 30 minutes.
MAX_DECODE_SECONDS = 1800.0
# Undecodable packets tolerated before giving up (real-world MP3s carry the odd broken frame).
MAX_BAD_PACKETS = 32
# The audio ending before this share of the length the header states means a truncated file.  (Not
# stricter: FFmpeg estimates the length of VBR MP3s without a Xing/VBRI header from the bitrate.)
TRUNCATION_SHARE = 0.8
# Audio shorter than this is not worth analysing.
MIN_AUDIO_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """Mono float32 samples of (part of) a track."""

    samples: np.ndarray  # shape (n,), float32
    sample_rate: int
    start: float  # position of samples[0] in the track, seconds
    duration: float | None  # length of the whole track as the container states it, if known

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def excerpt_window(duration: float | None, excerpt_seconds: float) -> tuple[float, float | None]:
    """(start, length) of the part to analyse: ``excerpt_seconds`` from the middle of the track.

    ``length`` is None for "to the end" (whole track, or unknown duration).
    """
    if excerpt_seconds <= 0 or duration is None or duration <= excerpt_seconds:
        return 0.0, (excerpt_seconds if excerpt_seconds > 0 and duration is None else None)
    return (duration - excerpt_seconds) / 2.0, excerpt_seconds


def _ffmpeg_message(error: BaseException) -> str:
    """FFmpeg's own words for an error, without PyAV's errno and file name decoration."""
    import av

    if isinstance(error, av.FFmpegError) and error.strerror:
        return str(error.strerror)
    return str(error) or type(error).__name__


def decode_excerpt(
    path: str | os.PathLike[str],
    sample_rate: int,
    excerpt_seconds: float = 0.0,
    timeout_seconds: float = 120.0,
) -> DecodedAudio:
    """Decode ``excerpt_seconds`` from the middle of the file (0 = whole file) to mono at ``sample_rate``.

    Only the excerpt is decoded: the demuxer seeks to its start.  Raises :class:`DecodeError`.
    """

    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise DecodeError("file not found") from None
    except OSError as error:
        raise DecodeError(f"cannot read the file: {error.strerror or error}") from None
    if os.path.isdir(path):
        raise DecodeError("not a file but a folder")
    if size == 0:
        raise DecodeError("file is empty")

    deadline = time.monotonic() + timeout_seconds
    try:
        return _decode(path, sample_rate, excerpt_seconds, deadline, timeout_seconds, seek=True)
    except _SeekFailed:
        # Some damaged files cannot seek: decode from the start and drop what precedes the excerpt.
        return _decode(path, sample_rate, excerpt_seconds, deadline, timeout_seconds, seek=False)


class _SeekFailed(Exception):
    pass


def _lenient_metadata(av: Any) -> dict[str, str]:
    """PyAV < 19 fails on undecodable tag text unless told to ignore it; 19 dropped the option (and the
    failure)."""
    major = int(str(av.__version__).split(".")[0])
    return {"metadata_errors": "ignore"} if major < 19 else {}


def _decode(
    path: str, sample_rate: int, excerpt_seconds: float, deadline: float, timeout_seconds: float, seek: bool
) -> DecodedAudio:
    import av

    try:
        container = av.open(path, timeout=(timeout_seconds, timeout_seconds), **_lenient_metadata(av))
    except av.FFmpegError as error:
        raise DecodeError(_open_error_message(error, _looks_like_audio(path))) from None
    except Exception as error:  # PyAV raises plain Python errors for some broken headers
        raise DecodeError(f"not an audio file ({_ffmpeg_message(error)})") from None
    try:
        return _decode_open_container(
            container, sample_rate, excerpt_seconds, deadline, timeout_seconds, seek
        )
    except (DecodeError, _SeekFailed):
        raise
    except Exception as error:  # anything PyAV or FFmpeg throws at us, e.g. from absurd header values
        raise DecodeError(f"cannot decode the audio: {_ffmpeg_message(error)}") from None
    finally:
        try:
            container.close()
        except Exception:
            pass


# Signatures at the start of audio files: a file that has one but does not open is damaged, not foreign.
_AUDIO_SIGNATURES = (
    b"ID3",
    b"fLaC",
    b"OggS",
    b"RIFF",
    b"FORM",
    b"MAC ",
    b"wvpk",
    b"MPCK",
    b"MP+",
    b"0&\xb2u",
)


def _looks_like_audio(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    if head[4:8] == b"ftyp" or head.startswith(_AUDIO_SIGNATURES):
        return True
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0  # MPEG audio frame sync


def _open_error_message(error: BaseException, looks_like_audio: bool = False) -> str:
    import av

    if isinstance(error, av.error.ExitError):
        return "opening the file took too long"
    if looks_like_audio:
        return f"damaged or truncated audio file ({_ffmpeg_message(error)})"
    if isinstance(error, av.error.EOFError):
        return "not an audio file (it ends before any audio starts)"
    if isinstance(error, av.error.PermissionError):
        return "cannot read the file: permission denied"
    if isinstance(error, av.error.InvalidDataError):
        return "not an audio file"
    return f"not an audio file ({_ffmpeg_message(error)})"


def _stream_origin(stream) -> float:
    """The stream's start time in seconds (0 when unknown or implausible)."""
    try:
        origin = (
            float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
        )
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return origin if 0.0 < origin < 1.0 else 0.0


def _stated_duration(container, stream) -> float | None:
    """Track length from the stream or container header, or None."""
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
        if seconds > 0 and math.isfinite(seconds):
            return seconds
    if container.duration and container.duration > 0:
        return container.duration / 1_000_000
    return None


def _decode_open_container(
    container, sample_rate: int, excerpt_seconds: float, deadline: float, timeout_seconds: float, seek: bool
) -> DecodedAudio:
    import av

    streams = [s for s in container.streams if s.type == "audio"]
    if not streams:
        raise DecodeError("no audio stream")
    stream = streams[0]
    if not stream.codec_context or not stream.codec_context.name:
        raise DecodeError("no decoder for this audio format")
    duration = _stated_duration(container, stream)
    # Timestamps count from the stream's start time: an MP3 with a LAME header starts at the encoder
    # delay (~25 ms) that the decoder skips, so its first sample is track time 0 and a frame stamped t
    # holds the audio of t - origin.  (Without this, grids from a seeked excerpt land 25 ms late.)
    origin = _stream_origin(stream)
    start, length = excerpt_window(duration, excerpt_seconds)
    limit = min(length, MAX_DECODE_SECONDS) if length is not None else MAX_DECODE_SECONDS
    wanted = int(limit * sample_rate)

    if start > 0 and seek:
        try:
            container.seek(int(start * 1_000_000), backward=True, any_frame=False)
        except Exception:
            raise _SeekFailed from None

    chunks: list[_Chunk] = []  # the decoded frames' samples, as they came
    have = 0.0  # seconds kept
    first_time: float | None = None  # track position of the first kept sample
    position = start  # where decoding is, for error messages
    bad_packets = 0
    last_error: BaseException | None = None
    reached_end = False

    def keep(chunk: _Chunk | None, frame_time: float | None) -> None:
        nonlocal have, first_time
        if chunk is None or chunk.samples <= 0 or chunk.rate <= 0:
            return
        if first_time is None:
            # Drop what the seek delivered before the excerpt starts.
            frame_time = position if frame_time is None else frame_time
            skip = round((start - frame_time) * chunk.rate) if frame_time < start else 0
            if skip >= chunk.samples:
                return
            chunk = chunk.dropping(skip)
            first_time = max(frame_time, start)
        chunks.append(chunk)
        have += chunk.samples / chunk.rate

    time_base = float(stream.time_base) if stream.time_base else 0.0
    try:
        for packet in container.demux(stream):
            if time.monotonic() > deadline:
                raise DecodeError(
                    f"decoding took longer than {timeout_seconds:g} s "
                    f"(stopped at {format_position(position)})"
                )
            if packet.pts is not None and time_base:
                position = packet.pts * time_base
            try:
                frames = packet.decode()
            except av.FFmpegError as error:
                bad_packets += 1
                last_error = error
                if bad_packets > MAX_BAD_PACKETS:
                    raise DecodeError(
                        f"decoding failed at {format_position(position)}: {_ffmpeg_message(error)}"
                    ) from None
                continue
            for frame in frames:
                frame_time = frame.time - origin if frame.time is not None else None
                if frame_time is not None and first_time is None and frame_time + 1.0 < start - 30.0:
                    continue  # a seek that landed far too early: skip cheaply, without resampling
                keep(_Chunk.of(frame), frame_time)
            if have >= limit:
                break
        else:
            reached_end = True
    except DecodeError:
        raise
    except av.FFmpegError as error:
        raise DecodeError(
            f"decoding failed at {format_position(position)}: {_ffmpeg_message(error)}"
        ) from None
    except (MemoryError, RecursionError):
        raise DecodeError(f"decoding failed at {format_position(position)}: out of memory") from None
    except Exception as error:
        raise DecodeError(
            f"decoding failed at {format_position(position)}: {type(error).__name__}: {error}"
        ) from None

    if not chunks:
        if last_error is not None:
            raise DecodeError(
                f"decoding failed at {format_position(position)}: {_ffmpeg_message(last_error)}"
            )
        if duration and duration > MIN_AUDIO_SECONDS:
            raise DecodeError(
                f"file is truncated: the header says {format_position(duration)} but there is no audio data"
            )
        raise DecodeError("no audio data in the file")
    samples = _resampled(chunks, sample_rate)[:wanted]
    if not np.all(np.isfinite(samples)):
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    got_start = first_time if first_time is not None else start
    audio_end = got_start + len(samples) / sample_rate
    if reached_end and duration is not None and audio_end < TRUNCATION_SHARE * duration - 1.0:
        raise DecodeError(
            f"file is truncated: audio stops at {format_position(audio_end)} "
            f"but the header says {format_position(duration)}"
        )
    return DecodedAudio(samples=samples, sample_rate=sample_rate, start=got_start, duration=duration)


# Scale of integer sample formats to [-1, 1).
_INTEGER_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0}


_DTYPES = {
    "u8": np.uint8,
    "s16": np.int16,
    "s32": np.int32,
    "s64": np.int64,
    "flt": np.float32,
    "dbl": np.float64,
}


@dataclass(frozen=True, slots=True)
class _Chunk:
    """One decoded frame's samples as views of its planes (no copy, no arithmetic per frame: at ~40
    frames per second, numpy calls per frame cost more than decoding)."""

    rate: int
    kind: tuple[str, bool, int]  # (sample format without the planar "p", planar, channels)
    views: tuple[np.ndarray, ...]  # one per channel if planar, else one interleaved

    @classmethod
    def of(cls, frame) -> _Chunk | None:
        name = frame.format.name.rstrip("p")
        dtype = _DTYPES.get(name)
        channels = max(1, len(frame.layout.channels))
        count = frame.samples
        if dtype is None or count <= 0:
            return None
        planar = bool(frame.format.is_planar)
        if planar:
            views = tuple(np.frombuffer(plane, dtype=dtype, count=count) for plane in frame.planes[:channels])
        else:
            views = (np.frombuffer(frame.planes[0], dtype=dtype, count=count * channels),)
        return cls(frame.sample_rate, (name, planar, channels), views)

    @property
    def samples(self) -> int:
        return len(self.views[0]) // (1 if self.kind[1] else self.kind[2])

    def dropping(self, count: int) -> _Chunk:
        step = 1 if self.kind[1] else self.kind[2]
        return _Chunk(self.rate, self.kind, tuple(v[count * step :] for v in self.views))


def _mono_run(chunks: list[_Chunk]) -> np.ndarray:
    """Chunks of one rate and format joined and mixed down to mono float32."""
    name, planar, channels = chunks[0].kind
    if planar:
        columns = [np.concatenate([c.views[i] for c in chunks]) for i in range(channels)]
    else:
        columns = list(np.concatenate([c.views[0] for c in chunks]).reshape(-1, channels).T)
    mono = columns[0].astype(np.float32)
    for column in columns[1:]:
        mono += column
    if name == "u8":
        mono -= 128.0 * channels
    mono /= _INTEGER_SCALE.get(name, 1.0) * channels
    return mono


def _resample_block(samples: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    """One polyphase resampling of a whole block: for 44.1 kHz to 11025 Hz a 48-tap Kaiser low-pass
    (flat to ~4.4 kHz, the analysis needs no more), ~2x cheaper than FFmpeg's resampler on the block
    and ~8x cheaper than resampling each decoded frame."""
    from scipy.signal import firwin, resample_poly

    divisor = math.gcd(rate, sample_rate)
    up, down = sample_rate // divisor, rate // divisor
    if up == 1:
        taps = firwin(12 * down, 0.8 / down, window=("kaiser", 6.0))
        return resample_poly(samples, 1, down, window=taps).astype(np.float32)
    return resample_poly(samples, up, down).astype(np.float32)


def _resampled(chunks: list[_Chunk], sample_rate: int) -> np.ndarray:
    """The chunks joined and resampled to ``sample_rate`` in one pass per run of equal rates (a
    polyphase filter over the whole excerpt, instead of a resampler call per frame)."""
    pieces = []
    run: list[_Chunk] = []
    for chunk in [*chunks, None]:
        if run and (chunk is None or (chunk.rate, chunk.kind) != (run[0].rate, run[0].kind)):
            mono = _mono_run(run)
            rate = run[0].rate
            pieces.append(_resample_block(mono, rate, sample_rate) if rate != sample_rate else mono)
            run = []
        if chunk is not None:
            run.append(chunk)
    samples = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
    return np.ascontiguousarray(samples, dtype=np.float32)
