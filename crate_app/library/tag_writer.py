"""Write analysed BPM and key back into a file's tags, without ever corrupting the file.

The tags go where DJ software looks for them (see DJ-CONVENTIONS.md): ID3 ``TBPM``/``TKEY`` (MP3, WAV,
AIFF, DSF; the file's ID3 version is kept, 2.4 for new tags), Vorbis comments ``BPM``/``INITIALKEY``
(FLAC, Ogg Vorbis, Opus, Speex, Ogg FLAC), MP4 ``tmpo`` (an integer) and the freeform
``----:com.apple.iTunes:initialkey``, APEv2 ``BPM``/``INITIALKEY`` (Monkey's Audio, WavPack, Musepack).

Safety: the file is copied to a temporary file in the same folder, the copy is tagged, read back with
mutagen and checked (the new values are there, the audio stream properties are unchanged), and only
then moved over the original with ``os.replace`` (atomic on one file system).  On any failure the
temporary copy is removed, the original is untouched and :class:`TagWriteError` is raised.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crate_app.domain.errors import CrateError
from crate_app.domain.keys import KeyNotation, format_key_code

MP4_KEY_ATOM = "----:com.apple.iTunes:initialkey"
MAX_MP4_TEMPO = 65535


class TagWriteError(CrateError):
    """BPM/key could not be written; the original file is unchanged."""


@dataclass(frozen=True, slots=True)
class _StreamInfo:
    length: float
    sample_rate: int | None
    channels: int | None
    bits_per_sample: int | None


def format_bpm_text(bpm: float) -> str:
    """BPM as DJ apps write it into text tags: up to two decimals, no trailing zeros (124, 123.45)."""
    return f"{bpm:.2f}".rstrip("0").rstrip(".")


def write_bpm_key(
    path: str | os.PathLike[str],
    bpm: float | None,
    key_code: int | None,
    notation: KeyNotation = KeyNotation.CAMELOT,
) -> None:
    """Write ``bpm`` and the key ``key_code`` (shown in ``notation``) into the file's tags.

    ``None`` leaves that tag as it is.  Raises :class:`TagWriteError` (original untouched) if the file
    cannot be tagged, ``ValueError`` for an invalid BPM or key code.
    """
    if bpm is not None and not (math.isfinite(bpm) and 0 < bpm < 1000):
        raise ValueError(f"invalid BPM: {bpm}")
    key_text = format_key_code(key_code, KeyNotation(notation)) if key_code is not None else None
    bpm_text = format_bpm_text(bpm) if bpm is not None else None
    if bpm_text is None and key_text is None:
        return

    def check(written) -> None:
        _verify(written, bpm, bpm_text, key_text)

    rewrite_safely(path, lambda audio: _write(audio, bpm, bpm_text, key_text), check)


def rewrite_safely(
    path: str | os.PathLike[str], change: Callable[[Any], None], verify: Callable[[Any], None]
) -> None:
    """Change a file's tags without ever corrupting it: copy it beside itself, ``change(audio)`` the
    copy's mutagen object (which must save it), ``verify(audio)`` the copy read back again (raise
    TagWriteError to refuse it), check the audio stream is unchanged, then ``os.replace`` the original.

    Any failure removes the copy and raises :class:`TagWriteError`; the original stays byte-identical.
    Two writes of one file in this process (a tag edit and a rating set in the track panel) take turns,
    so that neither replaces the file with a copy made before the other's change.
    """
    # Tag the real file behind a symlink (os.replace would otherwise replace the link itself).
    target = os.path.realpath(os.fspath(path))
    with _FILE_LOCKS[hash(target) % len(_FILE_LOCKS)]:
        _rewrite(target, change, verify)


_FILE_LOCKS = [threading.Lock() for _ in range(32)]  # striped by path: bounded; other files rarely wait


def _rewrite(target: str, change: Callable[[Any], None], verify: Callable[[Any], None]) -> None:
    if not os.path.isfile(target):
        raise TagWriteError("file not found")

    folder, name = os.path.split(target)
    stem, extension = os.path.splitext(name)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{stem[:40]}.crate-", suffix=extension, dir=folder)
    except OSError as error:
        raise TagWriteError(f"cannot write in the folder: {error.strerror or error}") from None
    os.close(handle)
    try:
        try:
            shutil.copyfile(target, temporary)
            shutil.copystat(target, temporary)
        except OSError as error:
            raise TagWriteError(f"cannot copy the file: {error.strerror or error}") from None
        copy = _open(temporary)  # byte for byte the original: its stream is the original's
        original_info = _stream_info(copy)
        change(copy)
        written = _open(temporary)
        verify(written)
        if _stream_info(written) != original_info:
            raise TagWriteError("writing the tags changed the audio stream properties; file left unchanged")
        try:
            os.replace(temporary, target)
        except OSError as error:
            raise TagWriteError(f"cannot replace the file: {error.strerror or error}") from None
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _open(path: str):
    import mutagen

    try:
        audio = mutagen.File(path)
    except Exception as error:  # mutagen raises many kinds for broken files
        raise TagWriteError(f"cannot read the file's tags: {error}") from None
    if audio is None:
        raise TagWriteError("not a supported audio file")
    return audio


def _stream_info(audio) -> _StreamInfo:
    info = audio.info
    return _StreamInfo(
        length=round(float(getattr(info, "length", 0.0) or 0.0), 4),
        sample_rate=getattr(info, "sample_rate", None),
        channels=getattr(info, "channels", None),
        bits_per_sample=getattr(info, "bits_per_sample", None),
    )


def tag_family(audio) -> str:
    """Which tag system the file uses: id3, vorbis, mp4 or ape."""
    from mutagen.aiff import AIFF
    from mutagen.apev2 import APEv2File
    from mutagen.dsf import DSF
    from mutagen.flac import FLAC
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.ogg import OggFileType
    from mutagen.wave import WAVE

    if isinstance(audio, MP3 | WAVE | AIFF | DSF):
        return "id3"
    if isinstance(audio, FLAC | OggFileType):
        return "vorbis"
    if isinstance(audio, MP4):
        return "mp4"
    if isinstance(audio, APEv2File):
        return "ape"
    raise TagWriteError(f"cannot write tags to {type(audio).__name__} files")


def _write(audio, bpm: float | None, bpm_text: str | None, key_text: str | None) -> None:
    from mutagen.id3 import TBPM, TKEY
    from mutagen.mp4 import AtomDataType, MP4FreeForm

    kind = tag_family(audio)
    try:
        if audio.tags is None:
            audio.add_tags()
        tags = audio.tags
        if kind == "id3":
            version = tags.version[1] if tags.version and tags.version[1] in (3, 4) else 3
            if bpm_text is not None:
                tags.setall("TBPM", [TBPM(encoding=1 if version == 3 else 3, text=[bpm_text])])
            if key_text is not None:
                tags.setall("TKEY", [TKEY(encoding=1 if version == 3 else 3, text=[key_text])])
            audio.save(v2_version=version)
        elif kind == "vorbis":
            if bpm_text is not None:
                tags["BPM"] = [bpm_text]
            if key_text is not None:
                tags["INITIALKEY"] = [key_text]
                if "KEY" in tags:  # some taggers use KEY: do not leave a stale value behind
                    tags["KEY"] = [key_text]
            audio.save()
        elif kind == "mp4":
            if bpm is not None:
                tags["tmpo"] = [min(MAX_MP4_TEMPO, round(bpm))]
            if key_text is not None:
                for name in [n for n in tags if n.lower() == MP4_KEY_ATOM.lower()]:
                    del tags[name]
                tags[MP4_KEY_ATOM] = [MP4FreeForm(key_text.encode("utf-8"), dataformat=AtomDataType.UTF8)]
            audio.save()
        else:
            if bpm_text is not None:
                tags["BPM"] = bpm_text
            if key_text is not None:
                tags["INITIALKEY"] = key_text
            audio.save()
    except TagWriteError:
        raise
    except Exception as error:
        raise TagWriteError(f"cannot write the tags: {error}") from None


def _verify(audio, bpm: float | None, bpm_text: str | None, key_text: str | None) -> None:
    """Check that the tags read back as written."""
    kind = tag_family(audio)
    tags = audio.tags
    if tags is None:
        raise TagWriteError("the tags did not read back after writing; file left unchanged")
    found_bpm: object
    found_key: object
    if kind == "id3":
        frames_bpm, frames_key = tags.getall("TBPM"), tags.getall("TKEY")
        found_bpm = frames_bpm[0].text[0] if frames_bpm else None
        found_key = frames_key[0].text[0] if frames_key else None
        expected_bpm: object = bpm_text
    elif kind == "vorbis":
        found_bpm = (tags.get("BPM") or [None])[0]
        found_key = (tags.get("INITIALKEY") or [None])[0]
        expected_bpm = bpm_text
    elif kind == "mp4":
        found_bpm = (tags.get("tmpo") or [None])[0]
        values = tags.get(MP4_KEY_ATOM) or [b""]
        found_key = bytes(values[0]).decode("utf-8", "replace")
        expected_bpm = min(MAX_MP4_TEMPO, round(bpm)) if bpm is not None else None
    else:
        found_bpm = str(tags["BPM"]) if "BPM" in tags else None
        found_key = str(tags["INITIALKEY"]) if "INITIALKEY" in tags else None
        expected_bpm = bpm_text
    if bpm is not None and found_bpm != expected_bpm:
        raise TagWriteError(f"BPM read back as {found_bpm!r}, not {expected_bpm!r}; file left unchanged")
    if key_text is not None and found_key != key_text:
        raise TagWriteError(f"key read back as {found_key!r}, not {key_text!r}; file left unchanged")
