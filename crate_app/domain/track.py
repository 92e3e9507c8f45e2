"""Plain records that travel between the core, the services, the GUI and the command line."""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass, field, fields

# Paths that are not valid UTF-8 (possible on Linux) reach Python as str with lone surrogates
# (os.fsdecode's "surrogateescape").  SQLite cannot store lone surrogates, so each one is mapped to a
# code point at the top of plane 16 (a private-use area no real file name uses) and back again.
_SURROGATE_BASE = 0xDC00
_STORED_BASE = 0x10FF00
_FIRST_STORED = chr(_STORED_BASE + 0x80)


def path_to_db(path: str) -> str:
    """Encode a file-system path for storage as SQLite TEXT (reversible, see ``path_from_db``)."""
    if path.isascii():
        return path
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return "".join(
            chr(_STORED_BASE + (ord(ch) - _SURROGATE_BASE)) if 0xDC80 <= ord(ch) <= 0xDCFF else ch
            for ch in path
        )


def path_from_db(text: str) -> str:
    """Decode a path written by ``path_to_db`` into the str the OS functions expect."""
    if text.isascii() or max(text) < _FIRST_STORED:  # no escaped byte: the common case, kept fast
        return text
    return "".join(
        chr(_SURROGATE_BASE + (ord(ch) - _STORED_BASE)) if 0x10FF80 <= ord(ch) <= 0x10FFFF else ch
        for ch in text
    )


def display_path(path: str) -> str:
    """A path made safe to print or show: undecodable bytes appear as U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


_TRACK_NUMBER = re.compile(r"^\d{1,3}\s*[-.)_]\s*(?=\S)")  # "01 - ", "01. ", "1) " before the name
_DASH = re.compile(r"\s+[-\u2013\u2014]\s+")  # " - ", " – ", " — "


def names_from_filename(filename: str) -> tuple[str, str]:
    """(artist, title) read from a file name as DJ apps do for untagged files: "Artist - Title.mp3"
    splits at the first dash between spaces, a leading track number ("01 - ", "01. ") is dropped,
    underscores stand for spaces in names without any; otherwise the whole name is the title."""
    stem = display_path(os.path.splitext(os.path.basename(filename))[0]).strip()
    if "_" in stem and " " not in stem:
        stem = stem.replace("_", " ").strip()
    stem = _TRACK_NUMBER.sub("", stem, count=1)
    parts = _DASH.split(stem, maxsplit=1)
    if len(parts) == 2 and parts[0].strip() and parts[1].strip():
        return parts[0].strip(), parts[1].strip()
    return "", stem


def with_filename_names(artist: str | None, title: str | None, filename: str) -> tuple[str, str]:
    """A track's artist and title with the file name standing in for a missing title (and artist):
    what the library stores, so that the table, search and sort all see the same names."""
    artist, title = artist or "", title or ""
    if title:
        return artist, title
    file_artist, file_title = names_from_filename(filename)
    if not artist:
        return file_artist, file_title
    if file_artist and file_artist.casefold() != artist.casefold():
        file_title = f"{file_artist} - {file_title}"  # the name says something else: keep all of it
    return artist, file_title


class TrackStatus(enum.StrEnum):
    OK = "ok"
    MISSING = "missing"
    ERROR = "error"


@dataclass(slots=True)
class TagInfo:
    """What a tag reader found in one file: stream properties and the tags DJs care about."""

    format: str = ""
    codec: str = ""
    duration: float | None = None
    bitrate: int | None = None  # kbit/s
    sample_rate: int | None = None
    channels: int | None = None
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    albumartist: str | None = None
    genre: str | None = None
    year: int | None = None
    track_no: int | None = None
    disc_no: int | None = None
    comment: str | None = None
    label: str | None = None
    bpm: float | None = None
    key: int | None = None  # canonical key code, see domain.keys
    rating: int | None = None  # 1-5 stars (library.rating_tags); None = no rating tag
    color: str | None = None  # a name from domain.colors; None = no colour tag


TAG_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TagInfo))


@dataclass(slots=True)
class TrackRecord:
    """One row of the library as the GUI and CLI see it (never a peewee object)."""

    id: int
    path: str
    folder: str = ""
    filename: str = ""
    size: int = 0
    mtime: float = 0.0
    format: str = ""
    codec: str = ""
    duration: float | None = None
    bitrate: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    albumartist: str | None = None
    genre: str | None = None
    year: int | None = None
    track_no: int | None = None
    disc_no: int | None = None
    comment: str | None = None
    label: str | None = None
    bpm: float | None = None
    key: int | None = None
    bpm_confidence: float | None = None
    key_confidence: float | None = None
    first_beat: float | None = None  # seconds from the start of the file
    first_downbeat: float | None = None  # the first bar start (beat 1 of 4)
    bpm_alt: float | None = None  # runner-up tempo octave
    bpm_alt_confidence: float | None = None
    bpm_variable: bool | None = None  # tempo drifts or changes: the constant grid is approximate
    analyzed_at: float | None = None
    analysis_error: str | None = None
    date_added: float = 0.0
    last_scanned: float = 0.0
    status: str = TrackStatus.OK.value
    error: str | None = None
    rating: int | None = None  # 0-5 stars; None = unrated
    color: str = ""  # a name from domain.colors.TRACK_COLORS; '' = none
    bpm_locked: bool = False  # the user corrected it: re-analysis keeps it (and stores its own beside)
    key_locked: bool = False
    first_beat_locked: bool = False
    analysis_bpm: float | None = None  # what the last analysis found, whether or not it is shown
    analysis_key: int | None = None
    analysis_first_beat: float | None = None
    analysis_first_downbeat: float | None = None


TRACK_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TrackRecord))


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    """Settings for BPM and key analysis (passed explicitly; no global configuration)."""

    # Tempi outside the range are folded into it.  60, not 70: reggae's one drop and dub are counted
    # at 60-75 BPM, and the octave rules (analysis.metre) already keep slow picks above 55.
    bpm_min: float = 60.0
    bpm_max: float = 180.0
    sample_rate: int = 11025  # analysis decodes to mono at this rate (11025 Hz: as accurate, ~3x cheaper)
    excerpt_seconds: float = 60.0  # analyse this much from the middle of the track; 0 = whole track
    timeout_seconds: float = 120.0
    waveform: bool = True  # also compute the overview waveform (decodes the whole track, once)


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """What analysis found in one file."""

    bpm: float | None
    bpm_confidence: float
    key: int | None  # canonical key code
    key_confidence: float
    duration: float | None = None
    analysed_seconds: float | None = None
    beat_times: tuple[float, ...] = field(default=(), repr=False)
    # The constant beat grid over the whole file: beat n is at first_beat + n * 60 / bpm (seconds from
    # the start of the file, n >= 0); bars start at first_downbeat + 4k beats.
    first_beat: float | None = None
    first_downbeat: float | None = None
    bpm_alt: float | None = None  # the runner-up tempo octave (x2, /2, x3/2...), for the x2 / /2 buttons
    bpm_alt_confidence: float = 0.0  # 0..1, how likely the runner-up is the right one
    bpm_variable: bool = False  # tempo drifts or changes (live drummer, edits): grid only approximate
    waveform: bytes | None = field(default=None, repr=False)  # analysis.waveform overview, if computed


@dataclass(slots=True)
class ScannedFile:
    """One audio file as the scanner found it: its stat, and its tags or the reason they are unreadable."""

    path: str
    size: int
    mtime: float
    tags: TagInfo | None = None
    error: str | None = None
