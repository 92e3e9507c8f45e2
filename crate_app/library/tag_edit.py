"""Editing the tags of files: title, artist, album, album artist, genre, label, comment, year, track
number, rating and colour, written with mutagen through the tag writer's copy, verify and replace.

``write_tag_fields(path, changes)`` changes only the fields in ``changes`` (a value of '' or None
removes the tag) and verifies by reading the copy back with the scanner's own reader, so what the
library will show is what was written.  Where rating and colour go in each format: ``rating_tags``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from crate_app.domain.colors import parse_track_color
from crate_app.library.rating_tags import write_color, write_rating
from crate_app.library.tag_writer import TagWriteError, rewrite_safely, tag_family
from crate_app.library.tags import TagReadError, tag_info_from

TEXT_FIELDS = ("title", "artist", "album", "albumartist", "genre", "label", "comment")
NUMBER_FIELDS = ("year", "track_no")
USER_FIELDS = ("rating", "color")  # the user's own values: library fields first, also kept in the tags
EDITABLE_FIELDS = (*TEXT_FIELDS, *NUMBER_FIELDS, *USER_FIELDS)
TagValue = str | int | None

# Where each family keeps a field: the name written first, then the other names the reader also reads
# (removed when the field is written, so that the reader finds what was written).
_ID3 = {
    "title": ("TIT2",), "artist": ("TPE1",), "album": ("TALB",), "albumartist": ("TPE2",),
    "genre": ("TCON",), "label": ("TPUB", "TXXX:LABEL"), "year": ("TDRC", "TDOR"), "track_no": ("TRCK",),
}  # fmt: skip
_VORBIS = {
    "title": ("TITLE",), "artist": ("ARTIST",), "album": ("ALBUM",),
    "albumartist": ("ALBUMARTIST", "ALBUM ARTIST", "ALBUM_ARTIST"), "genre": ("GENRE",),
    "label": ("LABEL", "ORGANIZATION", "PUBLISHER"), "comment": ("COMMENT", "DESCRIPTION"),
    "year": ("DATE", "YEAR", "ORIGINALDATE"), "track_no": ("TRACKNUMBER", "TRACK"),
}  # fmt: skip
_APE = {
    **_VORBIS,
    "albumartist": ("Album Artist", "ALBUMARTIST"),
    "year": ("Year", "DATE"),
    "comment": ("Comment",),
}
_MP4 = {
    "title": ("\xa9nam",), "artist": ("\xa9ART",), "album": ("\xa9alb",), "albumartist": ("aART",),
    "genre": ("\xa9gen", "gnre"), "label": ("----:com.apple.iTunes:LABEL",), "comment": ("\xa9cmt", "desc"),
    "year": ("\xa9day",), "track_no": ("trkn",),
}  # fmt: skip


def normalise_changes(changes: Mapping[str, TagValue]) -> dict[str, TagValue]:
    """Check field names and values; text stripped ('' = remove), numbers as int or None."""
    clean: dict[str, TagValue] = {}
    for name, value in changes.items():
        if name not in EDITABLE_FIELDS:
            raise ValueError(f"'{name}' is not an editable tag (try {', '.join(EDITABLE_FIELDS)})")
        if name == "rating":
            if value in (None, "", 0):
                clean[name] = None
                continue
            try:
                stars = int(str(value).strip())
            except ValueError:
                stars = -1
            if isinstance(value, bool) or not 0 <= stars <= 5:
                raise ValueError(f"a rating is 0-5 stars, not {value!r}")
            clean[name] = stars or None
        elif name == "color":
            clean[name] = parse_track_color(value)  # type: ignore[arg-type]
        elif name in NUMBER_FIELDS:
            if value in (None, ""):
                clean[name] = None
                continue
            try:
                number = int(str(value).strip())
            except ValueError:
                raise ValueError(f"{name.replace('_no', '')} must be a whole number, not {value!r}") from None
            if not 0 < number < 10_000:
                raise ValueError(f"{name.replace('_no', '')} {number} is out of range")
            clean[name] = number
        else:
            clean[name] = "" if value is None else str(value).replace("\x00", "").strip()
    return clean


def write_tag_fields(path: str | os.PathLike[str], changes: Mapping[str, TagValue]) -> None:
    """Write the given fields into a file's tags (others untouched).  Raises :class:`TagWriteError`
    saying why, with the file byte-identical, or ``ValueError`` for a field or value that makes no sense."""
    wanted = normalise_changes(changes)
    if not wanted:
        return

    def verify(written) -> None:
        # The scanner's own normalisation of what the copy holds now (mutagen has just read it).
        try:
            found = tag_info_from(
                type(written).__name__, written.info, written.tags, os.path.getsize(written.filename)
            )
        except (TagReadError, OSError) as error:
            raise TagWriteError(f"the file did not read back after writing ({error})") from None
        for name, value in wanted.items():
            got = getattr(found, name)
            expected = value if value not in ("", None, 0) else None
            if got != expected:
                raise TagWriteError(f"{name} read back as {got!r}, not {expected!r}; file left unchanged")

    rewrite_safely(path, lambda audio: _write(audio, dict(wanted)), verify)


def _write(audio, changes: dict[str, TagValue]) -> None:
    family = tag_family(audio)
    try:
        if audio.tags is None:
            audio.add_tags()
        tags = audio.tags
        if "rating" in changes:
            write_rating(family, tags, changes.pop("rating"))  # type: ignore[arg-type]
        if "color" in changes:
            write_color(family, tags, changes.pop("color"))  # type: ignore[arg-type]
        if family == "id3":
            _write_id3(tags, changes)
            version = tags.version[1] if tags.version and tags.version[1] in (3, 4) else 3
            audio.save(v2_version=version)
            return
        names = {"vorbis": _VORBIS, "ape": _APE, "mp4": _MP4}[family]
        for field, value in changes.items():
            primary, *others = names[field]
            for name in [primary, *others]:
                for present in [k for k in list(tags.keys()) if k.lower() == name.lower()]:
                    del tags[present]
            if value in ("", None):
                continue
            if family == "mp4":
                tags[primary] = _mp4_value(field, primary, value)
            elif family == "vorbis":
                tags[primary] = [str(value)]
            else:
                tags[primary] = str(value)
        audio.save()
    except TagWriteError:
        raise
    except Exception as error:
        raise TagWriteError(f"cannot write the tags: {error}") from None


def _mp4_value(field: str, name: str, value: TagValue) -> list[object]:
    from mutagen.mp4 import AtomDataType, MP4FreeForm

    if field == "track_no":
        return [(int(value), 0)]  # type: ignore[arg-type]
    if name.startswith("----:"):
        return [MP4FreeForm(str(value).encode("utf-8"), dataformat=AtomDataType.UTF8)]
    return [str(value)]


def _write_id3(tags, changes: dict[str, TagValue]) -> None:
    from mutagen.id3 import COMM, Frames

    encoding = 3 if tags.version and tags.version[1] == 4 else 1
    for field, value in changes.items():
        if field == "comment":
            for frame in list(tags.getall("COMM")):
                if not frame.desc.lower().startswith("itun"):
                    del tags[frame.HashKey]
            if value not in ("", None):
                tags.add(COMM(encoding=encoding, lang="eng", desc="", text=[str(value)]))
            continue
        primary, *others = _ID3[field]
        for name in [primary, *others]:
            tags.delall(name)
        if value not in ("", None):
            tags.add(Frames[primary](encoding=encoding, text=[str(value)]))
