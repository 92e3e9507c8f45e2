"""A hash of a file's audio payload without its tags, so that a re-tagged copy hashes the same.

Where the format has a cheap offset to its audio, the payload bytes are hashed as they are:
MP3 (after ID3v2, before APEv2/Lyrics3/ID3v1 at the end), FLAC (the frames after the metadata
blocks), WAV/AIFF (the data/SSND chunk), MP4/M4A (the mdat atoms), Ogg (the bodies of the pages after
the header pages).  Anything else is decoded with PyAV and the PCM is hashed.  Reading is sequential
in 1 MB blocks (disk speed); ``should_stop`` is checked between blocks.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO

from crate_app.domain.errors import CrateError

BLOCK = 1 << 20
HASH_PREFIX_PAYLOAD = "p:"  # payload bytes
HASH_PREFIX_PCM = "d:"  # decoded samples (formats without a cheap payload offset)


class AudioHashError(CrateError):
    """The audio of a file could not be hashed; the message says why in words."""


class HashCancelled(Exception):
    pass


def audio_hash(path: str, should_stop: Callable[[], bool] | None = None) -> str:
    """The hex hash of the audio in ``path`` (prefixed ``p:`` for payload bytes, ``d:`` for PCM)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
            size = os.fstat(handle.fileno()).st_size
            if head[:4] == b"OggS":
                handle.close()
                return HASH_PREFIX_PAYLOAD + _ogg_hash(path, should_stop)
            ranges = _payload_ranges(handle, head, size)
            if ranges is not None:
                return HASH_PREFIX_PAYLOAD + _hash_ranges(handle, ranges, should_stop)
    except OSError as exc:
        raise AudioHashError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (struct.error, ValueError) as exc:
        raise AudioHashError(f"the file's structure is damaged: {exc}") from exc
    return HASH_PREFIX_PCM + _pcm_hash(path, should_stop)


def _payload_ranges(handle: BinaryIO, head: bytes, size: int) -> list[tuple[int, int]] | None:
    """[(start, end)) byte ranges of audio payload, or None when the format needs decoding."""
    if head[:4] == b"fLaC":
        return [(_flac_audio_start(handle), size)]
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return _iff_chunks(handle, size, b"data", little=True)
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _iff_chunks(handle, size, b"SSND", little=False)
    if head[4:8] == b"ftyp":
        return _mp4_mdat(handle, size)
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0):
        return [_mp3_range(handle, head, size)]
    return None


def _flac_audio_start(handle: BinaryIO) -> int:
    handle.seek(4)
    while True:
        header = handle.read(4)
        if len(header) < 4:
            raise ValueError("the FLAC metadata ends early")
        last, length = header[0] & 0x80, int.from_bytes(header[1:4], "big")
        handle.seek(length, os.SEEK_CUR)
        if last:
            return handle.tell()


def _iff_chunks(handle: BinaryIO, size: int, wanted: bytes, little: bool) -> list[tuple[int, int]]:
    handle.seek(12)
    ranges = []
    fmt = "<I" if little else ">I"
    while handle.tell() + 8 <= size:
        chunk_id = handle.read(4)
        (length,) = struct.unpack(fmt, handle.read(4))
        start = handle.tell()
        if chunk_id == wanted:
            ranges.append((start, min(size, start + length)))
        handle.seek(start + length + (length & 1))
    if not ranges:
        raise ValueError(f"no {wanted.decode()} chunk")
    return ranges


def _mp4_mdat(handle: BinaryIO, size: int) -> list[tuple[int, int]]:
    position, ranges = 0, []
    while position + 8 <= size:
        handle.seek(position)
        length, kind = struct.unpack(">I4s", handle.read(8))
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", handle.read(8))
            header = 16
        elif length == 0:
            length = size - position
        if length < header:
            raise ValueError("an MP4 atom has an impossible size")
        if kind == b"mdat":
            ranges.append((position + header, min(size, position + length)))
        position += length
    if not ranges:
        raise ValueError("no mdat atom")
    return ranges


def _mp3_range(handle: BinaryIO, head: bytes, size: int) -> tuple[int, int]:
    start = 0
    while True:  # ID3v2 tags at the start (sometimes more than one)
        handle.seek(start)
        header = handle.read(10)
        if header[:3] != b"ID3" or len(header) < 10:
            break
        tag_size = (header[6] << 21) | (header[7] << 14) | (header[8] << 7) | header[9]
        start += 10 + tag_size + (10 if header[5] & 0x10 else 0)
    end = size
    while end > start:  # tags at the end, in any order: ID3v1, APEv2, Lyrics3v2
        if end - 128 >= start:
            handle.seek(end - 128)
            if handle.read(3) == b"TAG":
                end -= 128
                continue
        if end - 32 >= start:
            handle.seek(end - 32)
            footer = handle.read(32)
            if footer[:8] == b"APETAGEX":
                length, _count, flags = struct.unpack("<III", footer[12:24])
                end -= length + (32 if flags & 0x80000000 else 0)
                continue
        if end - 15 >= start:
            handle.seek(end - 15)
            tail = handle.read(15)
            if tail[6:] == b"LYRICS200":
                end -= int(tail[:6]) + 15
                continue
        break
    return start, max(start, end)


def _hash_ranges(
    handle: BinaryIO, ranges: list[tuple[int, int]], should_stop: Callable[[], bool] | None
) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for start, end in ranges:
        for block in _blocks(handle, start, end, should_stop):
            digest.update(block)
    return digest.hexdigest()


def _blocks(
    handle: BinaryIO, start: int, end: int, should_stop: Callable[[], bool] | None
) -> Iterator[bytes]:
    handle.seek(start)
    left = end - start
    while left > 0:
        if should_stop is not None and should_stop():
            raise HashCancelled
        block = handle.read(min(BLOCK, left))
        if not block:
            break
        left -= len(block)
        yield block


def _ogg_hash(path: str, should_stop: Callable[[], bool] | None) -> str:
    """Bodies of the Ogg pages after the headers (header pages have granule position 0; the comment
    header may change how many there are, never the audio pages' bodies)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        pages = 0
        while True:
            if should_stop is not None and should_stop() and pages % 256 == 0:
                raise HashCancelled
            header = handle.read(27)
            if len(header) < 27:
                break
            if header[:4] != b"OggS":
                raise ValueError("an Ogg page is damaged")
            granule = struct.unpack("<q", header[6:14])[0]
            lacing = handle.read(header[26])
            body = handle.read(sum(lacing))
            if granule != 0:
                digest.update(body)
            pages += 1
    return digest.hexdigest()


def _pcm_hash(path: str, should_stop: Callable[[], bool] | None) -> str:
    import av  # only for formats without a payload offset

    digest = hashlib.blake2b(digest_size=16)
    try:
        with av.open(path) as container:
            stream = container.streams.audio[0]
            for count, frame in enumerate(container.decode(stream)):
                if should_stop is not None and count % 256 == 0 and should_stop():
                    raise HashCancelled
                digest.update(frame.to_ndarray().tobytes())
    except (av.FFmpegError, IndexError) as exc:
        raise AudioHashError(f"the audio cannot be decoded: {exc}") from exc
    return digest.hexdigest()
