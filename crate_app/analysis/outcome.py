"""One file of an analysis batch: its result or the reason it failed, in words, and the tag write-back.

Shared by the window's analysis service and ``crate-cli analyze``.  No Qt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from crate_app.domain.errors import AnalysisTimeout, AnalysisUnavailable, CrateError
from crate_app.domain.keys import KeyNotation
from crate_app.domain.track import AnalysisOptions, AnalysisResult, TrackRecord, display_path

log = logging.getLogger(__name__)

AnalyzeFunction = Callable[[str, AnalysisOptions], AnalysisResult]
StoredTrack = Callable[[], "TrackRecord | None"]  # the library's row of the file, read when asked


def tag_values(result: AnalysisResult, stored: TrackRecord | None) -> tuple[float | None, int | None]:
    """The BPM and key code to write into a file's tags after analysing it: the values the library shows.

    A value the user corrected (locked) is the user's, never the analysis's (which the library keeps
    beside it); a locked "no key" writes no key.  None leaves that tag as it is.
    """
    bpm, key = result.bpm or None, result.key
    if stored is not None and stored.bpm_locked:
        bpm = stored.bpm or None
    if stored is not None and stored.key_locked:
        key = stored.key
    return bpm, key


@dataclass(slots=True)
class FileOutcome:
    track_id: int
    path: str
    result: AnalysisResult | None
    error: str | None = None  # why there is no result
    timed_out: bool = False  # stopped at the time limit
    tag_error: str | None = None  # why BPM and key were not written into the file
    tags_written: bool = False

    @classmethod
    def overran(cls, track_id: int, path: str, limit: float) -> FileOutcome:
        """A file given up on after ``limit`` seconds."""
        return cls(track_id, path, None, f"analysis took longer than {limit:g} s (stopped)", timed_out=True)


def analyse_track(
    track_id: int,
    path: str,
    analyze: AnalyzeFunction,
    options: AnalysisOptions,
    *,
    tag_notation: KeyNotation | None = None,
    stored: StoredTrack = lambda: None,
    still_wanted: Callable[[], bool] = lambda: True,
    quiet: Callable[[], bool] = lambda: False,
) -> FileOutcome:
    """Analyse one file; never raises for the file's sake (one bad file must not stop a batch), only
    ``AnalysisUnavailable`` when analysis cannot go on at all.

    With ``tag_notation``, BPM and key are also written into the file's tags, unless ``still_wanted()``
    says the batch gave up on the file meanwhile: the user's locked values where ``stored()`` (the
    library's row, read just before writing) has them, the analysis's otherwise (see ``tag_values``).
    Unexpected errors are logged unless ``quiet()`` (a cancel that stopped the processes makes them
    expected).
    """
    try:
        result = analyze(path, options)
    except AnalysisTimeout as error:
        return FileOutcome(track_id, path, None, str(error), timed_out=True)
    except AnalysisUnavailable:  # not the file's fault: the batch stops
        raise
    except CrateError as error:  # DecodeError: the file's own problem, in plain words
        return FileOutcome(track_id, path, None, str(error))
    except Exception as error:  # a bug or a library failure on this file must not stop the batch
        if not quiet():
            log.exception("analysis of %s failed", display_path(path))
        return FileOutcome(track_id, path, None, f"analysis failed: {type(error).__name__}: {error}")
    outcome = FileOutcome(track_id, path, result)
    if tag_notation is not None and (result.bpm or result.key is not None) and still_wanted():
        try:
            current = stored()
        except Exception as error:  # the library is busy or gone: write nothing rather than guess
            outcome.tag_error = f"BPM/key not written: the library could not be read ({error})"
            return outcome
        bpm, key = tag_values(result, current)
        if bpm is not None or key is not None:
            outcome.tag_error = _write_tags(path, bpm, key, tag_notation)
            outcome.tags_written = outcome.tag_error is None
    return outcome


def _write_tags(path: str, bpm: float | None, key: int | None, notation: KeyNotation) -> str | None:
    from crate_app.library.tag_writer import write_bpm_key

    try:
        write_bpm_key(path, bpm, key, notation)
    except (CrateError, ValueError) as error:
        return str(error)
    except Exception as error:  # never let a tagging bug stop the batch
        log.exception("writing tags into %s failed", display_path(path))
        return f"{type(error).__name__}: {error}"
    return None
