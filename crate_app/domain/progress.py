"""Progress of long work (scans, analysis, renames): counts, rate, ETA, and throttled reporting.

Every long job in Crate reports through one ``Progress`` record, so the status bar, the progress
panel and the command line show the same figures the same way.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of a job: ``total`` is None while it is still being counted."""

    done: int
    total: int | None
    rate: float  # items per second, over the last few seconds
    eta: float | None  # seconds left, None when unknown
    current: str = ""  # what is being worked on (a path, a track name)
    failed: int = 0

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    def describe(self) -> str:
        """One line for people: '1,234 / 50,000 files · 812/s · 1 min left'."""
        count = f"{self.done:,}" if self.total is None else f"{self.done:,} / {self.total:,}"
        parts = [count]
        if self.rate > 0:
            parts.append(f"{self.rate:,.0f}/s" if self.rate >= 10 else f"{self.rate:.1f}/s")
        if self.eta is not None:
            parts.append(f"{format_duration(self.eta)} left")
        if self.failed:
            parts.append(f"{self.failed:,} failed")
        return " · ".join(parts)


def format_duration(seconds: float) -> str:
    """'42 s', '3 min', '1 h 05 min': rounded the way people read an ETA."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


def format_position(seconds: float) -> str:
    """A position in a track: 0:42, 12:05, 1:02:03."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressMeter:
    """Turns counts into ``Progress`` snapshots with a moving-window rate and an ETA.

    ``update()`` is cheap and may be called per item; ``report`` is called at most every
    ``interval`` seconds (and always for the final snapshot via ``finish()``).
    """

    def __init__(
        self,
        total: int | None = None,
        report: Callable[[Progress], None] | None = None,
        interval: float = 0.1,
        window: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.current = ""
        self._report = report
        self._interval = interval
        self._window = window
        self._clock = clock
        self._started = clock()
        self._last_report = float("-inf")
        self._samples: deque[tuple[float, int]] = deque([(self._started, 0)])

    def update(
        self,
        done: int | None = None,
        *,
        advance: int = 0,
        failed: int = 0,
        current: str | None = None,
        total: int | None = None,
    ) -> None:
        """Set or advance the count; report if the interval has passed."""
        self.done = done if done is not None else self.done + advance
        self.failed += failed
        if current is not None:
            self.current = current
        if total is not None:
            self.total = total
        now = self._clock()
        if now - self._last_report >= self._interval:
            self._last_report = now
            self._emit(now)

    def finish(self) -> Progress:
        snapshot = self.snapshot()
        if self._report is not None:
            self._report(snapshot)
        return snapshot

    def snapshot(self) -> Progress:
        now = self._clock()
        return self._make(now, self._rate(now))

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def _emit(self, now: float) -> None:
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window:
            self._samples.popleft()
        if self._report is not None:
            self._report(self._make(now, self._rate(now)))

    def _rate(self, now: float) -> float:
        first_time, first_done = self._samples[0]
        span = now - first_time
        if span <= 0:
            return 0.0
        return max(0.0, (self.done - first_done) / span)

    def _make(self, now: float, rate: float) -> Progress:
        eta = None
        if self.total is not None and rate > 0:
            eta = max(0.0, (self.total - self.done) / rate)
        return Progress(self.done, self.total, rate, eta, self.current, self.failed)
