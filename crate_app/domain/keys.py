"""Musical keys and the notations DJs read them in.

A key is stored canonically as a small integer, the *key code*: ``(camelot_number - 1) * 2`` for the
minor ("A") keys and ``+ 1`` for the major ("B") keys, so that 0 = 1A (A-flat minor), 1 = 1B
(B major), ..., 15 = 8B (C major), 23 = 12B (E major).  Ordering by the code therefore gives the
order DJs expect on the Camelot wheel (1A, 1B, 2A, 2B, ...).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

PITCH_NAMES_SHARP = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# The spelling DJ software shows: flats for the black keys except F#, which DJs spell with a sharp.
MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")

_PITCH_CLASS = {
    "C": 0, "B#": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4, "F": 5, "E#": 5,
    "F#": 6, "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11, "CB": 11,
}  # fmt: skip


class KeyNotation(enum.StrEnum):
    """How keys are shown to the user."""

    CAMELOT = "camelot"
    OPEN_KEY = "openkey"
    MUSICAL = "musical"


@dataclass(frozen=True, slots=True)
class Key:
    """A musical key: tonic pitch class (0 = C) and mode."""

    pitch_class: int
    minor: bool

    def __post_init__(self) -> None:
        if not 0 <= self.pitch_class <= 11:
            raise ValueError(f"pitch class out of range: {self.pitch_class}")

    # Camelot: C major is 8B, A minor is 8A; each fifth up adds one.
    @property
    def camelot_number(self) -> int:
        tonic_of_major = (self.pitch_class + 3) % 12 if self.minor else self.pitch_class
        return (tonic_of_major * 7 % 12 + 7) % 12 + 1

    @property
    def code(self) -> int:
        """The canonical integer stored in the library (see module docstring)."""
        return (self.camelot_number - 1) * 2 + (0 if self.minor else 1)

    @classmethod
    def from_code(cls, code: int) -> Key:
        if not 0 <= code <= 23:
            raise ValueError(f"key code out of range: {code}")
        number, is_major = divmod(code, 2)
        # Invert camelot_number: number = tonic_of_major * 7 + 7 (mod 12)  ->  tonic = (number - 7) * 7
        tonic_of_major = ((number - 7) * 7) % 12
        if is_major:
            return cls(tonic_of_major, minor=False)
        return cls((tonic_of_major - 3) % 12, minor=True)

    def camelot(self) -> str:
        return f"{self.camelot_number}{'A' if self.minor else 'B'}"

    def open_key(self) -> str:
        # Open Key puts C major / A minor at 1: it is Camelot shifted by 7.
        return f"{(self.camelot_number + 4) % 12 + 1}{'m' if self.minor else 'd'}"

    def musical(self, long: bool = False) -> str:
        if self.minor:
            name = MINOR_NAMES[self.pitch_class]
            return f"{name} minor" if long else f"{name}m"
        name = MAJOR_NAMES[self.pitch_class]
        return f"{name} major" if long else name

    def format(self, notation: KeyNotation) -> str:
        if notation is KeyNotation.CAMELOT:
            return self.camelot()
        if notation is KeyNotation.OPEN_KEY:
            return self.open_key()
        return self.musical()

    def relative(self) -> Key:
        return (
            Key((self.pitch_class + 3) % 12, False) if self.minor else Key((self.pitch_class - 3) % 12, True)
        )


_CAMELOT_RE = re.compile(r"^\s*0?(1[0-2]|[1-9])\s*([AB])\s*$", re.IGNORECASE)
_OPEN_KEY_RE = re.compile(r"^\s*0?(1[0-2]|[1-9])\s*([DM])\s*$", re.IGNORECASE)
_MUSICAL_RE = re.compile(
    r"^\s*([A-G])\s*([#♯b♭]?)\s*(m|min|minor|maj|major|dur|moll)?\s*$",
    re.IGNORECASE,
)


def parse_key(text: str | None) -> Key | None:
    """Read a key in any notation DJs and their apps write into tags.

    Accepts Camelot (``8A``), Open Key (``1m``, ``1d``), musical names (``Am``, ``A minor``,
    ``F#``, ``Ebm``, ``Bbmaj``) and ID3's TKEY form.  Returns ``None`` for anything else
    (empty values, ``o`` for off-key, free text).
    """
    if not text:
        return None
    text = text.strip().replace("\x00", "")
    if not text or len(text) > 16:
        return None
    if m := _CAMELOT_RE.match(text):
        number, letter = int(m.group(1)), m.group(2).upper()
        return Key.from_code((number - 1) * 2 + (0 if letter == "A" else 1))
    if m := _OPEN_KEY_RE.match(text):
        # A lone "m" after a letter would be musical ("Dm"), but the regex needs a digit first.
        camelot_number = (int(m.group(1)) + 6) % 12 + 1
        return Key.from_code((camelot_number - 1) * 2 + (0 if m.group(2).lower() == "m" else 1))
    if m := _MUSICAL_RE.match(text):
        letter, accidental, mode = m.group(1), m.group(2), m.group(3) or ""
        # Case matters for a bare letter in some taggers ("a" = A minor); we follow the common
        # reading of an explicit suffix and treat a bare letter as major.
        accidental = {"♯": "#", "♭": "B", "b": "B"}.get(accidental, accidental)
        pitch = _PITCH_CLASS.get(letter.upper() + accidental.upper())
        if pitch is None:
            return None
        minor = mode.lower() in ("m", "min", "minor", "moll")
        return Key(pitch, minor)
    return None


def format_key_code(code: int | None, notation: KeyNotation = KeyNotation.CAMELOT) -> str:
    """Format a stored key code for display; empty string when there is no key."""
    if code is None:
        return ""
    return Key.from_code(code).format(notation)


def all_keys() -> list[Key]:
    """The 24 keys in Camelot order (1A, 1B, 2A, ...)."""
    return [Key.from_code(code) for code in range(24)]
