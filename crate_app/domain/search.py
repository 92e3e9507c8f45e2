"""The search language of the search box and ``crate-cli ls QUERY``.

Plain words match the text fields by prefix (``daft pun``); quotes make a phrase (``"daft punk"``);
a leading ``-`` excludes (``-remix``).  Field filters combine with words:

=====================  ==========================================================
``artist:daft``        text field starts with a word (artist, title, album, albumartist,
                       genre, label, comment, filename)
``bpm:120-128``        numeric range (bpm, year, duration in seconds, bitrate in kbit/s)
``bpm:>140``           comparisons ``>``, ``>=``, ``<``, ``<=``, ``=`` (or a bare number)
``key:8A``             key in any notation (``8A``, ``1m``, ``Am``); ``key:~8A`` = keys that
                       mix harmonically with 8A (same, +-1, relative); ``key:none`` = no key
``rating:>=4``         stars 0-5 (``rating:0`` also finds unrated tracks)
``color:red``          track colour (pink red orange yellow green aqua blue purple, or none)
``format:flac``        file format
``missing:yes``        missing files (``missing:no`` hides them); also ``error:yes``,
                       ``analyzed:no``
=====================  ==========================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crate_app.domain.colors import parse_track_color
from crate_app.domain.errors import CrateError
from crate_app.domain.keys import Key, parse_key

TEXT_FIELDS = ("artist", "title", "album", "albumartist", "genre", "label", "comment", "filename")
NUMERIC_FIELDS = ("bpm", "year", "duration", "bitrate", "rating")
FLAG_FIELDS = ("missing", "error", "analyzed")
FIELD_ALIASES = {
    "album_artist": "albumartist", "tempo": "bpm", "file": "filename", "length": "duration",
    "colour": "color", "stars": "rating",
}  # fmt: skip
ALL_FIELDS = (*TEXT_FIELDS, *NUMERIC_FIELDS, *FLAG_FIELDS, "key", "format", "color")

_YES = {"yes", "y", "true", "1", "on"}
_NO = {"no", "n", "false", "0", "off"}


class QuerySyntaxError(CrateError):
    """A search the user typed cannot be understood; ``position`` is where (0-based)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True, slots=True)
class TextTerm:
    text: str
    field: str | None = None  # None = any text field
    negated: bool = False


@dataclass(frozen=True, slots=True)
class NumericFilter:
    field: str
    low: float | None  # inclusive bounds; None = open
    high: float | None
    low_exclusive: bool = False
    high_exclusive: bool = False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A search, parsed: every part must hold for a track to match."""

    terms: tuple[TextTerm, ...] = ()
    numeric: tuple[NumericFilter, ...] = ()
    key_codes: frozenset[int] | None = None  # None = any key; empty set = "no key"
    key_missing: bool = False
    formats: tuple[str, ...] = ()
    flags: tuple[tuple[str, bool], ...] = ()  # (missing|error|analyzed, wanted)
    colors: tuple[str, ...] = ()  # any of these track colours ('' = no colour)

    @property
    def is_empty(self) -> bool:
        return not (self.terms or self.numeric or self.key_codes is not None or self.key_missing
                    or self.formats or self.flags or self.colors)  # fmt: skip


@dataclass
class _Builder:
    terms: list[TextTerm] = field(default_factory=list)
    numeric: list[NumericFilter] = field(default_factory=list)
    key_codes: set[int] | None = None
    key_missing: bool = False
    formats: list[str] = field(default_factory=list)
    flags: list[tuple[str, bool]] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)


# A token: optional '-', optional 'field:', then a quoted string or a run of non-space characters.
_TOKEN = re.compile(r'\s*(-?)(?:([A-Za-z_]+):)?(?:(")((?:[^"]|"")*)(")?|([^\s"]+))?')
_NUMBER = r"\d+(?:\.\d+)?"
_RANGE = re.compile(rf"^({_NUMBER})\s*-\s*({_NUMBER})$")
_COMPARE = re.compile(rf"^(>=|<=|>|<|=)?\s*({_NUMBER})$")


def parse_query(text: str) -> ParsedQuery:
    """Parse what the user typed; raises QuerySyntaxError with a position for what makes no sense."""
    builder = _Builder()
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match is not None  # the pattern can match the empty string
        if match.end() == position:  # nothing consumed: a stray character
            raise QuerySyntaxError(f"unexpected {text[position]!r}", position)
        negated, field_name = match.group(1) == "-", match.group(2)
        if match.group(3):  # a quoted phrase
            if match.group(5) is None:
                raise QuerySyntaxError("closing quote missing", match.start(3))
            value: str | None = match.group(4).replace('""', '"')
            value_start = match.start(3)
        else:
            value = match.group(6)
            value_start = match.start(6) if value is not None else match.end()
        position = match.end()
        if field_name is None and value is None:
            if negated:
                raise QuerySyntaxError("'-' must be followed by a word", match.start(1))
            continue
        if field_name is None:
            if value and value.strip():
                builder.terms.append(TextTerm(value, None, negated))
            continue
        _add_field(builder, field_name, value, negated, match.start(2), value_start)
    return ParsedQuery(
        terms=tuple(builder.terms),
        numeric=tuple(builder.numeric),
        key_codes=frozenset(builder.key_codes) if builder.key_codes is not None else None,
        key_missing=builder.key_missing,
        formats=tuple(builder.formats),
        flags=tuple(builder.flags),
        colors=tuple(builder.colors),
    )


def _add_field(
    builder: _Builder, name: str, value: str | None, negated: bool, name_at: int, value_at: int
) -> None:
    name = FIELD_ALIASES.get(name.lower(), name.lower())
    if name not in ALL_FIELDS:
        raise QuerySyntaxError(f"unknown field '{name}:' (try {', '.join(ALL_FIELDS)})", name_at)
    if not value or not value.strip():
        raise QuerySyntaxError(f"'{name}:' needs a value", value_at)
    value = value.strip()
    if name in TEXT_FIELDS:
        builder.terms.append(TextTerm(value, name, negated))
    elif negated:
        raise QuerySyntaxError(f"'-' works with words and text fields, not with '{name}:'", name_at - 1)
    elif name in NUMERIC_FIELDS:
        builder.numeric.append(_parse_numeric(name, value, value_at))
    elif name in FLAG_FIELDS:
        if value.lower() in _YES:
            builder.flags.append((name, True))
        elif value.lower() in _NO:
            builder.flags.append((name, False))
        else:
            raise QuerySyntaxError(f"'{name}:' takes yes or no", value_at)
    elif name == "key":
        _add_key(builder, value, value_at)
    elif name == "format":
        builder.formats.append(value.lower().lstrip("."))
    elif name == "color":
        try:
            builder.colors.extend(parse_track_color(part) for part in value.split(","))
        except ValueError as error:
            raise QuerySyntaxError(str(error), value_at) from None


def _parse_numeric(name: str, value: str, at: int) -> NumericFilter:
    if m := _RANGE.match(value):
        low, high = float(m.group(1)), float(m.group(2))
        if low > high:
            low, high = high, low
        return NumericFilter(name, low, high)
    if m := _COMPARE.match(value):
        op, number = m.group(1) or "=", float(m.group(2))
        if op == "=":
            if name == "bpm" and "." not in m.group(2):
                # bpm:128 means "128-point-something" to a DJ, not exactly 128.00.
                return NumericFilter(name, number, number + 1, high_exclusive=True)
            return NumericFilter(name, number, number)
        return {
            ">": NumericFilter(name, number, None, low_exclusive=True),
            ">=": NumericFilter(name, number, None),
            "<": NumericFilter(name, None, number, high_exclusive=True),
            "<=": NumericFilter(name, None, number),
        }[op]
    raise QuerySyntaxError(f"'{name}:' takes a number, a range like 120-128, or >140", at)


def _add_key(builder: _Builder, value: str, at: int) -> None:
    if value.lower() in ("none", "no", "unknown"):
        builder.key_missing = True
        return
    compatible = value.startswith("~")
    codes: set[int] = set()
    for part in value.lstrip("~").split(","):
        key = parse_key(part)
        if key is None:
            raise QuerySyntaxError(f"'{part}' is not a key (try 8A, 1m or Am)", at)
        codes.update(harmonic_neighbours(key) if compatible else {key.code})
    builder.key_codes = codes if builder.key_codes is None else builder.key_codes & codes


def harmonic_neighbours(key: Key) -> set[int]:
    """Key codes that mix well with ``key``: itself, one step either way on the wheel, its relative."""
    code = key.code
    number, letter = divmod(code, 2)
    return {code, ((number + 1) % 12) * 2 + letter, ((number - 1) % 12) * 2 + letter, number * 2 + 1 - letter}
