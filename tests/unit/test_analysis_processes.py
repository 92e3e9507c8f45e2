"""The analysis process engine (no Qt): real spawned processes, killed at the time limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from crate_app.analysis.processes import MAX_DEATHS_IN_A_ROW, ProcessAnalyzer
from crate_app.domain.errors import AnalysisTimeout, AnalysisUnavailable, DecodeError
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
    time.sleep(1.5)  # as loading the analysis libraries on a slow disk does


def test_a_file_over_the_time_limit_has_its_process_killed_and_a_fresh_one_goes_on() -> None:
    analyzer = ProcessAnalyzer(time_limit_grace=0.0, function=stuck_analysis, initializer=slow_start)
    options = AnalysisOptions(timeout_seconds=1.0)
    try:
        # Starting a process (1.5 s here) is not the file's time: the first file is not over its 1 s.
        assert analyzer("/music/fine.mp3", options).bpm == 125.0
        (worker,) = analyzer._all
        process = worker.process
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


def crash_on_some_files(path: str, options: AnalysisOptions) -> AnalysisResult:
    """Runs in an analysis process: a decoder that segfaults in the middle of some files."""
    if "crash" in path:
        time.sleep(0.2)  # in the middle of the file
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(5)
    return AnalysisResult(bpm=125.0, bpm_confidence=1.0, key=2, key_confidence=0.5)


def crash_while_starting() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)  # as a broken native library would while loading


def test_a_process_killed_in_a_file_fails_that_file_in_words_and_deaths_in_a_row_are_bounded() -> None:
    analyzer = ProcessAnalyzer(function=crash_on_some_files, warm=False)
    options = AnalysisOptions()
    try:
        analyzer.warm_up(1)
        assert analyzer("/music/a.mp3", options).bpm == 125.0
        with pytest.raises(
            DecodeError,
            match=r"^the decoder crashed on this file \(the analysis process crashed \(SIGSEGV\)\)$",
        ):
            analyzer("/music/crash.mp3", options)
        assert analyzer("/music/b.mp3", options).bpm == 125.0  # a fresh process took its place
        for n in range(MAX_DEATHS_IN_A_ROW):  # then files that kill their process, one after another
            with pytest.raises(DecodeError, match="the decoder crashed on this file"):
                analyzer(f"/music/crash-{n}.mp3", options)
        with pytest.raises(
            AnalysisUnavailable, match=f"^{MAX_DEATHS_IN_A_ROW} analysis processes in a row died"
        ):
            analyzer("/music/c.mp3", options)  # no more replacements: analysis stops, in words
        assert analyzer.deaths == MAX_DEATHS_IN_A_ROW + 1 and analyzer.process_count == 0
    finally:
        analyzer.close()


def test_a_process_that_crashes_while_starting_is_not_respawned_for_ever() -> None:
    analyzer = ProcessAnalyzer(function=crash_on_some_files, initializer=crash_while_starting)
    try:
        with pytest.raises(
            AnalysisUnavailable, match=r"^the analysis process crashed \(SIGSEGV\) while starting$"
        ):
            analyzer.warm_up(2)
        with pytest.raises(AnalysisUnavailable):
            analyzer("/music/a.mp3", AnalysisOptions())  # and later calls say so at once
        assert analyzer.deaths == 1 and analyzer.process_count == 0
    finally:
        analyzer.close()


PARENT_SCRIPT = """
import sys, time
from crate_app.analysis.processes import ProcessAnalyzer
from test_analysis_processes import crash_on_some_files
if __name__ == "__main__":
    analyzer = ProcessAnalyzer(function=crash_on_some_files, warm=False)
    analyzer.warm_up(2)
    print(*analyzer.process_ids(), flush=True)
    time.sleep(600)
"""


def process_is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an exited child nobody has reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_analysis_processes_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT_SCRIPT)
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here.parents[1]), str(here)])}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        children = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(children) == 2 and all(process_is_running(pid) for pid in children)
        parent.kill()  # SIGKILL: no clean-up runs in the parent
        parent.wait(10)
        deadline = time.monotonic() + 5
        while any(process_is_running(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(process_is_running(pid) for pid in children)
    finally:
        parent.kill()
