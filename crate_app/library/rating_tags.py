"""Star rating and track colour in file tags: where they go in each tag family, on which scale.

No standard covers either.  For the rating Crate writes what most players and taggers read (Windows
Media Player's scale, which MusicBee, foobar2000, Mp3tag, kid3 and Windows Explorer share) and reads
the other common forms; the colour has no convention at all, so Crate keeps its own text tag.

=========  ==========================================================  =================================
family     rating (1-5 stars)                                         colour
=========  ==========================================================  =================================
ID3v2      ``POPM`` owner ``Windows Media Player 9 Series``, byte      ``TXXX:COLOR``
(MP3,      1/64/128/196/255 (0 = unrated); a POPM frame of another
WAV,       owner that is already there is updated to the same stars
AIFF)      (Traktor's ``traktor@native-instruments.de`` on its own
           51/102/153/204/255 scale), its play count kept
Vorbis     ``RATING`` = 20/40/60/80/100; ``FMPS_RATING`` (0.0-1.0)    ``COLOR``
(FLAC,     updated when present
Ogg, Opus)
MP4 (M4A)  ``----:com.apple.iTunes:RATING`` = 20 ... 100 (UTF-8)      ``----:com.apple.iTunes:COLOR``
APEv2      ``RATING`` = 20 ... 100                                    ``COLOR``
ASF (WMA)  read only: ``WM/SharedUserRating`` 1/25/50/75/99           (none)
=========  ==========================================================  =================================

The colour is written as its name from ``domain.colors`` (``red``, ``aqua``...); reading also accepts
the aliases (``turquoise``, ``violet``) and ``#rrggbb`` / ``0xRRGGBB``, taken to the nearest of the
eight colours.  Reading a rating: a WMP POPM frame first, then Traktor's (its scale), then any other
POPM frame (ranges 1-31, 32-95, 96-159, 160-223, 224-255 for 1-5 stars, which also covers
MediaMonkey's half stars); text ratings of 0-5 are stars, 6-100 a percentage, 101-255 a POPM byte.
Unrated (and 0 stars, which no format tells apart from unrated) is no tag.
"""

from __future__ import annotations

import math
import re

from crate_app.domain.colors import TRACK_COLORS, parse_track_color

WMP_OWNER = "Windows Media Player 9 Series"
TRAKTOR_OWNER = "traktor@native-instruments.de"
MP4_RATING = "----:com.apple.iTunes:RATING"
MP4_COLOR = "----:com.apple.iTunes:COLOR"
ID3_COLOR = "COLOR"  # TXXX description
VORBIS_RATING, VORBIS_FMPS, VORBIS_COLOR = "RATING", "FMPS_RATING", "COLOR"

_WMP_BYTES = (0, 1, 64, 128, 196, 255)  # stars -> POPM byte
_HEX = re.compile(r"^(?:#|0x)([0-9a-f]{6})$", re.IGNORECASE)


# -- scales (pure) -----------------------------------------------------------------------------------
def stars_from_popm(byte: int, owner: str = WMP_OWNER) -> int | None:
    """A POPM rating byte (of ``owner``) as 1-5 stars; None for 0 (unrated) or junk."""
    if not 0 < byte <= 255:
        return None
    if owner == TRAKTOR_OWNER:
        return max(1, min(5, round(byte / 51)))
    for stars, upper in enumerate((31, 95, 159, 223, 255), start=1):
        if byte <= upper:
            return stars
    return None


def popm_from_stars(stars: int, owner: str = WMP_OWNER) -> int:
    """1-5 stars as the POPM byte ``owner`` writes (0 for unrated)."""
    if owner == TRAKTOR_OWNER:
        return 51 * stars
    return _WMP_BYTES[stars]


def stars_from_text(text: str | None) -> int | None:
    """A text rating (``3``, ``60``, ``0.6`` on FMPS's 0-1 scale is *not* meant here) as 1-5 stars."""
    if not text:
        return None
    try:
        value = float(text.replace("\x00", "").strip().replace(",", "."))
    except ValueError:
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    if value <= 5:
        return max(1, round(value))
    if value <= 100:
        return max(1, min(5, round(value / 20)))
    if value <= 255:
        return stars_from_popm(round(value))
    return None


def stars_from_fraction(text: str | None) -> int | None:
    """An FMPS rating (0.0-1.0) as 1-5 stars."""
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    if not math.isfinite(value) or not 0 < value <= 1:
        return None
    return max(1, round(value * 5))


def stars_from_wm_rating(value: int) -> int | None:
    """WMA's WM/SharedUserRating (1, 25, 50, 75, 99) as 1-5 stars."""
    if not 0 < value <= 99:
        return None
    return 1 + sum(value >= threshold for threshold in (13, 38, 63, 87))


def color_from_text(text: str | None) -> str | None:
    """A colour tag as a colour name of ``domain.colors``; None when there is none or it means nothing."""
    if not text or not text.strip():
        return None
    text = text.replace("\x00", "").strip()
    match = _HEX.match(text)
    if match:
        return nearest_color(match.group(1))
    try:
        return parse_track_color(text) or None
    except ValueError:
        return None


def nearest_color(hex_digits: str) -> str:
    """The colour name whose RGB is nearest to ``rrggbb``."""
    rgb = _rgb(hex_digits)

    def distance(name: str) -> int:
        return sum((a - b) ** 2 for a, b in zip(_rgb(TRACK_COLORS[name][1:]), rgb, strict=True))

    return min(TRACK_COLORS, key=distance)


def _rgb(hex_digits: str) -> tuple[int, int, int]:
    return int(hex_digits[0:2], 16), int(hex_digits[2:4], 16), int(hex_digits[4:6], 16)


# -- reading ------------------------------------------------------------------------------------------
def read_rating_color(raw_tags: object) -> tuple[int | None, str | None]:
    """(stars 1-5 or None, colour name or None) from a mutagen tag object of any family."""
    from mutagen.id3 import ID3

    if raw_tags is None:
        return None, None
    if isinstance(raw_tags, ID3):
        return _id3_rating(raw_tags), _first_color(_id3_texts(raw_tags, f"TXXX:{ID3_COLOR}"))
    kind = type(raw_tags).__name__
    if kind == "MP4Tags":
        freeform = {k.lower(): v for k, v in raw_tags.items() if k.startswith("----:")}  # type: ignore[attr-defined]
        ratings = _texts(freeform.get(MP4_RATING.lower()))
        return _first(stars_from_text, ratings), _first_color(_texts(freeform.get(MP4_COLOR.lower())))
    if kind == "ASFTags":
        for name, values in raw_tags.items():  # type: ignore[attr-defined]
            if name.lower() == "wm/shareduserrating":
                for value in values:
                    stars = stars_from_wm_rating(int(getattr(value, "value", 0) or 0))
                    if stars is not None:
                        return stars, None
        return None, None
    if kind == "APEv2":
        lowered = {k.lower(): v for k, v in raw_tags.items()}  # type: ignore[attr-defined]
        return (
            _first(stars_from_text, _texts(lowered.get("rating"))),
            _first_color(_texts(lowered.get("color"))),
        )
    if isinstance(raw_tags, list):  # Vorbis comments: (name, value) pairs
        grouped: dict[str, list[str]] = {}
        for name, value in raw_tags:
            grouped.setdefault(name.lower(), []).append(value)
        stars = _first(stars_from_text, grouped.get("rating", []))
        if stars is None:
            stars = _first(stars_from_fraction, grouped.get("fmps_rating", []))
        return stars, _first_color(grouped.get("color", []))
    return None, None


def _id3_rating(tags) -> int | None:
    frames = tags.getall("POPM")
    ordered = sorted(frames, key=lambda f: (f.email != WMP_OWNER, f.email != TRAKTOR_OWNER))
    for frame in ordered:
        stars = stars_from_popm(int(getattr(frame, "rating", 0) or 0), frame.email)
        if stars is not None:
            return stars
    return None


def _id3_texts(tags, key: str) -> list[str]:
    frame = tags.get(key)
    return [str(t) for t in getattr(frame, "text", ())] if frame is not None else []


def _texts(values: object) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str | bytes):
        values = [values]
    texts = []
    for value in values:  # type: ignore[attr-defined]
        texts.append(bytes(value).decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
    return texts


def _first(parse, texts: list[str]):
    for text in texts:
        value = parse(text)
        if value is not None:
            return value
    return None


def _first_color(texts: list[str]) -> str | None:
    return _first(color_from_text, texts)


# -- writing (into a loaded mutagen object; the caller saves) -------------------------------------------
def write_rating(family: str, tags, stars: int | None) -> None:
    """Set (1-5) or remove (None or 0) the rating in ``tags`` of ``family`` (id3, vorbis, mp4, ape)."""
    stars = stars or None
    if stars is not None and not 1 <= stars <= 5:
        raise ValueError(f"a rating is 0-5 stars, not {stars}")
    if family == "id3":
        _write_id3_rating(tags, stars)
    elif family == "vorbis":
        for name in [k for k in list(tags.keys()) if k.upper() == VORBIS_RATING]:
            del tags[name]
        if stars is not None:
            tags[VORBIS_RATING] = [str(stars * 20)]
        if any(k.upper() == VORBIS_FMPS for k in list(tags.keys())):
            for name in [k for k in list(tags.keys()) if k.upper() == VORBIS_FMPS]:
                del tags[name]
            if stars is not None:
                tags[VORBIS_FMPS] = [f"{stars / 5:g}"]
    elif family == "mp4":
        _set_mp4_text(tags, MP4_RATING, str(stars * 20) if stars is not None else None)
    elif family == "ape":
        for name in [k for k in list(tags.keys()) if k.upper() == "RATING"]:
            del tags[name]
        if stars is not None:
            tags["Rating"] = str(stars * 20)
    else:
        raise ValueError(f"no rating tag for {family}")


def write_color(family: str, tags, color: str | None) -> None:
    """Set (a name from ``domain.colors``) or remove ('' or None) the colour in ``tags`` of ``family``."""
    name = parse_track_color(color) or None
    if family == "id3":
        from mutagen.id3 import TXXX

        tags.delall(f"TXXX:{ID3_COLOR}")
        if name is not None:
            encoding = 3 if tags.version and tags.version[1] == 4 else 1
            tags.add(TXXX(encoding=encoding, desc=ID3_COLOR, text=[name]))
    elif family in ("vorbis", "ape"):
        for present in [k for k in list(tags.keys()) if k.upper() == VORBIS_COLOR]:
            del tags[present]
        if name is not None:
            tags["COLOR" if family == "vorbis" else "Color"] = [name] if family == "vorbis" else name
    elif family == "mp4":
        _set_mp4_text(tags, MP4_COLOR, name)
    else:
        raise ValueError(f"no colour tag for {family}")


def _write_id3_rating(tags, stars: int | None) -> None:
    from mutagen.id3 import POPM

    frames = {frame.email: frame for frame in tags.getall("POPM")}
    if stars is None:
        for email, frame in frames.items():
            del tags[f"POPM:{email}"]
            if getattr(frame, "count", 0):  # keep another app's play count, without a rating
                tags.add(POPM(email=email, rating=0, count=frame.count))
        return
    for email, frame in frames.items():
        if email != WMP_OWNER:
            del tags[f"POPM:{email}"]
            count = getattr(frame, "count", None)
            kwargs = {"count": count} if count is not None else {}
            tags.add(POPM(email=email, rating=popm_from_stars(stars, email), **kwargs))
    wmp = frames.get(WMP_OWNER)
    if wmp is not None:
        del tags[f"POPM:{WMP_OWNER}"]
    count = getattr(wmp, "count", None) if wmp is not None else None
    kwargs = {"count": count} if count is not None else {}
    tags.add(POPM(email=WMP_OWNER, rating=popm_from_stars(stars), **kwargs))


def _set_mp4_text(tags, atom: str, text: str | None) -> None:
    from mutagen.mp4 import AtomDataType, MP4FreeForm

    for present in [k for k in list(tags.keys()) if k.lower() == atom.lower()]:
        del tags[present]
    if text is not None:
        tags[atom] = [MP4FreeForm(text.encode("utf-8"), dataformat=AtomDataType.UTF8)]
