"""What every ``crate-cli`` command shares: opening the library, errors, JSON and progress output."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from crate_app.domain.errors import CrateError
from crate_app.domain.progress import Progress
from crate_app.paths import default_library_path
from crate_app.store import journal
from crate_app.store.library import Library, open_library


class CliError(CrateError):
    """A user error: printed as one line, exit code 2."""


def library_path(args: argparse.Namespace) -> Path:
    return Path(args.library) if args.library else default_library_path()


def open_from_args(args: argparse.Namespace, *, create: bool) -> Library:
    """The library named by --library (or the default); raises LibraryError when unusable.

    Tells the user (on stderr) about rename batches that a crash or a pause left unfinished.
    """
    library = open_library(library_path(args), create=create)
    if getattr(args, "command", None) != "rename":
        notice = unfinished_notice(library)
        if notice:
            print(f"crate-cli: {notice}", file=sys.stderr)
    return library


def print_json(value: object, stream: TextIO | None = None) -> None:
    """One JSON object on one line (non-ASCII kept as it is)."""
    stream = stream or sys.stdout
    stream.write(json.dumps(value, ensure_ascii=False) + "\n")


class ProgressLine:
    """A single, updating progress line on a terminal; silent when the stream is not a terminal."""

    def __init__(self, stream: TextIO | None = None, label: str = "") -> None:
        self.stream = stream or sys.stderr
        self.label = label
        self.enabled = self.stream.isatty()
        self._shown = False

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        width = shutil.get_terminal_size((100, 20)).columns - 1
        line = f"{self.label}{progress.describe()}"
        if progress.current:
            line += f" · {progress.current}"
        if len(line) > width:
            line = line[: max(0, width - 1)] + "…"
        self.stream.write("\r" + line.ljust(width))
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r" + " " * width + "\r")
            self.stream.flush()
            self._shown = False


def unfinished_notice(library: Library) -> str | None:
    """A line telling the user about batches that were interrupted, or None."""
    unfinished = journal.unfinished_batches(library)
    if not unfinished:
        return None
    parts = [f"batch {b.id} ({b.pending:,} of {b.total:,} steps left)" for b in unfinished]
    return (
        f"unfinished rename: {', '.join(parts)}; finish with 'crate-cli rename --resume' "
        f"or reverse with 'crate-cli rename --undo {unfinished[-1].id}'"
    )


@contextmanager
def stop_on_interrupt() -> Iterator[threading.Event]:
    """An event Ctrl-C (or SIGTERM, as at shutdown) sets, for a long command to stop at its next safe
    point; a second one interrupts at once.  Outside the main thread (no signal handlers there) the
    event is only returned."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def interrupted(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    handled = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {sig: signal.signal(sig, interrupted) for sig in handled}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than ``minimum``, with a one-line error otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more")
        return value

    return parse
