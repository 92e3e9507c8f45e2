"""crate-cli analyze end to end, in a subprocess, on real files and a real library file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from audiofactory import encode, write_audio
from clirunner import crate_cli, json_lines

from crate_app.domain.keys import KeyNotation, format_key_code
from crate_app.store import writer
from crate_app.store.library import open_library

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
from analysis_synth import TrackSpec, render  # noqa: E402

TRACKS = [  # (name, spec)
    ("house.mp3", TrackSpec(124.0, 9, True, "house", (0, 3, 4, 5), seconds=20, seed=31)),
    ("trance.flac", TrackSpec(140.0, 7, False, "trance", (0, 4, 5, 3), seconds=20, seed=32)),
    ("techno.m4a", TrackSpec(128.0, 2, True, "techno", (0, 3, 5, 4), seconds=20, seed=33)),
]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cli-analyze")
    music = base / "music"
    music.mkdir()
    for name, spec in TRACKS:
        (music / name).write_bytes(encode(render(spec), 44100, Path(name).suffix[1:]))
    whole = encode(render(TRACKS[1][1]), 44100, "flac")
    (music / "truncated.flac").write_bytes(whole[: len(whole) // 5])
    write_audio(music / "house" / "tagged.ogg", {"title": "Tagged", "genre": "House"}, seconds=3.0)
    library = base / "library.sqlite"
    assert crate_cli("scan", str(music), "--json", library=library).returncode == 0
    return library


def test_analyze_a_query_with_tags_then_the_rest_then_ls_shows_bpm_and_key(scanned: Path) -> None:
    from mutagen.id3 import ID3
    from mutagen.oggvorbis import OggVorbis

    music = scanned.parent / "music"
    library = open_library(scanned, create=False)  # the user has set this one's BPM (locked) already
    writer.correct_bpm(library, [library.track_by_path(str(music / "house" / "tagged.ogg")).id], 170.5)
    library.close()
    # A query first, writing tags (Open Key), in words: the locked BPM is the one written.
    first = crate_cli("analyze", "title:tagged", "--write-tags", "--key-notation", "openkey", library=scanned)
    assert first.returncode == 0, first.stderr
    assert "1 analysed, 0 failed, 0 skipped" in first.stdout
    tags = OggVorbis(music / "house" / "tagged.ogg")
    assert tags["bpm"] == ["170.5"] and tags["initialkey"][0][-1] in "dm"

    # Then what is left, as JSON; a decoding failure is recorded with its reason and the rest goes on.
    result = crate_cli("analyze", "--json", library=scanned)
    assert result.returncode == 0, result.stderr
    summary = json_lines(result.stdout)[-1]
    assert summary | {"seconds": 0} == {
        "analyzed": 3, "failed": 1, "skipped": 1, "timed_out": 0, "tags_written": 0, "seconds": 0,
        "cancelled": False,
    }  # fmt: skip
    assert isinstance(summary["seconds"], float) and summary["seconds"] > 0
    assert "TBPM" not in ID3(music / "house.mp3")  # tags are written only when asked

    tracks = {Path(t["path"]).name: t for t in json_lines(crate_cli("ls", "--json", library=scanned).stdout)}
    for name, spec in TRACKS:
        track = tracks[name]
        assert track["bpm"] == pytest.approx(spec.bpm, abs=0.05)
        assert track["key"] and track["key"][-1] in "AB"  # Camelot by default
        code = next(c for c in range(24) if format_key_code(c, KeyNotation.CAMELOT) == track["key"])
        assert track["key_musical"] == format_key_code(code, KeyNotation.MUSICAL)
    assert tracks["truncated.flac"]["bpm"] is None and tracks["truncated.flac"]["key"] is None

    # Nothing is left, so a second run does nothing (and loads no analysis library).
    again = json_lines(crate_cli("analyze", "--json", library=scanned).stdout)[-1]
    assert (again["analyzed"], again["failed"], again["skipped"]) == (0, 0, 5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--bpm-range", "180-70"), "--bpm-range"),
        (("artist:",), "bad query"),
        (("--workers", "0"), "must be 1"),
    ],
)
def test_analyze_usage_errors_are_one_line(scanned: Path, args: tuple[str, ...], message: str) -> None:
    result = crate_cli("analyze", *args, library=scanned)
    assert (
        result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    )


def stuck_on_3_broken_5(path: str, options) -> object:
    """Runs in an analysis process of the command: stuck in one file, a decoding error in another."""
    import time

    from crate_app.domain.errors import DecodeError
    from crate_app.domain.track import AnalysisResult

    if path == "/music/3.mp3":
        time.sleep(120)  # stuck in a hostile file
    if path == "/music/5.mp3":
        raise DecodeError("not an audio file")
    return AnalysisResult(bpm=128.0, bpm_confidence=1.0, key=1, key_confidence=0.5)


def test_a_file_over_the_time_limit_has_its_process_killed_and_the_rest_goes_on(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    import time

    from crate_app.analysis.processes import ProcessAnalyzer
    from crate_app.cli import analyze as analyze_command
    from crate_app.cli.main import main
    from crate_app.domain.track import ScannedFile, TagInfo
    from crate_app.store import writer
    from crate_app.store.library import open_library

    library_path = tmp_path / "library.sqlite"
    library = open_library(library_path)
    writer.upsert_scanned(library, [ScannedFile(f"/music/{i}.mp3", 1, 1.0, TagInfo()) for i in range(8)])
    library.close()

    class CountingKills(ProcessAnalyzer):
        killed = 0

        def _discard(self, worker, kill: bool = False) -> None:
            CountingKills.killed += 1
            super()._discard(worker, kill)

    def make_analyzer(time_limit: float) -> ProcessAnalyzer:  # real processes, a stand-in analysis
        return CountingKills(time_limit=time_limit, function=stuck_on_3_broken_5, warm=False)

    monkeypatch.setattr(analyze_command, "make_analyzer", make_analyzer)
    started = time.monotonic()
    code = main(["--library", str(library_path), "analyze", "--time-limit", "5", "--workers", "2", "--json"])
    elapsed = time.monotonic() - started
    summary = json_lines(capsys.readouterr().out)[-1]
    assert code == 0 and elapsed < 60  # not the 120 s the stuck file would take
    assert CountingKills.killed == 1, summary  # its process was killed (not only its thread given up on)
    assert (summary["analyzed"], summary["failed"], summary["timed_out"]) == (6, 2, 1)
    library = open_library(library_path)
    errors = {t.path: t.analysis_error for t in library.tracks_by_ids(library.iter_track_ids())}
    library.close()
    assert errors["/music/3.mp3"] == "analysis took longer than 5 s (stopped)"
    assert errors["/music/5.mp3"] == "not an audio file"


def segfault_on_3(path: str, options) -> object:
    """Runs in an analysis process of the command: the decoder segfaults in the middle of one file."""
    import os
    import signal
    import time

    from crate_app.domain.track import AnalysisResult

    if path == "/music/3.mp3":
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGSEGV)
    return AnalysisResult(bpm=128.0, bpm_confidence=1.0, key=1, key_confidence=0.5)


def library_of(path: Path, count: int) -> Path:
    from crate_app.domain.track import ScannedFile, TagInfo
    from crate_app.store import writer
    from crate_app.store.library import open_library

    library = open_library(path)
    writer.upsert_scanned(library, [ScannedFile(f"/music/{i}.mp3", 1, 1.0, TagInfo()) for i in range(count)])
    library.close()
    return path


def test_a_file_that_crashes_its_process_fails_in_words_and_the_rest_goes_on(
    tmp_path: Path, monkeypatch, capsys
):
    from crate_app.analysis.processes import ProcessAnalyzer
    from crate_app.cli import analyze as analyze_command
    from crate_app.cli.main import main
    from crate_app.store.library import open_library

    library_path = library_of(tmp_path / "library.sqlite", 8)
    monkeypatch.setattr(
        analyze_command, "make_analyzer", lambda limit: ProcessAnalyzer(function=segfault_on_3, warm=False)
    )
    code = main(["--library", str(library_path), "analyze", "--workers", "2", "--json"])
    summary = json_lines(capsys.readouterr().out)[-1]
    assert code == 0 and (summary["analyzed"], summary["failed"]) == (7, 1)
    library = open_library(library_path)
    errors = {t.path: t.analysis_error for t in library.tracks_by_ids(library.iter_track_ids())}
    library.close()
    assert (
        errors.pop("/music/3.mp3")
        == "the decoder crashed on this file (the analysis process crashed (SIGSEGV))"
    )
    assert set(errors.values()) == {None}


def child_processes(pid: int) -> list[int]:
    """The processes ``pid`` started, from any of its threads."""
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_command_stuck_in_warm_up_ends_promptly_and_leaves_no_process(tmp_path: Path, how: str) -> None:
    """SIGTERM ends the command within seconds while its analysis processes start (or analyse);
    SIGKILL of the command takes its analysis processes with it."""
    import os
    import signal
    import subprocess
    import time

    import numpy as np
    from test_analysis_processes import process_is_running

    from crate_app.domain.track import ScannedFile, TagInfo
    from crate_app.selftest import write_wav

    # Real work that outlasts the signal however fast the machine: 40 links to a 4-minute recording (the
    # analysis processes start in about a second now, and three missing files were done before it).

    rate = 22050
    noise = np.random.default_rng(4).standard_normal(240 * rate).astype(np.float32) * 0.1
    recording = tmp_path / "music" / "recording.wav"
    recording.parent.mkdir()
    write_wav(recording, noise, rate)
    links = [recording.with_name(f"{i:02d}.wav") for i in range(40)]
    for link in links:
        os.link(recording, link)
    library = open_library(tmp_path / "library.sqlite")
    size = recording.stat().st_size
    writer.upsert_scanned(library, [ScannedFile(str(link), size, 1.0, TagInfo()) for link in links])
    library.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "crate_app.cli.main", "--library", str(tmp_path / "library.sqlite"), "analyze",
    ]  # fmt: skip
    cli = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        children: list[int] = []
        while len(children) < 1 and time.monotonic() < deadline:  # the first process compiles alone
            time.sleep(0.2)
            children = child_processes(cli.pid)
        assert children, "no analysis process started"
        time.sleep(1.0)
        cli.send_signal(getattr(signal, how))
        started = time.monotonic()
        _out, err = cli.communicate(timeout=30)
        assert time.monotonic() - started < 10
        if how == "SIGTERM":
            assert cli.returncode == 130 and "Traceback" not in err, err
        deadline = time.monotonic() + 5
        while any(process_is_running(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(process_is_running(pid) for pid in children)
    finally:
        cli.kill()


def test_analysis_processes_that_cannot_start_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    import os

    library_path = library_of(tmp_path / "library.sqlite", 2)
    broken = tmp_path / "broken" / "av"  # a PyAV that fails to import, first on the processes' path
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text('raise ImportError("this PyAV is broken")\n')
    path = os.pathsep.join(p for p in (str(broken.parent), os.environ.get("PYTHONPATH", "")) if p)
    result = crate_cli("analyze", library=library_path, env={**os.environ, "PYTHONPATH": path})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("crate-cli: error: the analysis process could not start: ImportError")
