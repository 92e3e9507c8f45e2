"""Cue points and loops, as DJs set them: hot cues (numbered pads), memory cues and loops.

``CuePoint`` is the one shape cues travel in between the store, the player and the exchange formats.
Positions are seconds from the start of the decoded audio.  Colours are ``#rrggbb`` (or None for the
default); hot cue numbers count from 0 (pad A = 0 ... pad H = 7).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

CueKind = Literal["hot", "memory", "loop"]
CUE_KINDS: tuple[CueKind, ...] = ("hot", "memory", "loop")
HOT_CUE_COUNT = 8
HOT_CUE_LETTERS = "ABCDEFGH"
_HEX_COLOR = re.compile(r"^#[0-9a-f]{6}$")


@dataclass(frozen=True, slots=True)
class CuePoint:
    """One cue: ``kind`` hot / memory / loop; ``number`` the pad of a hot cue (0-7) or a loop's slot
    (None for memory cues and unnumbered loops); ``start`` and, for loops, ``end`` in seconds."""

    kind: CueKind
    number: int | None
    start: float
    end: float | None = None
    name: str = ""
    color: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in CUE_KINDS:
            raise ValueError(f"cue kind must be one of {', '.join(CUE_KINDS)}, not {self.kind!r}")
        if not (math.isfinite(self.start) and self.start >= 0):
            raise ValueError(f"cue start must be a time >= 0 s, not {self.start!r}")
        if self.number is not None and self.number < 0:
            raise ValueError(f"cue number must be >= 0, not {self.number}")
        if self.kind == "loop":
            if self.end is None or not math.isfinite(self.end) or self.end <= self.start:
                raise ValueError(f"a loop needs an end after its start ({self.start} s), not {self.end!r}")
        elif self.end is not None:
            raise ValueError(f"only loops have an end; a {self.kind} cue has none")
        if self.color is not None and not _HEX_COLOR.match(self.color):
            raise ValueError(f"cue colour must be #rrggbb in lower case, not {self.color!r}")

    @property
    def label(self) -> str:
        """How the cue is named on screen: pad letter for hot cues (A-H), else its name or kind."""
        if self.kind == "hot" and self.number is not None and self.number < len(HOT_CUE_LETTERS):
            return HOT_CUE_LETTERS[self.number] + (f" {self.name}" if self.name else "")
        return self.name or ("Loop" if self.kind == "loop" else "Memory")


def normalise_color(text: str | None) -> str | None:
    """``#RRGGBB``/``rrggbb`` in any case to ``#rrggbb``; None or '' to None; ValueError otherwise."""
    if not text:
        return None
    value = text.strip().lower()
    if not value.startswith("#"):
        value = "#" + value
    if not _HEX_COLOR.match(value):
        raise ValueError(f"not a colour: {text!r} (expected #rrggbb)")
    return value


def sorted_cues(cues: list[CuePoint]) -> list[CuePoint]:
    """Cues in the order they are stored and shown: by start, hot cues before memory cues before loops."""
    return sorted(
        cues, key=lambda c: (c.start, CUE_KINDS.index(c.kind), c.number if c.number is not None else -1)
    )


def with_hot_cue(
    cues: list[CuePoint], number: int, start: float, *, name: str = "", color: str | None = None
) -> list[CuePoint]:
    """``cues`` with hot cue ``number`` set to ``start`` (replacing that pad's previous cue)."""
    if not 0 <= number < HOT_CUE_COUNT:
        raise ValueError(f"hot cue number must be 0-{HOT_CUE_COUNT - 1}, not {number}")
    kept = [c for c in cues if not (c.kind == "hot" and c.number == number)]
    return sorted_cues([*kept, CuePoint("hot", number, start, None, name, color)])
