"""Reading tags and stream properties with mutagen: one pure function, ``read_tags``.

Every tag family DJ software writes is read (ID3 in MP3/AIFF/WAV/DSF, Vorbis comments in
FLAC/Ogg/Opus, MP4 atoms and iTunes freeform atoms, APEv2 in APE/WavPack/Musepack, ASF in WMA)
and normalised into a ``TagInfo``: text stripped of NULs and made storable, BPM as a float in a
sane range, key as a canonical key code, year, track and disc as integers.  A file that cannot be
used raises ``TagReadError`` with a reason meant for people; nothing else ever escapes.
"""

from __future__ import annotations

import errno
import math
import os
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import mutagen
from mutagen.aiff import AIFF
from mutagen.apev2 import APEBinaryValue, APETextValue
from mutagen.asf import ASF, ASFBaseAttribute
from mutagen.flac import FLAC
from mutagen.id3 import ID3
from mutagen.mp3 import MP3, MPEGInfo
from mutagen.mp4 import MP4
from mutagen.wave import WAVE

from crate_app.domain.errors import CrateError
from crate_app.domain.keys import parse_key
from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.library.rating_tags import read_rating_color

BPM_MIN = 1.0  # BPM values outside [BPM_MIN, BPM_MAX] are junk (0, 99999, negative), not tempos
BPM_MAX = 999.0
VANISHED = "the file vanished during the scan"
TEXT_SEPARATOR = "; "  # joins multi-valued text tags (two artists become "A; B")


class TagReadError(CrateError):
    """A file cannot be read as audio; ``reason`` is a plain-language explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# mutagen class name -> (format, codec); the format is what the file is, whatever its extension.
_KINDS: dict[str, tuple[str, str]] = {
    "MP3": ("mp3", "mp3"),
    "FLAC": ("flac", "flac"),
    "MP4": ("m4a", "aac"),
    "OggVorbis": ("ogg", "vorbis"),
    "OggOpus": ("opus", "opus"),
    "OggFLAC": ("ogg", "flac"),
    "OggSpeex": ("ogg", "speex"),
    "WAVE": ("wav", "pcm"),
    "AIFF": ("aiff", "pcm"),
    "ASF": ("wma", "wma"),
    "MonkeysAudio": ("ape", "ape"),
    "WavPack": ("wv", "wavpack"),
    "Musepack": ("mpc", "musepack"),
    "DSF": ("dsf", "dsd"),
    "DSDIFF": ("dff", "dsd"),
    "TrueAudio": ("tta", "tta"),
    "OptimFROG": ("ofr", "optimfrog"),
    "AAC": ("aac", "aac"),
    "AC3": ("ac3", "ac3"),
    "TAK": ("tak", "tak"),
}
# WAVE format tags (the fmt chunk) worth naming.
_WAVE_CODECS = {
    1: "pcm",
    3: "pcm",
    2: "adpcm",
    6: "alaw",
    7: "mulaw",
    0x11: "adpcm",
    0x31: "gsm",
    0x55: "mp3",
}
# Which format a mutagen error module is about, for "not a valid ... file".
_ERROR_FORMATS = {
    "mp3": "MP3", "flac": "FLAC", "mp4": "MP4/M4A", "ogg": "Ogg", "oggvorbis": "Ogg Vorbis",
    "oggopus": "Opus", "oggflac": "Ogg FLAC", "oggspeex": "Speex", "oggtheora": "Ogg", "wave": "WAV",
    "aiff": "AIFF", "_iff": "WAV/AIFF", "_riff": "WAV", "asf": "WMA", "monkeysaudio": "APE",
    "wavpack": "WavPack", "musepack": "Musepack", "dsf": "DSF", "dsdiff": "DSDIFF", "apev2": "APE",
    "trueaudio": "TrueAudio", "optimfrog": "OptimFROG", "aac": "AAC", "ac3": "AC3", "tak": "TAK",
    "smf": "MIDI",
}  # fmt: skip

# The tag names each family uses for our fields, most common first.  Vorbis, APE and ASF names are
# matched case-insensitively (stored lower-case here).
_VORBIS_NAMES = {
    "title": ("title",), "artist": ("artist",), "album": ("album",),
    "albumartist": ("albumartist", "album artist", "album_artist"), "genre": ("genre",),
    "year": ("date", "year", "originaldate"), "track_no": ("tracknumber", "track"),
    "disc_no": ("discnumber", "disc"), "comment": ("comment", "description"),
    "label": ("label", "organization", "publisher"), "bpm": ("bpm", "tempo"),
    "key": ("initialkey", "key"),
}  # fmt: skip
_APE_NAMES = {
    **_VORBIS_NAMES,
    "albumartist": ("album artist", "albumartist"), "year": ("year", "date"),
}  # fmt: skip
_ASF_NAMES = {
    "title": ("title",), "artist": ("author", "wm/artist"), "album": ("wm/albumtitle",),
    "albumartist": ("wm/albumartist",), "genre": ("wm/genre",), "year": ("wm/year",),
    "track_no": ("wm/tracknumber",), "disc_no": ("wm/partofset",),
    "comment": ("description", "wm/comments"), "label": ("wm/publisher", "label"),
    "bpm": ("wm/beatsperminute", "bpm"), "key": ("wm/initialkey", "initialkey"),
}  # fmt: skip
_MP4_NAMES = {
    "title": ("\xa9nam",), "artist": ("\xa9ART",), "album": ("\xa9alb",), "albumartist": ("aART",),
    "genre": ("\xa9gen", "gnre"), "year": ("\xa9day",), "track_no": ("trkn",), "disc_no": ("disk",),
    "comment": ("\xa9cmt", "desc"), "label": ("----:label", "----:publisher"),
    "bpm": ("----:bpm", "tmpo"), "key": ("----:initialkey", "----:key"),
}  # fmt: skip
_ID3_NAMES = {
    "title": ("TIT2",), "artist": ("TPE1",), "album": ("TALB",), "albumartist": ("TPE2",),
    "genre": ("TCON",), "year": ("TDRC", "TDOR"), "track_no": ("TRCK",), "disc_no": ("TPOS",),
    "comment": ("COMM",), "label": ("TPUB", "TXXX:LABEL"), "bpm": ("TBPM", "TXXX:BPM"),
    "key": ("TKEY", "TXXX:INITIALKEY", "TXXX:KEY"),
}  # fmt: skip

_RIFF_NAMES = {
    "title": ("INAM",), "artist": ("IART",), "album": ("IPRD",), "albumartist": (), "genre": ("IGNR",),
    "year": ("ICRD",), "track_no": ("ITRK", "IPRT"), "disc_no": (), "comment": ("ICMT",),
    "label": ("IPUB",), "bpm": ("IBPM",), "key": ("IKEY",),
}  # fmt: skip
_PCM_FORMATS = (1, 3, 0xFFFE)  # integer PCM, float, WAVE_FORMAT_EXTENSIBLE

_TEXT_FIELDS = ("title", "artist", "album", "albumartist", "genre", "comment", "label")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_LEADING_INT = re.compile(r"\s*\+?(\d{1,6})")

Getter = Callable[[Sequence[str]], list[str]]


# -- public ----------------------------------------------------------------------------------------
def read_tags(path: str | os.PathLike[str]) -> TagInfo:
    """Read stream properties and tags of one audio file.

    Raises TagReadError (with a plain-language reason) when the file cannot be used as audio.
    """
    try:
        with open(path, "rb") as fileobj:
            return read_open_file(fileobj, os.fstat(fileobj.fileno()).st_size)
    except OSError as exc:
        raise TagReadError(os_error_reason(exc)) from exc


def read_open_file(fileobj: BinaryIO, size: int) -> TagInfo:
    """``read_tags`` on an already opened file of ``size`` bytes (the scanner knows the size)."""
    if size == 0:
        raise TagReadError("the file is empty (0 bytes)")
    name = str(getattr(fileobj, "name", ""))
    try:
        audio = _load_known_kind(fileobj, name)  # (a FileType with no tags is falsy)
        if audio is None:
            audio = mutagen.File(fileobj)
    except OSError as exc:
        raise TagReadError(os_error_reason(exc)) from exc
    except Exception as exc:  # mutagen raises many kinds of errors on damaged files
        info = _mp3_stream_despite_tag(fileobj, name, exc)
        if info is None:
            raise TagReadError(_damaged_reason(exc, name)) from exc
        return tag_info_from("MP3", info, None, size)
    if audio is None:
        raise TagReadError("not an audio format Crate can read")
    kind, info, raw_tags = type(audio).__name__, audio.info, audio.tags
    if kind == "WAVE":
        riff = read_riff(fileobj)
        if not raw_tags and riff.info:
            raw_tags = riff.info  # RIFF INFO, which mutagen does not read, when there is no ID3 chunk
        if getattr(info, "audio_format", 1) not in _PCM_FORMATS and riff.byte_rate:
            # Compressed WAV (ADPCM, GSM, MP3): mutagen counts blocks as samples; bytes/s is right.
            info.length = riff.data_size / riff.byte_rate
            info.bitrate = riff.byte_rate * 8
    return tag_info_from(kind, info, raw_tags, size)


def _is_mpeg(header: bytes) -> bool:
    return header[:3] == b"ID3" or (len(header) > 1 and header[0] == 0xFF and header[1] & 0xE0 == 0xE0)


# Extension -> (does the header agree?, mutagen class).  When both agree the class is used directly,
# which skips mutagen.File scoring every format it knows (a tenth of the time of a small file).
_DIRECT_KINDS: dict[str, tuple[Callable[[bytes], bool], type]] = {
    ".mp3": (_is_mpeg, MP3),
    ".flac": (lambda h: h[:4] == b"fLaC", FLAC),
    ".m4a": (lambda h: h[4:8] == b"ftyp", MP4),
    ".mp4": (lambda h: h[4:8] == b"ftyp", MP4),
    ".alac": (lambda h: h[4:8] == b"ftyp", MP4),
    ".wav": (lambda h: h[:4] == b"RIFF" and h[8:12] == b"WAVE", WAVE),
    ".aiff": (lambda h: h[:4] == b"FORM", AIFF),
    ".aif": (lambda h: h[:4] == b"FORM", AIFF),
    ".wma": (lambda h: h[:4] == b"\x30\x26\xb2\x75", ASF),
}


def _load_known_kind(fileobj: BinaryIO, name: str) -> mutagen.FileType | None:
    """The file loaded by the class its extension and header agree on; None to let mutagen guess."""
    entry = _DIRECT_KINDS.get(os.path.splitext(name)[1].lower())
    if entry is None:
        return None
    header = fileobj.read(12)
    fileobj.seek(0)
    agrees, kind = entry
    if not agrees(header):
        return None
    try:
        return kind(fileobj)
    except OSError:
        raise
    except Exception:  # let mutagen.File try every format, and raise its error
        fileobj.seek(0)
        return None


def os_error_reason(exc: OSError) -> str:
    """Plain words for why the operating system refused to let us read something."""
    if isinstance(exc, FileNotFoundError):
        return VANISHED
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "this is a folder, not a file"
    if exc.errno == errno.EIO:
        return "the disk reported a read error (input/output error)"
    if exc.errno == errno.ELOOP:
        return "the path is a symbolic link loop"
    detail = exc.strerror or str(exc) or type(exc).__name__
    return f"cannot read the file: {detail[:1].lower()}{detail[1:]}"


def tag_info_from(kind: str, info: object, raw_tags: object, size: int) -> TagInfo:
    """Normalise what mutagen loaded (its class name, stream info and tags) into a TagInfo.

    Raises TagReadError when the file holds no audio.
    """
    if kind == "OggTheora":
        raise TagReadError("no audio stream found (this is a video file)")
    if kind == "SMF":
        raise TagReadError("this is a MIDI file, not an audio recording")
    fmt, codec = _KINDS.get(kind, (kind.lower(), kind.lower()))
    duration = _positive_float(getattr(info, "length", None))
    sample_rate = _positive_int(getattr(info, "sample_rate", None))
    channels = _positive_int(getattr(info, "channels", None))
    if kind == "OggOpus":
        sample_rate = 48000  # Opus always decodes at 48 kHz; mutagen does not say
    if kind == "MP4":
        codec = _mp4_codec(getattr(info, "codec", ""))
    elif kind == "WAVE":
        codec = _WAVE_CODECS.get(getattr(info, "audio_format", 1), "wav")
    if not sample_rate and not channels:
        raise TagReadError("no audio stream found")
    if duration is None:
        raise TagReadError("no audio found (the file is 0 seconds long)")
    bits = _positive_int(getattr(info, "bitrate", None))
    bitrate = round(bits / 1000) if bits else round(size * 8 / duration / 1000) or None
    tags = TagInfo(
        format=fmt,
        codec=codec,
        duration=duration,
        bitrate=bitrate,
        sample_rate=sample_rate,
        channels=channels,
    )
    try:
        reader = _reader_for(raw_tags)
        if reader is not None:
            fill_tags(tags, *reader)
            tags.rating, tags.color = read_rating_color(raw_tags)
    except Exception:  # a tag mutagen parsed but we cannot make sense of: keep the audio, drop the tags
        tags = TagInfo(fmt, codec, duration, bitrate, sample_rate, channels)
    return tags


def scan_file(path: str, size: int, mtime: float) -> ScannedFile:
    """Read one file found by a scan (``size`` and ``mtime`` from its stat); never raises."""
    try:
        with open(path, "rb") as fileobj:
            return ScannedFile(path, size, mtime, read_open_file(fileobj, size))
    except TagReadError as exc:
        return ScannedFile(path, size, mtime, None, exc.reason)
    except OSError as exc:
        return ScannedFile(path, size, mtime, None, os_error_reason(exc))
    except Exception as exc:  # a bug in a parser must not stop a scan of 100,000 files
        return ScannedFile(path, size, mtime, None, f"the file could not be read ({type(exc).__name__})")


def fill_tags(tags: TagInfo, get: Getter, names: Mapping[str, Sequence[str]]) -> None:
    """Set the tag fields of ``tags``: ``names[name]`` are the tag names to try, ``get(names)``
    returns the values of the first one present (an empty list when none is)."""
    for name in _TEXT_FIELDS:
        setattr(tags, name, clean_text(get(names[name])))
    tags.year = parse_year(_first(get(names["year"])))
    tags.track_no = parse_number(_first(get(names["track_no"])))
    tags.disc_no = parse_number(_first(get(names["disc_no"])))
    tags.bpm = parse_bpm(get(names["bpm"]))
    tags.key = parse_key_code(get(names["key"]))


# -- normalisers (pure, never raise) ---------------------------------------------------------------
def clean_text(values: Iterable[str] | str | None) -> str | None:
    """Join values, drop NULs and surrounding space, make the text storable; None when empty."""
    if values is None:
        return None
    if isinstance(values, str):
        values = (values,)
    parts = []
    for value in values:
        text = value.replace("\x00", " ").strip() if "\x00" in value else value.strip()
        if text and text not in parts:
            parts.append(text)
    if not parts:
        return None
    text = TEXT_SEPARATOR.join(parts)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates from a badly encoded tag
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def parse_bpm(values: Iterable[str] | str | None) -> float | None:
    """'128', '128.00', '127,5', ' 6 ' -> float; junk, 0 and absurd values -> None."""
    for value in [values] if isinstance(values, str) else values or ():
        text = value.replace("\x00", "").strip().replace(",", ".")
        try:
            bpm = float(text)
        except ValueError:
            continue
        if math.isfinite(bpm) and BPM_MIN <= bpm <= BPM_MAX:
            return round(bpm, 2)
    return None


def parse_key_code(values: Iterable[str] | str | None) -> int | None:
    """The canonical key code of the first value that is a key in any notation."""
    for value in [values] if isinstance(values, str) else values or ():
        key = parse_key(value)
        if key is not None:
            return key.code
    return None


def parse_year(value: str | None) -> int | None:
    """'1999', '1999-05-01', '05/01/1999', '2001-00-00T..' -> the year; None if there is none."""
    if not value:
        return None
    match = _YEAR.search(value)
    if match is None:
        return None
    year = int(match.group(1))
    return year if 1000 <= year <= 2999 else None


def parse_number(value: str | None) -> int | None:
    """Track or disc number: '2', '02', '2/3' -> 2; '0', junk -> None."""
    if not value:
        return None
    match = _LEADING_INT.match(value)
    if match is None:
        return None
    number = int(match.group(1))
    return number or None


# -- RIFF (WAV) --------------------------------------------------------------------------------------
@dataclass(slots=True)
class RiffFacts:
    """What mutagen leaves out of a WAV file: the byte rate, the data size and the INFO tags."""

    byte_rate: int = 0
    data_size: int = 0
    info: dict[str, str] = field(default_factory=dict)


def read_riff(fileobj: BinaryIO, max_chunks: int = 64) -> RiffFacts:
    """Walk the chunk headers of a RIFF/WAVE file (never raises; partial facts on damaged files)."""
    facts = RiffFacts()
    try:
        fileobj.seek(0)
        header = fileobj.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return facts
        position = 12
        for _ in range(max_chunks):
            fileobj.seek(position)
            chunk = fileobj.read(8)
            if len(chunk) < 8:
                break
            name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"fmt " and length >= 16:
                facts.byte_rate = struct.unpack("<I", fileobj.read(16)[8:12])[0]
            elif name == b"data":
                facts.data_size = length
            elif name == b"LIST" and 4 <= length <= 1 << 20:
                body = fileobj.read(length)
                if body[:4] == b"INFO":
                    facts.info = _riff_info(body[4:])
            position += 8 + length + (length & 1)
    except (OSError, struct.error):
        pass
    return facts


def _riff_info(body: bytes) -> dict[str, str]:
    info: dict[str, str] = {}
    position = 0
    while position + 8 <= len(body):
        name = body[position : position + 4].decode("ascii", "replace")
        length = struct.unpack("<I", body[position + 4 : position + 8])[0]
        raw = body[position + 8 : position + 8 + length].split(b"\x00", 1)[0]
        try:
            info[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            info[name] = raw.decode("cp1252", "replace")
        position += 8 + length + (length & 1)
    return info


# -- per tag family --------------------------------------------------------------------------------
Reader = tuple[Getter, Mapping[str, Sequence[str]]]


def _reader_for(tags: object) -> Reader | None:
    """A getter over one file's tags and the tag names of its family."""
    if tags is None:
        return None
    if isinstance(tags, ID3):
        return _id3_getter(tags), _ID3_NAMES
    if isinstance(tags, dict) and type(tags) is dict:  # RIFF INFO from read_riff
        return _mapping_getter(tags), _RIFF_NAMES
    kind = type(tags).__name__
    if kind == "MP4Tags":
        return _mp4_getter(tags), _MP4_NAMES  # type: ignore[arg-type]
    if kind == "ASFTags":
        return _mapping_getter({k.lower(): v for k, v in tags.items()}), _ASF_NAMES  # type: ignore[attr-defined]
    if kind == "APEv2":
        return _mapping_getter({k.lower(): v for k, v in tags.items()}), _APE_NAMES  # type: ignore[attr-defined]
    if isinstance(tags, list):  # Vorbis comments: a list of (name, value) pairs
        grouped: dict[str, list[str]] = {}
        for name, value in tags:
            grouped.setdefault(name.lower(), []).append(value)
        return _mapping_getter(grouped), _VORBIS_NAMES
    return None


def _as_texts(values: object) -> list[str]:
    """Raw tag values (str, bytes, ints, tuples, mutagen value objects) as a list of strings."""
    if values is None or isinstance(values, APEBinaryValue):
        return []
    if type(values) is list and all(type(value) is str for value in values):
        return values  # the common case: Vorbis comments, MP4 text atoms
    if isinstance(values, APETextValue):
        return list(values)  # its NUL-separated parts
    if isinstance(values, str | bytes | int | tuple) or not hasattr(values, "__iter__"):
        values = [values]
    texts = []
    for value in values:  # type: ignore[attr-defined]
        if isinstance(value, ASFBaseAttribute):
            value = value.value
        if isinstance(value, bytes):  # MP4 freeform atoms, ASF byte attributes
            texts.append(value.decode("utf-8", "replace"))
        elif isinstance(value, tuple):  # MP4 trkn/disk: (number, total)
            texts.append(str(value[0]) if value else "")
        else:
            texts.append(str(value))
    return texts


def _first_present(keys: Sequence[str], lookup: Callable[[str], list[str]]) -> list[str]:
    for key in keys:
        texts = lookup(key)
        for text in texts:
            if text and not text.isspace():
                return texts
    return []


def _mapping_getter(mapping: Mapping[str, object]) -> Getter:
    return lambda keys: _first_present(keys, lambda key: _as_texts(mapping.get(key)))


def _mp4_getter(tags: Mapping[str, object]) -> Getter:
    freeform = {k.rsplit(":", 1)[-1].lower(): v for k, v in tags.items() if k.startswith("----:")}

    def lookup(key: str) -> list[str]:
        if key.startswith("----:"):
            return _as_texts(freeform.get(key[5:]))
        value = tags.get(key)
        if key == "gnre" and value is not None:  # ID3v1 genre numbers, one-based
            return [_id3v1_genre(v - 1) for v in value if isinstance(v, int)]  # type: ignore[attr-defined]
        return _as_texts(value)

    return lambda keys: _first_present(keys, lookup)


def _id3_getter(tags: ID3) -> Getter:
    def lookup(key: str) -> list[str]:
        if key == "COMM":
            return _id3_comment(tags)
        frame = tags.get(key)
        if frame is None:
            return []
        if key == "TCON":
            return list(frame.genres)  # resolves ID3v1 genre numbers like "(13)"
        return [str(t) for t in getattr(frame, "text", ())]

    return lambda keys: _first_present(keys, lookup)


def _id3_comment(tags: ID3) -> list[str]:
    """The user's comment: a COMM frame without description, else the first that is not iTunes data."""
    frames = tags.getall("COMM")
    for frame in frames:
        if not frame.desc:
            return [str(t) for t in frame.text]
    for frame in frames:
        if not frame.desc.lower().startswith("itun"):
            return [str(t) for t in frame.text]
    return []


def _id3v1_genre(index: int) -> str:
    from mutagen._constants import GENRES

    return GENRES[index] if 0 <= index < len(GENRES) else ""


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _positive_float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _positive_int(value: object) -> int | None:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number > 0 else None


def _mp4_codec(codec: str) -> str:
    codec = (codec or "").lower()
    if codec.startswith("mp4a.40.36"):
        return "als"
    if codec.startswith("mp4a.6b") or codec.startswith("mp4a.69"):
        return "mp3"
    if codec.startswith("mp4a"):
        return "aac"
    return codec or "aac"


def _mp3_stream_despite_tag(fileobj: BinaryIO, name: str, exc: Exception) -> object | None:
    """An MP3 whose ID3 tag is damaged still plays: its stream properties, to keep it without tags."""
    if not type(exc).__module__.startswith("mutagen.id3") or not name.lower().endswith((".mp3", ".mp2")):
        return None
    try:
        return MPEGInfo(fileobj)
    except Exception:
        return None


def _damaged_reason(exc: Exception, name: object) -> str:
    module = type(exc).__module__.split(".")
    family = module[1] if len(module) > 1 and module[0] == "mutagen" else ""
    if family == "id3":
        return "the ID3 tag is damaged"
    label = _ERROR_FORMATS.get(family)
    if label is None:
        extension = os.path.splitext(str(name))[1].lstrip(".").upper()
        label = extension or "audio"
    return f"not a valid {label} file (damaged or truncated)"
