"""The key crosswalk between Crate's key code and each program's notation (EXCHANGE-FORMATS §2.3)."""

from __future__ import annotations

from crate_app.domain.keys import Key, parse_key

# Engine DJ's key integer for each (pitch class, minor), from libdjinterop's musical_key.hpp order.
_ENGINE_MAJOR = (0, 14, 4, 18, 8, 22, 12, 2, 16, 6, 20, 10)  # C, C#, D, ..., B
_ENGINE_MINOR = (19, 9, 23, 13, 3, 17, 7, 21, 11, 1, 15, 5)  # Cm, C#m, ..., Bm
_FROM_ENGINE = {value: Key(pc, False) for pc, value in enumerate(_ENGINE_MAJOR)} | {
    value: Key(pc, True) for pc, value in enumerate(_ENGINE_MINOR)
}


def rekordbox_tonality(code: int | None) -> str:
    """Classic notation for the XML's Tonality: ``Am``, ``F#``, ``Ebm``; empty without a key."""
    if code is None:
        return ""
    if 0 <= code < len(_TONALITY):
        return _TONALITY[code]
    return Key.from_code(code).musical()


# The notations of the 24 key codes, worked out once (a million tracks ask for them).
_TONALITY = tuple(Key.from_code(code).musical() for code in range(24))
_TRAKTOR_TEXT = tuple(Key.from_code(code).open_key() for code in range(24))
_TRAKTOR_VALUE = tuple(Key.from_code(code).pitch_class + 12 * Key.from_code(code).minor for code in range(24))


def traktor_value(code: int) -> int:
    """Traktor's MUSICAL_KEY VALUE: tonic pitch class (C = 0), plus 12 for minor."""
    if 0 <= code < len(_TRAKTOR_VALUE):
        return _TRAKTOR_VALUE[code]
    key = Key.from_code(code)
    return key.pitch_class + (12 if key.minor else 0)


def traktor_text(code: int) -> str:
    """Traktor's INFO KEY display text (Open Key, as Traktor writes it)."""
    if 0 <= code < len(_TRAKTOR_TEXT):
        return _TRAKTOR_TEXT[code]
    return Key.from_code(code).open_key()


def from_traktor_value(value: int) -> int | None:
    if not 0 <= value <= 23:
        return None
    return Key(value % 12, value >= 12).code


def engine_value(code: int) -> int:
    key = Key.from_code(code)
    return (_ENGINE_MINOR if key.minor else _ENGINE_MAJOR)[key.pitch_class]


def from_engine_value(value: int) -> int | None:
    key = _FROM_ENGINE.get(value)
    return key.code if key else None


_PARSED: dict[str, int | None] = {}


def code_from_text(text: str | None) -> int | None:
    """Any notation another program wrote (classic, Camelot, Open Key) -> key code."""
    if not text:
        return None
    try:
        return _PARSED[text]
    except KeyError:
        pass
    key = parse_key(text)
    code = key.code if key else None
    if len(_PARSED) < 10_000:
        _PARSED[text] = code
    return code
