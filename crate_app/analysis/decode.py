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

    mono = _MonoStream(sample_rate)
    first_time: float | None = None  # track position of the first sample pushed to the resampler
    skip_seconds = 0.0  # of that, before the excerpt starts (dropped after resampling)
    pushed = 0.0  # seconds of decoded audio pushed to the resampler
    position = start  # where decoding is, for error messages
    bad_packets = 0
    last_error: BaseException | None = None
    reached_end = False

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
                count, rate = frame.samples, frame.sample_rate
                if count <= 0 or rate <= 0:
                    continue
                if first_time is None:
                    frame_time = frame.time - origin if frame.time is not None else position
                    if frame_time + count / rate <= start:
                        continue  # the seek delivered audio before the excerpt: not even resampled
                    first_time = frame_time
                    skip_seconds = max(0.0, start - frame_time)
                mono.push(frame)
                pushed += count / rate
            if pushed - skip_seconds >= limit:
                break
        else:
            reached_end = True
        pieces = mono.finish()
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

    skip = round(skip_seconds * sample_rate)
    if sum(len(piece) for piece in pieces) <= skip:
        pieces = []
    if not pieces:
        if last_error is not None:
            raise DecodeError(
                f"decoding failed at {format_position(position)}: {_ffmpeg_message(last_error)}"
            )
        if duration and duration > MIN_AUDIO_SECONDS:
            raise DecodeError(
                f"file is truncated: the header says {format_position(duration)} but there is no audio data"
            )
        raise DecodeError("no audio data in the file")
    samples = (np.concatenate(pieces) if len(pieces) > 1 else pieces[0])[skip : skip + wanted]
    if not np.all(np.isfinite(samples)):
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    got_start = max(first_time, start) if first_time is not None else start
    audio_end = got_start + len(samples) / sample_rate
    if reached_end and duration is not None and audio_end < TRUNCATION_SHARE * duration - 1.0:
        raise DecodeError(
            f"file is truncated: audio stops at {format_position(audio_end)} "
            f"but the header says {format_position(duration)}"
        )
    return DecodedAudio(samples=samples, sample_rate=sample_rate, start=got_start, duration=duration)


# Output frames of this many samples from the resampler: few Python calls per track.
_OUTPUT_FRAME_SAMPLES = 32768
# Frames pushed into the resampler between reads of its output (bounded memory, few empty reads).
_PUSHES_PER_PULL = 64


class _MonoStream:
    """Decoded frames mixed down to mono (the mean of the channels) and resampled to ``rate`` inside
    FFmpeg's own filter graph (``pan``, ``aresample``, ``aformat``): Python only pushes each frame and
    takes float32 blocks of ``_OUTPUT_FRAME_SAMPLES`` out, instead of converting every frame itself.
    A change of format, layout or rate mid-stream ends one graph and starts another."""

    def __init__(self, rate: int) -> None:
        import av

        self.rate = rate
        self.graph: Any = None
        self.pending = 0
        self.pieces: list[np.ndarray] = []
        self._refused = av.FFmpegError

    def push(self, frame) -> None:
        if self.graph is None:
            self.graph = self._open_graph(frame)
        try:
            self.graph.push(frame)
        except self._refused:
            # FFmpeg's buffer source refuses a frame whose format, layout or rate differs from the
            # graph's (EINVAL): a new graph for the new parameters (rare; no check per frame).
            self._close_graph()
            self.graph = self._open_graph(frame)
            self.graph.push(frame)
        self.pending += 1
        if self.pending >= _PUSHES_PER_PULL:
            self._drain()

    def finish(self) -> list[np.ndarray]:
        """All samples so far, as float32 mono blocks at ``rate`` (the resampler's tail flushed)."""
        self._close_graph()
        return self.pieces

    def _open_graph(self, frame) -> Any:
        from av.filter import Graph

        graph = Graph()
        channels = max(1, len(frame.layout.channels))
        nodes = [
            graph.add_abuffer(
                format=frame.format.name,
                layout=frame.layout.name,
                sample_rate=frame.sample_rate,
                time_base=frame.time_base,
            )
        ]
        if channels > 1:  # the mean of the channels (FFmpeg's own downmix would scale stereo by 1/sqrt(2))
            weights = "+".join(f"{1.0 / channels:.12g}*c{i}" for i in range(channels))
            nodes.append(graph.add("pan", f"mono|c0={weights}"))
        if frame.sample_rate != self.rate:
            # 16 taps per phase: flat to ~0.9 of the new Nyquist, half the cost of the default 32.
            nodes.append(graph.add("aresample", f"{self.rate}:filter_size=16"))
        nodes.append(graph.add("aformat", f"sample_fmts=flt:channel_layouts=mono:sample_rates={self.rate}"))
        nodes.append(graph.add("abuffersink"))
        graph.link_nodes(*nodes).configure()
        graph.set_audio_frame_size(_OUTPUT_FRAME_SAMPLES)
        return graph

    def _drain(self) -> None:
        import av

        self.pending = 0
        while True:
            try:
                out = self.graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            self.pieces.append(np.frombuffer(out.planes[0], dtype=np.float32, count=out.samples).copy())

    def _close_graph(self) -> None:
        if self.graph is not None:
            self.graph.push(None)
            self._drain()
            self.graph = None
