"""Acoustic fingerprints (Chromaprint) and how "same recording" is found among a million of them.

A fingerprint is Chromaprint's sequence of 32-bit sub-fingerprints (about 8 a second) of the first
two minutes, made with libchromaprint through ``pyacoustid``'s binding from PCM that PyAV decodes
(11025 Hz mono, what Chromaprint works on), or by the ``fpcalc`` tool when the library is missing.

Matching goes through an index, never all pairs: each fingerprint gets ``KEY_COUNT`` min-hash keys
of the set of its sub-fingerprints (two encodings of one recording share most of their values, so
they share a key with high probability); tracks sharing a key are candidates, and a candidate pair
counts when enough aligned sub-fingerprints differ in at most ``MAX_BIT_ERRORS`` bits.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING

from crate_app.domain.errors import CrateError

if TYPE_CHECKING:  # numpy is imported where fingerprints are made or compared: the window never loads it
    import numpy as np

SAMPLE_RATE = 11025
FINGERPRINT_SECONDS = 120
KEY_COUNT = 8
MAX_BIT_ERRORS = 2
MAX_OFFSET = 80  # sub-fingerprints (~10 s): how far two encodings may be shifted (leading silence)
MATCH_THRESHOLD = 0.5  # share of the shorter fingerprint that must match at the best offset
MIN_VALUES = 16  # fewer sub-fingerprints (under ~2 s of audio): too short to say anything
_MASK64 = (1 << 64) - 1
# Fixed odd multipliers and salts of the min-hash functions (never change them: stored keys use them).
_MULTIPLIERS = (
    0x9E3779B1,
    0x85EBCA77,
    0xC2B2AE3D,
    0x27D4EB2F,
    0x165667B1,
    0xD3A2646D,
    0xFD7046C5,
    0xB55A4F09,
)
_SALTS = (0x5BD1E995, 0x1B873593, 0xCC9E2D51, 0xE6546B64, 0x85EBCA6B, 0xC2B2AE35, 0x27D4EB2F, 0x9E3779B9)


class FingerprintError(CrateError):
    """No fingerprint could be made; the message says why in words."""


def fingerprint_available() -> bool:
    """Whether libchromaprint (through pyacoustid) or ``fpcalc`` is installed."""
    return _have_library() or shutil.which("fpcalc") is not None


def _have_library() -> bool:
    try:
        import acoustid

        return bool(acoustid.have_chromaprint)
    except ImportError:
        return False


def fingerprint_file(
    path: str, seconds: int = FINGERPRINT_SECONDS, should_stop: Callable[[], bool] | None = None
) -> np.ndarray:
    """The raw fingerprint (uint32 array) of the first ``seconds`` of ``path``."""
    if _have_library():
        return fingerprint_pcm(_decode_pcm(path, seconds, should_stop), SAMPLE_RATE)
    if shutil.which("fpcalc"):
        return _fpcalc(path, seconds)
    raise FingerprintError(
        "Chromaprint is not installed (the libchromaprint1 or libchromaprint-tools package)"
    )


def fingerprint_pcm(pcm: bytes, rate: int, channels: int = 1) -> np.ndarray:
    """The raw fingerprint of signed 16-bit PCM (for audio that is decoded anyway, e.g. by analysis)."""
    import acoustid
    import chromaprint
    import numpy as np

    try:
        encoded = acoustid.fingerprint(rate, channels, iter([pcm]), maxlength=FINGERPRINT_SECONDS)
        values, _algorithm = chromaprint.decode_fingerprint(encoded)
    except (acoustid.FingerprintGenerationError, chromaprint.FingerprintError) as exc:
        raise FingerprintError(f"Chromaprint failed: {exc}") from exc
    if len(values) < MIN_VALUES:
        raise FingerprintError("too short to fingerprint")
    return np.array(values, dtype=np.int64).astype(np.uint32)


def _decode_pcm(path: str, seconds: int, should_stop: Callable[[], bool] | None) -> bytes:
    import av

    pieces: list[bytes] = []
    wanted = seconds * SAMPLE_RATE * 2
    have = 0
    try:
        with av.open(path) as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for count, frame in enumerate(container.decode(stream)):
                if should_stop is not None and count % 256 == 0 and should_stop():
                    raise FingerprintError("stopped")
                for out in resampler.resample(frame):
                    data = bytes(out.planes[0])[: out.samples * 2]
                    pieces.append(data)
                    have += len(data)
                if have >= wanted:
                    break
    except (av.FFmpegError, IndexError) as exc:
        raise FingerprintError(f"the audio cannot be decoded: {exc}") from exc
    return b"".join(pieces)[:wanted]


def _fpcalc(path: str, seconds: int) -> np.ndarray:
    import numpy as np

    try:
        done = subprocess.run(
            ["fpcalc", "-raw", "-json", "-length", str(seconds), path],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        values = json.loads(done.stdout)["fingerprint"]
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError) as exc:
        raise FingerprintError(f"fpcalc failed: {exc}") from exc
    if len(values) < MIN_VALUES:
        raise FingerprintError("too short to fingerprint")
    return np.array(values, dtype=np.int64).astype(np.uint32)


def to_blob(values: np.ndarray) -> bytes:
    return values.astype("<u4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    import numpy as np

    return np.frombuffer(blob, dtype="<u4")


def index_keys(values: np.ndarray) -> list[int]:
    """The ``KEY_COUNT`` min-hash keys of a fingerprint (signed 64-bit, as SQLite stores integers):
    key i = i in the top byte, the minimum of hash function i over the distinct values below it."""
    import numpy as np

    distinct = np.unique(values.astype(np.uint64))
    salts = np.array(_SALTS, dtype=np.uint64)[:, None]
    multipliers = np.array(_MULTIPLIERS, dtype=np.uint64)[:, None]
    hashed = ((distinct[None, :] ^ salts) * multipliers) & np.uint64(0xFFFFFFFF)
    hashed ^= hashed >> np.uint64(15)
    minima = hashed.min(axis=1)
    keys = []
    for i, low in enumerate(minima.tolist()):
        key = (i << 56) | low
        keys.append(key - (1 << 64) if key >= 1 << 63 else key)
    return keys


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the shorter fingerprint whose aligned sub-fingerprints differ in at most
    ``MAX_BIT_ERRORS`` bits, at the best offset within ``MAX_OFFSET``.  The offsets tried are those
    where equal sub-fingerprints line up most often (and 0), not all of them."""
    import numpy as np

    if len(a) == 0 or len(b) == 0:
        return 0.0
    a32, b32 = a.astype(np.uint32), b.astype(np.uint32)
    return _score(a32, b32, _likely_offsets(a32, b32))


def _score(a: np.ndarray, b: np.ndarray, offsets: list[int]) -> float:
    import numpy as np

    best = 0
    for offset in offsets:
        x, y = (a[offset:], b) if offset >= 0 else (a, b[-offset:])
        n = min(len(x), len(y))
        if n < MIN_VALUES:
            continue
        best = max(best, int(np.count_nonzero(np.bitwise_count(x[:n] ^ y[:n]) <= MAX_BIT_ERRORS)))
    return best / min(len(a), len(b))


def _likely_offsets(a: np.ndarray, b: np.ndarray, count: int = 3) -> list[int]:
    """Offsets (index in a minus index in b) at which equal values line up most often, and 0."""
    import numpy as np

    values, first_in_b = np.unique(b, return_index=True)
    where = np.searchsorted(values, a)
    where[where >= len(values)] = 0
    hit = values[where] == a
    offsets = np.nonzero(hit)[0] - first_in_b[where[hit]]
    offsets = offsets[np.abs(offsets) <= MAX_OFFSET]
    chosen = [0]
    if len(offsets):
        found, counts = np.unique(offsets, return_counts=True)
        for offset in found[np.argsort(-counts)][:count].tolist():
            chosen.extend((offset - 1, offset, offset + 1))
    return list(dict.fromkeys(chosen))


def same_recording(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two fingerprints are of one recording: aligned as they are (most copies are), else at the
    offsets where their values line up."""
    import numpy as np

    if len(a) == 0 or len(b) == 0:
        return False
    a32, b32 = a.astype(np.uint32), b.astype(np.uint32)
    if _score(a32, b32, [0, -1, 1]) >= MATCH_THRESHOLD:
        return True
    return _score(a32, b32, _likely_offsets(a32, b32)) >= MATCH_THRESHOLD
