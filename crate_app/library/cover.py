"""The embedded cover picture of an audio file (the front cover when there are several), with mutagen."""

from __future__ import annotations

import os


def embedded_picture(path: str | os.PathLike[str]) -> bytes | None:
    """The image bytes of the file's cover (JPEG/PNG as stored), or None when it has none or cannot
    be read.  Never raises for the file's sake."""
    import mutagen

    try:
        audio = mutagen.File(os.fspath(path))
    except Exception:  # mutagen raises many kinds for broken files; no cover is the honest answer
        return None
    if audio is None:
        return None
    pictures: list[tuple[int, bytes]] = []  # (preference, data): front cover (type 3) first
    for picture in getattr(audio, "pictures", None) or []:  # FLAC
        pictures.append((0 if picture.type == 3 else 1, bytes(picture.data)))
    tags = audio.tags
    if tags is not None:
        if hasattr(tags, "getall"):  # ID3
            for frame in tags.getall("APIC"):
                pictures.append((0 if frame.type == 3 else 1, bytes(frame.data)))
        else:
            for cover in _values(tags, "covr"):  # MP4
                pictures.append((0, bytes(cover)))
            for block in _values(tags, "metadata_block_picture"):  # Ogg: base64 FLAC picture blocks
                picture = _ogg_picture(block)
                if picture is not None:
                    pictures.append(picture)
    if not pictures:
        return None
    return min(pictures, key=lambda item: item[0])[1]


def _values(tags, name: str) -> list:
    try:
        return list(tags.get(name) or [])
    except Exception:
        return []


def _ogg_picture(text: str) -> tuple[int, bytes] | None:
    import base64

    from mutagen.flac import Picture

    try:
        picture = Picture(base64.b64decode(text))
    except Exception:
        return None
    return (0 if picture.type == 3 else 1, bytes(picture.data))
