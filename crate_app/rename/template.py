"""Rename templates: ``{albumartist|artist|Unknown Artist}/{album}/{track:02} - {title}``.

Syntax:

- ``{field}`` is a value of the track (see ``FIELD_NAMES``); ``{field:spec}`` formats it with a Python
  format spec (``{track:02}``, ``{bpm:.0f}``).
- ``{a|b|Text}``: the first alternative with a value; the last alternative may be literal text
  (it may not contain ``{}|:/\\`` or characters illegal in file names).
- ``/`` (or ``\\``) in the template separates folders; values never add folders.
- ``{{`` and ``}}`` are literal braces.
- The file's own extension is always kept and appended: the template names the file without it (a
  trailing ``.{ext}`` is accepted and ignored).  ``{ext}`` elsewhere is the extension without the dot.

``compile_template`` parses once and reports errors as ``TemplateError(message, position)``;
``CompiledTemplate.render`` is then cheap enough to run over 100,000 tracks.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from crate_app.domain.errors import TemplateError
from crate_app.domain.keys import KeyNotation, format_key_code
from crate_app.domain.track import TrackRecord
from crate_app.rename.sanitize import ILLEGAL_CHARACTERS

_Value = str | int | float | None
_Getter = Callable[[TrackRecord, KeyNotation], _Value]


def _text(attribute: str) -> _Getter:
    def get(track: TrackRecord, notation: KeyNotation) -> str | None:
        value = getattr(track, attribute)
        return value.strip() or None if value else None

    return get


def _positive_number(attribute: str) -> _Getter:
    def get(track: TrackRecord, notation: KeyNotation) -> int | float | None:
        value = getattr(track, attribute)
        return value if value and value > 0 else None  # 0 is how many taggers write "unknown"

    return get


def _key(track: TrackRecord, notation: KeyNotation) -> str | None:
    return format_key_code(track.key, notation) or None


def _camelot(track: TrackRecord, notation: KeyNotation) -> str | None:
    return format_key_code(track.key, KeyNotation.CAMELOT) or None


def _ext(track: TrackRecord, notation: KeyNotation) -> str | None:
    return os.path.splitext(track.path)[1][1:] or None


_GETTERS: dict[str, _Getter] = {
    "artist": _text("artist"),
    "title": _text("title"),
    "album": _text("album"),
    "albumartist": _text("albumartist"),
    "genre": _text("genre"),
    "year": _positive_number("year"),
    "track": _positive_number("track_no"),
    "disc": _positive_number("disc_no"),
    "bpm": _positive_number("bpm"),
    "key": _key,
    "camelot": _camelot,
    "label": _text("label"),
    "ext": _ext,
}
FIELD_NAMES: tuple[str, ...] = tuple(_GETTERS)
# A value of the right type per field, to check format specs when the template is compiled.
_SAMPLES: dict[str, _Value] = dict.fromkeys(FIELD_NAMES, "text") | {
    "year": 1999,
    "track": 1,
    "disc": 1,
    "bpm": 128.5,
}
_MAX_FORMAT_NUMBER = 255  # widths and precisions beyond a file name's length make no sense
_SEPARATORS = "/\\"


def format_bpm(bpm: float) -> str:
    """BPM as DJs write it: ``128``, ``127.5``, ``174.25``."""
    return f"{bpm:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True, slots=True)
class _Field:
    names: tuple[str, ...]
    fallback: str | None  # literal text when no field has a value
    spec: str | None

    def render(self, track: TrackRecord, notation: KeyNotation, missing: set[str] | None = None) -> str:
        for name in self.names:
            value = _GETTERS[name](track, notation)
            if value is not None:
                return _format_value(value, self.spec)
        if self.fallback is not None:
            return _format_value(self.fallback, self.spec)
        if missing is not None:
            missing.add("{" + "|".join(self.names) + "}")
        return ""


_Part = str | _Field


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A parsed template: folder components followed by the file name (without extension)."""

    source: str
    components: tuple[tuple[_Part, ...], ...]

    @property
    def fields(self) -> frozenset[str]:
        """The field names the template uses."""
        return frozenset(
            name for component in self.components for part in component if isinstance(part, _Field)
            for name in part.names
        )  # fmt: skip

    def render(
        self,
        track: TrackRecord,
        key_notation: KeyNotation = KeyNotation.CAMELOT,
        missing: set[str] | None = None,
    ) -> tuple[str, ...]:
        """The raw (not yet sanitised) folder names and file stem for ``track``.

        ``missing`` (if given) receives the fields that had no value and no fallback, as written in
        the template without format (``{artist}``, ``{albumartist|artist}``): they rendered empty."""
        return tuple(
            "".join(
                part if isinstance(part, str) else part.render(track, key_notation, missing)
                for part in component
            )
            for component in self.components
        )


def compile_template(text: str) -> CompiledTemplate:
    """Parse ``text``; raise ``TemplateError`` with the 0-based position of the first problem."""
    if not text.strip():
        raise TemplateError("the template is empty", 0)
    components: list[tuple[_Part, ...]] = []
    parts: list[_Part] = []
    literal: list[str] = []
    component_start = 0

    def flush_literal() -> None:
        if literal:
            parts.append("".join(literal))
            literal.clear()

    def end_component(position: int) -> None:
        flush_literal()
        if not any(isinstance(part, _Field) for part in parts):  # plain text: check it now
            fixed_text = "".join(parts).strip()  # type: ignore[arg-type]
            if not fixed_text:
                message = (
                    "the template starts with '/'" if position == 0 else "a folder name is missing before '/'"
                )
                raise TemplateError(message, position)
            if fixed_text in (".", ".."):
                raise TemplateError("'.' and '..' cannot be folder or file names", component_start)
        components.append(tuple(parts))
        parts.clear()

    index = 0
    while index < len(text):
        ch = text[index]
        if ch in "{}" and text[index + 1 : index + 2] == ch:
            literal.append(ch)
            index += 2
        elif ch == "{":
            close = text.find("}", index + 1)
            if close < 0:
                raise TemplateError("'{' is never closed (write '{{' for a literal brace)", index)
            nested = text.find("{", index + 1, close)
            if nested >= 0:
                raise TemplateError("'{' inside a field (write '{{' for a literal brace)", nested)
            flush_literal()
            parts.append(_parse_field(text[index + 1 : close], index + 1))
            index = close + 1
        elif ch == "}":
            raise TemplateError("'}' without '{' (write '}}' for a literal brace)", index)
        elif ch in _SEPARATORS:
            end_component(index)
            index += 1
            component_start = index
        elif _is_forbidden(ch):
            raise TemplateError(f"{ch!r} is not allowed in file names", index)
        else:
            literal.append(ch)
            index += 1
    flush_literal()
    if not parts:
        raise TemplateError(
            "the template ends with a folder: a file name must follow the last '/'", len(text) - 1
        )
    _drop_extension_field(parts, component_start)
    end_component(component_start)
    return CompiledTemplate(text, tuple(components))


def _parse_field(inner: str, offset: int) -> _Field:
    """``inner`` is the text between the braces, starting at ``offset`` in the template."""
    head, colon, spec = inner.partition(":")
    alternatives = head.split("|")
    names: list[str] = []
    fallback: str | None = None
    position = offset
    for index, alternative in enumerate(alternatives):
        name = alternative.strip()
        name_position = position + len(alternative) - len(alternative.lstrip())
        if name in _GETTERS:
            names.append(name)
        elif not name:
            raise TemplateError("a field name is missing", name_position)
        elif index == len(alternatives) - 1 and index > 0:
            _check_fallback(alternative, position)
            fallback = alternative
        else:
            raise TemplateError(f"unknown field '{name}' (known: {', '.join(FIELD_NAMES)})", name_position)
        position += len(alternative) + 1
    if colon and spec:
        _check_spec(spec, names, fallback, offset + len(head) + 1)
    return _Field(tuple(names), fallback, spec if colon and spec else None)


def _is_forbidden(ch: str) -> bool:
    """Characters no file name may contain: illegal on Windows, control characters, lone surrogates."""
    return ch in ILLEGAL_CHARACTERS or unicodedata.category(ch) in ("Cc", "Cs")


def _check_fallback(text: str, position: int) -> None:
    for index, ch in enumerate(text):
        if _is_forbidden(ch):
            raise TemplateError(f"{ch!r} is not allowed in a fallback text", position + index)


def _check_spec(spec: str, names: list[str], fallback: str | None, position: int) -> None:
    if any(int(number) > _MAX_FORMAT_NUMBER for number in re.findall(r"\d+", spec)):
        raise TemplateError(f"format '{spec}' asks for more than {_MAX_FORMAT_NUMBER} characters", position)
    samples = [_SAMPLES[name] for name in names] + ([fallback] if fallback is not None else [])
    for sample in samples:
        try:
            format(sample, spec)
        except (ValueError, TypeError):
            kind = "text" if isinstance(sample, str) else "a number"
            raise TemplateError(f"format '{spec}' cannot be used for {kind}", position) from None


def _format_value(value: str | int | float, spec: str | None) -> str:
    if spec is None:
        return format_bpm(value) if isinstance(value, float) else str(value)
    try:
        return format(value, spec)
    except (ValueError, OverflowError):
        return str(value)


def _drop_extension_field(parts: list[_Part], component_start: int) -> None:
    """Remove a trailing ``.{ext}``: the extension is always appended by the planner."""
    if len(parts) < 2 or parts[-1] != _Field(("ext",), None, None):
        return
    before = parts[-2]
    if not isinstance(before, str) or not before.endswith("."):
        return
    parts.pop()
    parts[-1] = before[:-1]
    if not parts[-1]:
        parts.pop()
    if not parts:
        raise TemplateError("the file name is missing before '.{ext}'", component_start)
