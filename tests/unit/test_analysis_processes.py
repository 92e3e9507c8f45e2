"""The analysis process engine (no Qt): real spawned processes, killed at the time limit."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from crate_app.analysis.processes import ProcessAnalyzer
from crate_app.domain.errors import AnalysisTimeout, DecodeError
from crate_app.domain.track import AnalysisOptions, AnalysisResult


def stuck_analysis(path: str, options: AnalysisOptions) -> AnalysisResult:
    """Runs in an analysis process: a decoder stuck in a hostile file, a bad file, or a quick answer."""
    if "hostile" in path:
        time.sleep(120)
    if "broken" in path:
        raise DecodeError("not an audio file")
    if "interrupted" in path:
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl+C in the terminal reaches the whole group
        time.sleep(0.2)
    return AnalysisResult(bpm=125.0, bpm_confidence=1.0, key=2, key_confidence=0.5)


def slow_start() -> None:
    time.sleep(1.5)  # as loading librosa does


def test_a_file_over_the_time_limit_has_its_process_killed_and_a_fresh_one_goes_on() -> None:
    analyzer = ProcessAnalyzer(time_limit_grace=0.0, function=stuck_analysis, initializer=slow_start)
    options = AnalysisOptions(timeout_seconds=1.0)
    try:
        # Starting a process (1.5 s here) is not the file's time: the first file is not over its 1 s.
        assert analyzer("/music/fine.mp3", options).bpm == 125.0
        (pool,) = analyzer._all
        process = pool._pool[0]
        started = time.monotonic()
        with pytest.raises(AnalysisTimeout, match=r"took longer than 1 s \(stopped\)"):
            analyzer("/music/hostile.mp3", options)
        assert time.monotonic() - started < 4
        process.join(5)
        assert not process.is_alive()  # really stopped, not left running
        assert analyzer("/music/next.mp3", options).bpm == 125.0  # a fresh process takes over
        with pytest.raises(DecodeError, match="not an audio file") as raised:
            analyzer("/music/broken.mp3", options)  # the file's own error comes back as it is
        assert not isinstance(raised.value, AnalysisTimeout)
        assert analyzer("/music/interrupted.mp3", options).bpm == 125.0  # Ctrl+C does not cut a file off

        # Quitting: close() stops the processes and frees a thread waiting for one at once.
        errors: list[str] = []

        def wait_for_hostile() -> None:
            try:
                analyzer("/hostile.mp3", options)
            except RuntimeError as error:
                errors.append(str(error))

        waiting = threading.Thread(target=wait_for_hostile)
        waiting.start()
        time.sleep(0.5)
        closed_at = time.monotonic()
        analyzer.close()
        waiting.join(5)
        assert not waiting.is_alive() and time.monotonic() - closed_at < 1.0
        assert errors == ["the analysis processes were stopped"]
    finally:
        analyzer.close()


def test_an_explicit_time_limit_replaces_the_decoders_deadline() -> None:
    analyzer = ProcessAnalyzer(time_limit=0.5, function=stuck_analysis, warm=False)
    try:
        analyzer.warm_up(1)
        started = time.monotonic()
        with pytest.raises(AnalysisTimeout, match=r"took longer than 0.5 s"):
            analyzer("/music/hostile.mp3", AnalysisOptions(timeout_seconds=120))
        assert time.monotonic() - started < 3
        assert analyzer.limit_for(AnalysisOptions(timeout_seconds=120)) == 0.5
    finally:
        analyzer.close()
