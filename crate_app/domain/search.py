"""The search language of the search box, ``crate-cli ls QUERY`` and smart crates.

Plain words match the text fields by prefix (``daft pun``); quotes make a phrase (``"daft punk"``);
a leading ``-`` excludes (``-remix``, ``-genre:house``, ``-(a OR b)``).  Everything written side by
side must hold; ``OR`` (in capitals) joins alternatives and binds looser than that; parentheses
group (``(house OR techno) bpm:120-128``).  Field filters:

=======================  ==========================================================
``artist:daft``          text field starts with a word (artist, title, album, albumartist,
                         genre, label, comment, filename)
``bpm:120-128``          numeric range (bpm, year, duration in seconds, bitrate in kbit/s)
``bpm:>140``             comparisons ``>``, ``>=``, ``<``, ``<=``, ``=`` (or a bare number)
``key:8A``               key in any notation (``8A``, ``1m``, ``Am``); ``key:~8A`` = keys that
                         mix harmonically with 8A (same, +-1, relative); ``key:none`` = no key
``rating:>=4``           stars 0-5 (``rating:0`` also finds unrated tracks)
``color:red``            track colour (pink red orange yellow green aqua blue purple, or none;
                         ``color:red,blue`` either)
``format:flac``          file format (``format:flac,wav`` or ``format:flac format:wav``: either)
``missing:yes``          missing files (``missing:no`` hides them); also ``error:yes``,
                         ``analyzed:no``
``added:<30d``           added to the library less than 30 days ago (``h``, ``d``, ``w``,
                         ``m`` = 30 days, ``y`` = 365 days); ``added:>1y`` = longer ago
``added:2026-11``        added in that month (also ``2026``, ``2026-11-05``, and ``<``, ``>``,
                         ``<=``, ``>=`` before such a date, ``2026-01..2026-03`` a span)
``crate:"Sets/Berlin"``  in that crate (a folder: in any crate under it; a smart crate: matching
                         its rules); ``-crate:...`` not in it
=======================  ==========================================================

The parsed form is a small tree (``And``, ``Or``, ``Not`` over the filters); relative dates stay
relative (``AddedFilter`` keeps "30 days"), so a saved smart crate changes as time passes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

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
ALL_FIELDS = (*TEXT_FIELDS, *NUMERIC_FIELDS, *FLAG_FIELDS, "key", "format", "color", "added", "crate")

_YES = {"yes", "y", "true", "1", "on"}
_NO = {"no", "n", "false", "0", "off"}
OR_WORD = "OR"


class QuerySyntaxError(CrateError):
    """A search the user typed cannot be understood; ``position`` is where (0-based)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


# -- the parsed tree ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TextTerm:
    text: str
    field: str | None = None  # None = any text field


@dataclass(frozen=True, slots=True)
class NumericFilter:
    field: str
    low: float | None  # None = open
    high: float | None
    low_exclusive: bool = False
    high_exclusive: bool = False


@dataclass(frozen=True, slots=True)
class KeyFilter:
    codes: frozenset[int]  # key codes that match; empty with missing=True: tracks without a key
    missing: bool = False


@dataclass(frozen=True, slots=True)
class FormatFilter:
    formats: tuple[str, ...]  # any of these (lower case, no dot)


@dataclass(frozen=True, slots=True)
class ColorFilter:
    colors: tuple[str, ...]  # any of these track colours ('' = no colour)


@dataclass(frozen=True, slots=True)
class FlagFilter:
    flag: str  # missing | error | analyzed
    wanted: bool


@dataclass(frozen=True, slots=True)
class AddedFilter:
    """When tracks were added.  Relative bounds (``*_seconds_ago``) are measured from the moment the
    query runs; absolute bounds are epoch seconds.  ``low`` is inclusive, ``high`` exclusive."""

    low: float | None = None
    high: float | None = None
    newer_than_seconds_ago: float | None = None  # added after now - this
    older_than_seconds_ago: float | None = None  # added before now - this

    def bounds(self, now: float) -> tuple[float | None, float | None]:
        """[low, high) in epoch seconds at ``now``."""
        low, high = self.low, self.high
        if self.newer_than_seconds_ago is not None:
            low = now - self.newer_than_seconds_ago
        if self.older_than_seconds_ago is not None:
            high = now - self.older_than_seconds_ago
        return low, high


@dataclass(frozen=True, slots=True)
class CrateFilter:
    path: str  # as typed (escapes kept): resolved against the library's crates when the query runs


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Union[  # noqa: UP007 (a runtime alias used in isinstance-free annotations of the dataclasses)
    TextTerm,
    NumericFilter,
    KeyFilter,
    FormatFilter,
    ColorFilter,
    FlagFilter,
    AddedFilter,
    CrateFilter,
    Not,
    And,
    Or,
]


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A search, parsed: ``root`` is None for an empty search (everything matches)."""

    root: Node | None = None

    @property
    def is_empty(self) -> bool:
        return self.root is None

    @property
    def crate_paths(self) -> tuple[str, ...]:
        """The crate paths the query names (``crate:``), in order."""
        found: list[str] = []

        def walk(node: Node) -> None:
            if isinstance(node, CrateFilter):
                found.append(node.path)
            elif isinstance(node, Not):
                walk(node.child)
            elif isinstance(node, And | Or):
                for child in node.children:
                    walk(child)

        if self.root is not None:
            walk(self.root)
        return tuple(found)


# -- tokens ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "(" | ")" | "or" | "term"
    start: int
    negated: bool = False
    field: str | None = None
    field_at: int = 0
    value: str | None = None
    value_at: int = 0
    quoted: bool = False
    end: int = 0


# A term: optional '-', optional 'field:', then a quoted string or a run of other characters.
_TERM = re.compile(r'(-?)(?:([A-Za-z_]+):)?(?:(")((?:[^"]|"")*)(")?|([^\s"()]+))?')


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
            continue
        if char in "()":
            tokens.append(_Token(char, position))
            position += 1
            continue
        if char == "-" and position + 1 < len(text) and text[position + 1] == "(":
            tokens.append(_Token("not", position))
            position += 1
            continue
        match = _TERM.match(text, position)
        assert match is not None  # the pattern can match the empty string
        if match.end() == position:
            raise QuerySyntaxError(f"unexpected {char!r}", position)
        negated, field_name = match.group(1) == "-", match.group(2)
        quoted = bool(match.group(3))
        if quoted:
            if match.group(5) is None:
                raise QuerySyntaxError("closing quote missing", match.start(3))
            value: str | None = match.group(4).replace('""', '"')
            value_at = match.start(3)
        else:
            value = match.group(6)
            value_at = match.start(6) if value is not None else match.end()
        if field_name is None and value is None:
            raise QuerySyntaxError("'-' must be followed by a word", match.start(1))
        if field_name is None and not negated and not quoted and value == OR_WORD:
            tokens.append(_Token("or", position))
        else:
            tokens.append(
                _Token(
                    "term",
                    position,
                    negated,
                    field_name,
                    match.start(2),
                    value,
                    value_at,
                    quoted,
                    match.end(),
                )
            )
        position = match.end()
    return tokens


# -- parser ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RawTerm:
    """One term as written (for the smart-crate editor): its field (None: any text) and value text."""

    field: str | None
    value: str


class _Parser:
    def __init__(self, text: str, raw: bool = False) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0
        self.raw = raw

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def parse(self) -> Node | None:
        node = self.alternatives()
        token = self.peek()
        if token is not None:  # only a ')' stops alternatives() early
            raise QuerySyntaxError("')' without a matching '('", token.start)
        return node

    def alternatives(self) -> Node | None:
        options: list[Node] = []
        first = self.sequence()
        while (token := self.peek()) is not None and token.kind == "or":
            if first is None and not options:
                raise QuerySyntaxError("'OR' needs something before it", token.start)
            self.index += 1
            following = self.sequence()
            if following is None:
                raise QuerySyntaxError("'OR' needs something after it", token.start)
            if first is not None:
                options.append(first)
                first = None
            options.append(following)
        if not options:
            return first
        return Or(tuple(options))

    def sequence(self) -> Node | None:
        parts: list[Node] = []
        while (token := self.peek()) is not None and token.kind in ("term", "(", "not"):
            node = self.unary()
            if node is not None:
                parts.append(node)
        if not parts:
            return None
        # A track has one format and one colour: "format:mp3 format:flac" means either.
        parts = _merge_alternatives(parts, FormatFilter, "formats")
        parts = _merge_alternatives(parts, ColorFilter, "colors")
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Node | None:
        token = self.tokens[self.index]
        self.index += 1
        if token.kind == "not":
            following = self.peek()
            assert following is not None and following.kind == "("  # how the tokenizer made it
            inner = self.unary()
            if inner is None:
                raise QuerySyntaxError("'-(' needs something inside the parentheses", token.start)
            return Not(inner)
        if token.kind == "(":
            inner = self.alternatives()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QuerySyntaxError("closing ')' missing", token.start)
            self.index += 1
            if inner is None:
                raise QuerySyntaxError("empty parentheses", token.start)
            return inner
        node = _raw_term(token) if self.raw else _term(token)
        if node is None:
            return None
        return Not(node) if token.negated else node


def _merge_alternatives(parts: list[Node], kind: type, attribute: str) -> list[Node]:
    same = [p for p in parts if isinstance(p, kind)]
    if len(same) < 2:
        return parts
    merged = kind(tuple(dict.fromkeys(v for p in same for v in getattr(p, attribute))))
    return [merged if p is same[0] else p for p in parts if p is same[0] or not isinstance(p, kind)]


def parse_query(text: str) -> ParsedQuery:
    """Parse what the user typed; raises QuerySyntaxError with a position for what makes no sense."""
    return ParsedQuery(_Parser(text).parse())


def parse_terms(text: str) -> Node | None:
    """The query's structure (And, Or, Not) with each term as written (``RawTerm``, field names
    resolved), for editors that show a query as rules.  Checks the query fully (QuerySyntaxError)."""
    parse_query(text)
    return _Parser(text, raw=True).parse()


def rewrite_crate_paths(text: str, rename: Callable[[str], str | None]) -> str:
    """``text`` with each ``crate:`` path replaced by ``rename(path)`` (None: left as it is), written
    in quotes; the rest of the text is kept as typed.  Text that does not parse is returned as it is."""
    try:
        tokens = _tokens(text)
    except QuerySyntaxError:
        return text
    pieces: list[str] = []
    done = 0
    for token in tokens:
        if token.kind != "term" or token.field is None or token.field.lower() != "crate" or not token.value:
            continue
        new = rename(token.value.strip())
        if new is None:
            continue
        pieces += [text[done : token.value_at], '"' + new.replace('"', '""') + '"']
        done = token.end
    return "".join(pieces) + text[done:]


def _raw_term(token: _Token) -> RawTerm | None:
    if token.field is None:
        if token.value is None or not token.value.strip():
            return None
        return RawTerm(None, token.value)
    name = FIELD_ALIASES.get(token.field.lower(), token.field.lower())
    return RawTerm(name, (token.value or "").strip())


def _term(token: _Token) -> Node | None:
    value = token.value
    if token.field is None:
        if value is None or not value.strip():
            return None
        return TextTerm(value, None)
    name = FIELD_ALIASES.get(token.field.lower(), token.field.lower())
    if name not in ALL_FIELDS:
        raise QuerySyntaxError(f"unknown field '{name}:' (try {', '.join(ALL_FIELDS)})", token.field_at)
    if not value or not value.strip():
        raise QuerySyntaxError(f"'{name}:' needs a value", token.value_at)
    value = value.strip()
    at = token.value_at
    if name in TEXT_FIELDS:
        return TextTerm(value, name)
    if name in NUMERIC_FIELDS:
        return _parse_numeric(name, value, at)
    if name in FLAG_FIELDS:
        if value.lower() in _YES:
            return FlagFilter(name, True)
        if value.lower() in _NO:
            return FlagFilter(name, False)
        raise QuerySyntaxError(f"'{name}:' takes yes or no", at)
    if name == "key":
        return _parse_key_filter(value, at)
    if name == "format":
        formats = tuple(part.strip().lower().lstrip(".") for part in value.split(",") if part.strip())
        if not formats:
            raise QuerySyntaxError("'format:' needs a format such as flac", at)
        return FormatFilter(formats)
    if name == "color":
        try:
            return ColorFilter(tuple(dict.fromkeys(parse_track_color(part) for part in value.split(","))))
        except ValueError as error:
            raise QuerySyntaxError(str(error), at) from None
    if name == "added":
        return parse_added(value, at)
    return CrateFilter(value)  # crate:


_NUMBER = r"\d+(?:\.\d+)?"
_RANGE = re.compile(rf"^({_NUMBER})\s*-\s*({_NUMBER})$")
_COMPARE = re.compile(rf"^(>=|<=|>|<|=)?\s*({_NUMBER})$")


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


def _parse_key_filter(value: str, at: int) -> KeyFilter:
    if value.lower() in ("none", "no", "unknown"):
        return KeyFilter(frozenset(), missing=True)
    compatible = value.startswith("~")
    codes: set[int] = set()
    for part in value.lstrip("~").split(","):
        key = parse_key(part)
        if key is None:
            raise QuerySyntaxError(f"'{part}' is not a key (try 8A, 1m or Am)", at)
        codes.update(harmonic_neighbours(key) if compatible else {key.code})
    return KeyFilter(frozenset(codes))


def harmonic_neighbours(key: Key) -> set[int]:
    """Key codes that mix well with ``key``: itself, one step either way on the wheel, its relative."""
    code = key.code
    number, letter = divmod(code, 2)
    return {code, ((number + 1) % 12) * 2 + letter, ((number - 1) % 12) * 2 + letter, number * 2 + 1 - letter}


# -- dates -------------------------------------------------------------------------------------------
UNIT_SECONDS = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, "m": 30 * 86400.0, "y": 365 * 86400.0}
_RELATIVE = re.compile(r"^(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*([hdwmy])$", re.IGNORECASE)
_DATE = r"\d{4}(?:-\d{1,2}(?:-\d{1,2})?)?"
_ABSOLUTE = re.compile(rf"^(<=|>=|<|>|=)?\s*({_DATE})$")
_SPAN = re.compile(rf"^({_DATE})\s*\.\.\s*({_DATE})$")
_DATE_HELP = (
    "'added:' takes <30d (within 30 days), >1y, a date like 2026-11 or 2026-11-05, or 2026-01..2026-03"
)


def date_span(text: str, at: int = 0) -> tuple[float, float]:
    """[start, end) in epoch seconds (local time) of a year, month or day written 2026, 2026-11 or
    2026-11-05."""
    parts = [int(p) for p in text.split("-")]
    try:
        if len(parts) == 1:
            start, end = dt.datetime(parts[0], 1, 1), dt.datetime(parts[0] + 1, 1, 1)
        elif len(parts) == 2:
            year, month = parts
            start = dt.datetime(year, month, 1)
            end = start + dt.timedelta(days=calendar.monthrange(year, month)[1])
        else:
            start = dt.datetime(*parts)
            end = start + dt.timedelta(days=1)
    except (ValueError, OverflowError):
        raise QuerySyntaxError(f"'{text}' is not a date (try 2026, 2026-11 or 2026-11-05)", at) from None
    return start.timestamp(), end.timestamp()


def parse_added(value: str, at: int = 0) -> AddedFilter:
    """The ``added:`` filter for ``value`` (see the module docstring)."""
    value = value.strip()
    if m := _RELATIVE.match(value):
        op, amount, unit = m.group(1), float(m.group(2)), m.group(3).lower()
        seconds = amount * UNIT_SECONDS[unit]
        if op.startswith("<"):
            return AddedFilter(newer_than_seconds_ago=seconds)
        return AddedFilter(older_than_seconds_ago=seconds)
    if m := _SPAN.match(value):
        first, last = date_span(m.group(1), at), date_span(m.group(2), at)
        if first[0] > last[0]:
            first, last = last, first
        return AddedFilter(low=first[0], high=last[1])
    if m := _ABSOLUTE.match(value):
        op, (start, end) = m.group(1) or "=", date_span(m.group(2), at)
        return {
            "=": AddedFilter(low=start, high=end),
            "<": AddedFilter(high=start),
            "<=": AddedFilter(high=end),
            ">": AddedFilter(low=end),
            ">=": AddedFilter(low=start),
        }[op]
    raise QuerySyntaxError(_DATE_HELP, at)
