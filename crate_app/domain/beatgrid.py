"""Beat-grid arithmetic for the player: a constant grid from a BPM and the time of its first beat.

Pure functions: snapping a position to the nearest beat, jumping a number of beats, listing the beats
(and which of them start a bar) in a time range for drawing, and tap tempo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BEATS_PER_BAR = 4
TAP_RESET_SECONDS = 2.0  # a pause longer than this starts a new tap sequence
TAP_WINDOW = 16  # the last taps that count


@dataclass(frozen=True, slots=True)
class BeatGrid:
    """``bpm`` beats per minute with a beat at ``first_beat`` seconds (and a bar starting at
    ``first_downbeat`` when known, else at the first beat)."""

    bpm: float
    first_beat: float = 0.0
    first_downbeat: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bpm) and self.bpm > 0):
            raise ValueError(f"a beat grid needs a BPM > 0, not {self.bpm}")

    @property
    def period(self) -> float:
        return 60.0 / self.bpm

    def snap(self, position: float) -> float:
        """The beat nearest ``position`` (never before 0)."""
        index = round((position - self.first_beat) / self.period)
        snapped = self.first_beat + index * self.period
        while snapped < 0:
            snapped += self.period
        return snapped

    def jump(self, position: float, beats: int) -> float:
        """``position`` moved by ``beats`` beats, keeping its offset from the grid (not below 0)."""
        return max(0.0, position + beats * self.period)

    def beats_between(self, start: float, end: float) -> list[tuple[float, bool]]:
        """(time, starts a bar) of every beat in [start, end]."""
        if end < start:
            return []
        first_index = math.ceil((start - self.first_beat) / self.period - 1e-9)
        last_index = math.floor((end - self.first_beat) / self.period + 1e-9)
        anchor = self.first_downbeat if self.first_downbeat is not None else self.first_beat
        anchor_index = round((anchor - self.first_beat) / self.period)
        return [
            (self.first_beat + i * self.period, (i - anchor_index) % BEATS_PER_BAR == 0)
            for i in range(first_index, last_index + 1)
        ]


def tap_tempo(taps: Sequence[float]) -> float | None:
    """The tempo of a sequence of taps (times in seconds, ascending), or None with fewer than two.

    Only the run of taps after the last pause longer than TAP_RESET_SECONDS counts, at most the last
    TAP_WINDOW of them; the period is a least-squares line through the tap times (so one early or late
    tap moves it little, unlike the mean of the intervals).
    """
    run: list[float] = []
    for tap in taps:
        if run and not 0 < tap - run[-1] <= TAP_RESET_SECONDS:
            run = []
        run.append(tap)
    run = run[-TAP_WINDOW:]
    if len(run) < 2:
        return None
    count = len(run)
    mean_index = (count - 1) / 2
    mean_time = sum(run) / count
    numerator = sum((i - mean_index) * (t - mean_time) for i, t in enumerate(run))
    denominator = sum((i - mean_index) ** 2 for i in range(count))
    period = numerator / denominator
    return 60.0 / period if period > 0 else None
