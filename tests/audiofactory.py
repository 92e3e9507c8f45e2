"""Real audio files for tests and benchmarks: synthesised with numpy, encoded with PyAV, tagged with mutagen.

Used by the test suite and by the benchmark scripts (which put ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import fractions
import io
from collections.abc import Mapping
from pathlib import Path

import av
import numpy as np

FORMATS = ("mp3", "flac", "m4a", "ogg", "wav")

_CONTAINER = {"mp3": "mp3", "flac": "flac", "m4a": "ipod", "ogg": "ogg", "wav": "wav", "opus": "ogg"}
_CODEC = {
    "mp3": "libmp3lame",
    "flac": "flac",
    "m4a": "aac",
    "ogg": "vorbis",
    "wav": "pcm_s16le",
    "opus": "libopus",
}


def tone(seconds: float = 1.0, rate: int = 44100, freq: float = 440.0, channels: int = 2) -> np.ndarray:
    """A quiet sine tone, shape (channels, samples), float32 in [-1, 1]."""
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    mono = 0.2 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.tile(mono, (channels, 1))


def melody(seed: int, seconds: float = 20.0, rate: int = 44100, channels: int = 2) -> np.ndarray:
    """A different plucked-note melody with a little noise for each ``seed``, shape (channels, samples):
    varied enough that Chromaprint tells two seeds apart and recognises one seed in any codec."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    signal = np.zeros(n)
    step = rate // 4
    notes = (220, 247, 262, 294, 330, 349, 392, 440, 494, 523)
    for start in range(0, n, step):
        end = min(n, start + step)
        freq = notes[rng.integers(len(notes))]
        signal[start:end] += (
            0.3 * np.sin(2 * np.pi * freq * t[start:end]) * np.exp(-np.linspace(0, 4, end - start))
        )
    signal += 0.02 * rng.standard_normal(n)
    return np.tile(signal.astype(np.float32), (channels, 1))


def encode(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    """Encode float32 samples of shape (channels, n) into a file of format ``fmt``; return its bytes."""
    if samples.ndim == 1:
        samples = samples[np.newaxis, :]
    channels = samples.shape[0]
    if fmt == "opus" and rate != 48000:
        raise ValueError("opus wants 48 kHz")
    buffer = io.BytesIO()
    buffer.name = f"x.{fmt}"
    with av.open(buffer, mode="w", format=_CONTAINER[fmt]) as container:
        stream = container.add_stream(_CODEC[fmt], rate=rate)
        if fmt == "ogg":
            stream.codec_context.options = {"strict": "experimental"}  # FFmpeg's native Vorbis encoder
        stream.layout = "stereo" if channels == 2 else "mono"
        frame_size = 1152 if fmt == "mp3" else 1024
        pts = 0
        for start in range(0, samples.shape[1], frame_size):
            chunk = np.ascontiguousarray(samples[:, start : start + frame_size], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(
                chunk.reshape(1, -1, order="F") if channels > 1 else chunk,
                format="flt" if channels > 1 else "fltp",
                layout=stream.layout.name,
            )
            frame.sample_rate = rate
            frame.pts = pts
            frame.time_base = fractions.Fraction(1, rate)
            pts += chunk.shape[1]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


_ENCODED_CACHE: dict[tuple[str, float, int], bytes] = {}


def write_audio(
    path: Path,
    tags: Mapping[str, object] | None = None,
    *,
    seconds: float = 1.0,
    samples: np.ndarray | None = None,
    rate: int = 44100,
    cover: bytes | None = None,
) -> Path:
    """Write a real, playable audio file at ``path`` (format from the suffix) with the given tags.

    ``tags`` keys: title, artist, album, albumartist, genre, year, track, disc, bpm, key, comment,
    label.  Encoded audio is cached per (format, seconds, rate) when ``samples`` is not given, so
    writing thousands of files is fast.
    """
    fmt = path.suffix.lower().lstrip(".")
    if samples is None:
        cache_key = (fmt, seconds, rate)
        data = _ENCODED_CACHE.get(cache_key)
        if data is None:
            data = _ENCODED_CACHE[cache_key] = encode(tone(seconds, rate), rate, fmt)
    else:
        data = encode(samples, rate, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if tags or cover:
        write_tags(path, dict(tags or {}), cover=cover)
    return path


def write_tags(path: Path, tags: dict[str, object], cover: bytes | None = None) -> None:
    """Tag a file with mutagen, in the frames DJ software uses for each format."""
    import mutagen
    from mutagen.flac import Picture
    from mutagen.id3 import APIC, COMM, ID3, TALB, TBPM, TCON, TDRC, TIT2, TKEY, TPE1, TPE2, TPOS, TPUB, TRCK
    from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm

    fmt = path.suffix.lower().lstrip(".")
    text = {k: str(v) for k, v in tags.items() if v is not None}
    if fmt in ("mp3", "wav", "aiff"):
        if fmt == "mp3":
            id3 = ID3()
        else:
            audio = mutagen.File(path)
            audio.add_tags()
            id3 = audio.tags
        frames = {
            "title": TIT2, "artist": TPE1, "album": TALB, "albumartist": TPE2, "genre": TCON,
            "year": TDRC, "track": TRCK, "disc": TPOS, "bpm": TBPM, "key": TKEY, "label": TPUB,
        }  # fmt: skip
        for name, frame in frames.items():
            if name in text:
                id3.add(frame(encoding=3, text=[text[name]]))
        if "comment" in text:
            id3.add(COMM(encoding=3, lang="eng", desc="", text=[text["comment"]]))
        if cover:
            id3.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="Cover", data=cover))
        if fmt == "mp3":
            id3.save(path)
        else:
            audio.save()
    elif fmt in ("flac", "ogg", "opus"):
        audio = mutagen.File(path)
        names = {
            "title": "TITLE", "artist": "ARTIST", "album": "ALBUM", "albumartist": "ALBUMARTIST",
            "genre": "GENRE", "year": "DATE", "track": "TRACKNUMBER", "disc": "DISCNUMBER", "bpm": "BPM",
            "key": "INITIALKEY", "comment": "COMMENT", "label": "LABEL",
        }  # fmt: skip
        for name, field in names.items():
            if name in text:
                audio[field] = text[name]
        if cover and fmt == "flac":
            picture = Picture()
            picture.type, picture.mime, picture.data = 3, "image/jpeg", cover
            audio.add_picture(picture)
        audio.save()
    elif fmt == "m4a":
        audio = MP4(path)
        names = {
            "title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "albumartist": "aART",
            "genre": "\xa9gen", "year": "\xa9day", "comment": "\xa9cmt",
        }  # fmt: skip
        for name, atom in names.items():
            if name in text:
                audio[atom] = [text[name]]
        if "track" in text:
            audio["trkn"] = [(int(text["track"].split("/")[0]), 0)]
        if "disc" in text:
            audio["disk"] = [(int(text["disc"].split("/")[0]), 0)]
        if "bpm" in text:
            audio["tmpo"] = [round(float(text["bpm"]))]
        if "key" in text:
            audio["----:com.apple.iTunes:initialkey"] = [MP4FreeForm(text["key"].encode())]
        if "label" in text:
            audio["----:com.apple.iTunes:LABEL"] = [MP4FreeForm(text["label"].encode())]
        if cover:
            audio["covr"] = [MP4Cover(cover, imageformat=MP4Cover.FORMAT_JPEG)]
        audio.save()
    else:
        raise ValueError(f"cannot tag .{fmt} files")
