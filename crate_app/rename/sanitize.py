"""Portable file names: what a rename target may be on Windows, macOS and Linux alike.

Every function here is pure.  A *component* is one folder or file name.  Sanitised components:

- are Unicode NFC, free of ``<>:"/\\|?*`` and control characters (replaced by ``options.replacement``);
- have no leading whitespace and no trailing whitespace or dots;
- are never empty, ``.`` or ``..`` (an empty result becomes ``options.placeholder``);
- are never a reserved Windows device name (``CON``, ``nul.mp3``, ``COM1``...: ``CON`` becomes ``CON_``);
- fit in ``options.max_component_bytes`` bytes of UTF-8, cut on a character boundary.

Lengths: a component's limit is counted in UTF-8 bytes (Linux counts bytes; 255 bytes of UTF-8 never
exceed the 255 UTF-16 units NTFS and APFS allow); the total path limit is counted in UTF-16 code
units, as Windows counts ``MAX_PATH``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

ILLEGAL_CHARACTERS = '<>:"/\\|?*'
# Device names Windows reserves in every folder, also with an extension ("nul.txt"), in any case.
RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{prefix}{digit}" for prefix in ("COM", "LPT") for digit in "0123456789¹²³"]
)
_RESERVED_INITIALS = frozenset(ch for name in RESERVED_NAMES for ch in (name[0], name[0].lower()))
_TRAILING_JUNK = re.compile(r"[\s.]+\Z")


def utf8_length(text: str) -> int:
    """Bytes of ``text`` in UTF-8; lone surrogates (undecodable bytes of a Linux path) count as the
    byte they stand for."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "surrogatepass"))


def utf16_length(text: str) -> int:
    """Code units of ``text`` in UTF-16 (how Windows measures path lengths)."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def is_reserved_name(name: str) -> bool:
    """True for names Windows reserves for devices (``CON``, ``com1.mp3``, ``Nul .txt``)."""
    if name[:1] not in _RESERVED_INITIALS:  # the quick answer for almost every name
        return False
    return name.partition(".")[0].rstrip(" ").upper() in RESERVED_NAMES


@functools.lru_cache(maxsize=8)
def _translation_table(replacement: str) -> dict[int, str]:
    codes = [ord(ch) for ch in ILLEGAL_CHARACTERS]
    codes += [*range(0x00, 0x20), *range(0x7F, 0xA0)]  # control characters (C0, DEL, C1)
    codes += range(0xD800, 0xE000)  # lone surrogates: not encodable on Windows or macOS
    return dict.fromkeys(codes, replacement)


def _clean(text: str, table: dict[int, str], placeholder: str) -> str:
    """One pass of the character, whitespace, emptiness and reserved-name rules (no length limit)."""
    text = text.strip().translate(table)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    text = _TRAILING_JUNK.sub("", text.lstrip())
    if not text:
        return placeholder
    if is_reserved_name(text):
        base_end = len(text.partition(".")[0].rstrip(" "))
        text = text[:base_end] + placeholder + text[base_end:]
    return text


def _cut(text: str, max_bytes: int, max_units: int) -> str:
    """The longest prefix of ``text`` within both limits, cut between code points."""
    if text.isascii():
        return text[: max(0, min(max_bytes, max_units))]
    used_bytes = used_units = 0
    for index, ch in enumerate(text):
        code = ord(ch)
        used_bytes += 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
        used_units += 2 if code > 0xFFFF else 1
        if used_bytes > max_bytes or used_units > max_units:
            return text[:index]
    return text


def _only_escapes(text: str) -> bool:
    return all(not 0xD800 <= ord(ch) <= 0xDFFF or 0xDC80 <= ord(ch) <= 0xDCFF for ch in text)


def _is_plain_ascii_suffix(suffix: str) -> bool:
    """``.mp3``, ``.en.lrc``: nothing to change."""
    body = suffix[1:]
    return suffix[:1] == "." and body.isascii() and body.replace(".", "").isalnum() and body[-1] != "."


@dataclass(frozen=True, slots=True)
class SanitizeOptions:
    """How names are made portable (passed explicitly, persisted by the GUI).

    ``replacement`` stands in for each illegal or control character (it may be empty);
    ``placeholder`` stands in for a name that sanitises to nothing and is appended to reserved
    device names.  Both are plain ASCII so that they can never combine with their neighbours.
    """

    replacement: str = "_"
    placeholder: str = "_"
    max_component_bytes: int = 255
    max_path_length: int = 1024  # of the target relative to its root; 260 keeps Windows tools happy

    def __post_init__(self) -> None:
        if not self.replacement.isascii() or any(
            ch in ILLEGAL_CHARACTERS or not ch.isprintable() for ch in self.replacement
        ):
            raise ValueError(f"the replacement must be printable ASCII, not {ILLEGAL_CHARACTERS}")
        if not self.placeholder or not self.placeholder.isascii() or not self.placeholder.isprintable():
            raise ValueError("the placeholder must be printable ASCII and not empty")
        if (
            _clean(self.placeholder, _translation_table(self.replacement), self.placeholder)
            != self.placeholder
        ):
            raise ValueError(f"the placeholder {self.placeholder!r} is not a portable file name itself")
        if any(is_reserved_name(name + self.placeholder) for name in RESERVED_NAMES):
            raise ValueError(f"the placeholder {self.placeholder!r} does not mend reserved names")
        if utf8_length(self.placeholder) > self.max_component_bytes or self.max_path_length < 1:
            raise ValueError("the length limits are too small")


DEFAULT_OPTIONS = SanitizeOptions()


def sanitize_component(text: str, options: SanitizeOptions = DEFAULT_OPTIONS) -> str:
    """One tag value or template output made into a portable folder or file name (idempotent)."""
    result = fit_component(text, options, options.max_component_bytes)
    assert result is not None  # the options guarantee that at least the placeholder fits
    return result


def sanitize_suffix(suffix: str, options: SanitizeOptions = DEFAULT_OPTIONS) -> str:
    """An existing file's extension (``.mp3``, ``.en.lrc``) made portable, to be appended to a
    sanitised stem: illegal characters replaced, NFC, no trailing dots or whitespace."""
    if _is_plain_ascii_suffix(suffix):
        return suffix
    text = unicodedata.normalize("NFC", suffix.translate(_translation_table(options.replacement)))
    text = _TRAILING_JUNK.sub("", text)
    return "" if text in ("", ".") else text


def fit_component(
    text: str, options: SanitizeOptions, max_bytes: int, max_units: int | None = None
) -> str | None:
    """``text`` sanitised to at most ``max_bytes`` UTF-8 bytes (and ``max_units`` UTF-16 units),
    or None if not even the placeholder fits."""
    table = _translation_table(options.replacement)
    placeholder = options.placeholder
    units = max_bytes if max_units is None else max_units
    result = _clean(text, table, placeholder)
    byte_budget, unit_budget = max_bytes, units
    while True:
        # One pass is final for ASCII; elsewhere normalisation and stripping can interact, so clean
        # again until nothing changes (this is what makes the function idempotent).
        while not result.isascii() and (again := _clean(result, table, placeholder)) != result:
            result = again
        if utf8_length(result) <= max_bytes and utf16_length(result) <= units:
            return result
        cut = _cut(result, byte_budget, unit_budget)
        if not cut:
            return (
                placeholder if utf8_length(placeholder) <= max_bytes and len(placeholder) <= units else None
            )
        byte_budget, unit_budget = utf8_length(cut) - 1, utf16_length(cut) - 1
        result = _clean(cut, table, placeholder)


def fit_path(
    folders: Sequence[str],
    stem: str,
    suffixes: Sequence[str],
    options: SanitizeOptions = DEFAULT_OPTIONS,
    tag: str = "",
) -> tuple[tuple[str, ...], str] | None:
    """Sanitised ``folders`` and ``stem`` shortened so that ``stem + tag + suffix`` fits in one
    component for every suffix, and the relative path ``folders/stem+tag+suffix`` fits in
    ``options.max_path_length`` (the longest components are shortened first).  None if impossible.
    """
    suffix_bytes = max((utf8_length(s) for s in suffixes), default=0)
    suffix_units = max((utf16_length(s) for s in suffixes), default=0)
    stem_bytes = options.max_component_bytes - utf8_length(tag) - suffix_bytes
    if stem_bytes < 1:
        return None
    fitted_stem = stem if utf8_length(stem) <= stem_bytes else fit_component(stem, options, stem_bytes)
    if fitted_stem is None:
        return None
    components = [*folders, fitted_stem]
    lengths = [utf16_length(c) for c in components]
    fixed = len(folders) + utf16_length(tag) + suffix_units  # separators, the tag and the extension
    while (excess := fixed + sum(lengths) - options.max_path_length) > 0:
        longest = max(range(len(components)), key=lengths.__getitem__)
        runner_up = max((n for i, n in enumerate(lengths) if i != longest), default=0)
        # Cut the longest down to the next longest (so that ties are cut evenly), or by the excess.
        target = max(lengths[longest] - excess, min(runner_up, lengths[longest] - 1))
        if target < 1:
            return None
        max_bytes = stem_bytes if longest == len(components) - 1 else options.max_component_bytes
        shortened = fit_component(components[longest], options, max_bytes, target)
        if shortened is None:
            return None
        components[longest], lengths[longest] = shortened, utf16_length(shortened)
    return tuple(components[:-1]), components[-1]
