"""The analysis service on real files and a real library: results land in the table in place, failures
are recorded with their reason, pause/resume/cancel, the per-file time limit, continuing what is left,
tag write-back."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from audiofactory import encode, write_audio

from crate_app.analysis import analyze_file
from crate_app.domain.keys import Key, KeyNotation, format_key_code
from crate_app.domain.progress import Progress
from crate_app.domain.track import AnalysisOptions, AnalysisResult, ScannedFile, TagInfo
from crate_app.gui.track_model import COLUMN_NAMES, TrackTableModel
from crate_app.library.scanner import scan_paths
from crate_app.services.analysis_service import AnalysisService, AnalysisSummary
from crate_app.store import writer
from crate_app.store.view import SortOrder

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
from analysis_synth import TrackSpec, render  # noqa: E402

TRACKS = [  # file name, spec: short real music-like tracks with a known tempo and key
    ("a house.mp3", TrackSpec(124.0, 9, True, "house", (0, 3, 4, 5), seconds=20, seed=21)),  # A minor
    ("b trance.flac", TrackSpec(140.0, 7, False, "trance", (0, 4, 5, 3), seconds=20, seed=22)),  # G major
    ("c techno.m4a", TrackSpec(128.0, 0, True, "techno", (0, 3, 5, 4), seconds=20, seed=23)),  # C minor
]
BPM_COLUMN = COLUMN_NAMES.index("bpm")
KEY_COLUMN = COLUMN_NAMES.index("key")


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("music")
    for name, spec in TRACKS:
        (folder / name).write_bytes(encode(render(spec), 44100, Path(name).suffix[1:]))
    # Tags read fine (so the scan marks it ok) but the audio stops early: decoding must fail in words.
    whole = encode(render(TRACKS[1][1]), 44100, "flac")
    (folder / "d truncated.flac").write_bytes(whole[: len(whole) // 5])
    return folder


def fake_tracks(library, count: int) -> list[int]:
    """Library rows for files that need not exist (the tests that use them fake the analysis)."""
    files = [
        ScannedFile(f"/music/{i:03d}.mp3", 1000, 1.0, TagInfo(format="mp3", title=f"{i}"))
        for i in range(count)
    ]
    writer.upsert_scanned(library, files)
    return list(library.iter_track_ids())


def result_for(path: str) -> AnalysisResult:
    return AnalysisResult(bpm=120.0 + len(path) % 10, bpm_confidence=0.9, key=4, key_confidence=0.5)


def no_warm_up() -> None:
    pass


@pytest.fixture
def make_service(qtbot):
    services: list[AnalysisService] = []

    def make(library, **kwargs) -> AnalysisService:
        kwargs.setdefault("warm_up", no_warm_up)  # the analysis libraries are not needed by fakes
        service = AnalysisService(library, workers=2, **kwargs)
        services.append(service)
        return service

    yield make
    for service in services:
        assert service.shutdown(10_000)


def run_batch(qtbot, service: AnalysisService, start, timeout: int = 60_000) -> AnalysisSummary:
    with qtbot.waitSignal(service.finished, timeout=timeout) as finished:
        start()
    qtbot.waitUntil(lambda: not service.is_running, timeout=5000)
    return finished.args[0]


def test_real_files_are_analysed_and_their_cells_change_in_place(qtbot, make_service, library, music) -> None:
    scan_paths(library, [str(music)], workers=0)
    model = TrackTableModel(library, SortOrder("id"))
    qtbot.waitUntil(lambda: model.rowCount() == 4 and not model.is_loading, timeout=10_000)
    assert [model.index(row, BPM_COLUMN).data() for row in range(4)] == ["", "", "", ""]
    service = make_service(library, warm_up=None)  # the real warm-up
    service.tracks_saved.connect(model.refresh_tracks)
    progress: list[Progress] = []
    service.progress.connect(progress.append)
    changed: list[int] = []
    model.dataChanged.connect(lambda first, last: changed.extend(range(first.row(), last.row() + 1)))
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))

    summary = run_batch(qtbot, service, service.analyze_query, timeout=240_000)

    assert (summary.analyzed, summary.failed, summary.total, summary.cancelled) == (3, 1, 4, False)
    assert sorted(set(changed)) == [0, 1, 2, 3] and not resets  # updated in place, no reset
    specs = {name: spec for name, spec in TRACKS}
    for row in range(4):
        track = model.track_at(row)
        name = Path(track.path).name
        if name in specs:  # the cells show what the core finds for the file, in the chosen notation
            expected = analyze_file(track.path)
            assert track.bpm == expected.bpm == pytest.approx(specs[name].bpm, abs=0.05)
            assert model.index(row, BPM_COLUMN).data() == f"{specs[name].bpm:.1f}"
            assert track.key == expected.key is not None
            assert model.index(row, KEY_COLUMN).data() == format_key_code(expected.key, KeyNotation.CAMELOT)
    broken = library.track_by_path(str(music / "d truncated.flac"))
    assert broken.analyzed_at is None and "truncated" in broken.analysis_error  # the reason, in words
    assert progress[-1].done == 4 and progress[-1].total == 4 and progress[-1].failed == 1
    assert len(progress) <= 12 * summary.seconds + 5  # throttled to ~10 a second
    assert library.ids_to_analyze() == []  # nothing left; the failure is not retried unless forced
    model.shutdown()


def test_pause_resume_and_cancel_then_continue_with_what_is_left(qtbot, make_service, library) -> None:
    ids = fake_tracks(library, 60)

    def slow(path: str, options: AnalysisOptions) -> AnalysisResult:
        time.sleep(0.03)
        return result_for(path)

    service = make_service(library, analyze=slow)
    saved: list[int] = []
    service.tracks_saved.connect(saved.extend)
    service.analyze_query()
    qtbot.waitUntil(lambda: len(saved) >= 4, timeout=10_000)
    service.pause()
    assert service.is_paused
    qtbot.wait(400)  # files already started finish and are written within a second
    paused_at = len(library.ids_to_analyze())
    qtbot.wait(600)
    assert len(library.ids_to_analyze()) == paused_at  # nothing moves while paused
    service.resume()
    qtbot.waitUntil(lambda: len(library.ids_to_analyze()) < paused_at - 4, timeout=10_000)
    with qtbot.waitSignal(service.finished, timeout=10_000) as finished:
        service.cancel()
    summary: AnalysisSummary = finished.args[0]
    assert summary.cancelled and 0 < summary.analyzed < 60
    left = library.ids_to_analyze()
    assert len(left) == 60 - summary.analyzed and set(left) < set(ids)

    # Starting again (as after quitting mid-batch) takes on exactly what is left.
    again = run_batch(qtbot, service, service.analyze_query)
    assert (again.total, again.analyzed, again.cancelled) == (len(left), len(left), False)
    assert library.ids_to_analyze() == [] and library.stats()["analyzed"] == 60


def test_a_failing_file_is_recorded_and_the_batch_goes_on(qtbot, make_service, library) -> None:
    fake_tracks(library, 6)

    def crashes_on_002(path: str, options: AnalysisOptions) -> AnalysisResult:
        if path.endswith("002.mp3"):
            raise ZeroDivisionError("float division by zero")
        return result_for(path)

    service = make_service(library, analyze=crashes_on_002)
    summary = run_batch(qtbot, service, service.analyze_query)
    assert (summary.analyzed, summary.failed) == (5, 1)
    failed = library.track_by_path("/music/002.mp3")
    assert failed.analysis_error == "analysis failed: ZeroDivisionError: float division by zero"


def test_a_file_over_the_time_limit_is_failed_and_the_batch_goes_on(qtbot, make_service, library) -> None:
    fake_tracks(library, 8)
    release = threading.Event()

    def hangs_on_003(path: str, options: AnalysisOptions) -> AnalysisResult:
        if path.endswith("003.mp3"):
            release.wait(30)  # a decoder stuck in a hostile file
        return result_for(path)

    service = make_service(library, analyze=hangs_on_003)
    service.time_limit = 0.5
    started = time.monotonic()
    summary = run_batch(qtbot, service, service.analyze_query)
    try:
        assert time.monotonic() - started < 5
        assert (summary.analyzed, summary.failed, summary.timed_out) == (7, 1, 1)
        assert (
            library.track_by_path("/music/003.mp3").analysis_error
            == "analysis took longer than 0.5 s (stopped)"
        )
        assert library.ids_to_analyze() == []
        assert service.stuck_workers() == 1
    finally:
        release.set()  # let the abandoned thread end; its late result is dropped
    qtbot.waitUntil(lambda: service.stuck_workers() == 0, timeout=5000)
    assert library.track_by_path("/music/003.mp3").analyzed_at is None


def test_requests_during_a_batch_join_it_and_a_selection_is_analysed_again(
    qtbot, make_service, library
) -> None:
    ids = fake_tracks(library, 10)
    calls: list[str] = []

    def counting(path: str, options: AnalysisOptions) -> AnalysisResult:
        calls.append(path)
        time.sleep(0.01)
        return result_for(path)

    service = make_service(library, analyze=counting)
    run_batch(qtbot, service, lambda: service.analyze_ids(ids[:3]))
    assert len(calls) == 3
    calls.clear()

    def both() -> None:
        service.analyze_query()  # the 7 not analysed yet
        service.analyze_ids(ids[:2])  # forced: analysed again, once
        service.analyze_ids(ids[5:7])  # already in the batch

    summary = run_batch(qtbot, service, both)
    assert summary.total == 9 and len(calls) == 9 and len(set(calls)) == 9


def test_warm_up_comes_first_and_says_so(qtbot, make_service, library) -> None:
    fake_tracks(library, 2)
    order: list[str] = []

    def warm() -> None:
        time.sleep(0.3)
        order.append("warm")

    def analyse(path: str, options: AnalysisOptions) -> AnalysisResult:
        order.append("analyse")
        return result_for(path)

    service = make_service(library, warm_up=warm, analyze=analyse)
    texts: list[str] = []
    service.warm_up_changed.connect(texts.append)
    run_batch(qtbot, service, service.analyze_query)
    assert order == ["warm", "analyse", "analyse"]
    assert texts[0].startswith("Preparing analysis") and texts[-1] == ""
    assert service.is_ready


def test_a_broken_analysis_library_fails_the_batch_without_marking_files(
    qtbot, make_service, library
) -> None:
    fake_tracks(library, 2)

    def broken() -> None:
        raise ImportError("No module named 'av'")

    service = make_service(library, warm_up=broken)
    finished: list[object] = []
    service.finished.connect(finished.append)
    service.analyze_query()
    qtbot.waitUntil(lambda: service.warm_up_failed and not service.is_running, timeout=10_000)
    assert service.warm_up_text() == "Analysis could not start: No module named 'av'"
    assert service.has_held_requests and not finished  # the request waits for a Retry
    assert len(library.ids_to_analyze()) == 2


def test_tags_are_written_back_when_enabled(qtbot, make_service, library, tmp_path) -> None:
    from mutagen.flac import FLAC
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4

    music = tmp_path / "music"
    for name in ("one.mp3", "two.flac", "three.m4a", "four.ogg"):
        write_audio(music / name, {"title": name}, seconds=2.0)
    scan_paths(library, [str(music)], workers=0)

    def fixed(path: str, options: AnalysisOptions) -> AnalysisResult:
        return AnalysisResult(bpm=126.5, bpm_confidence=0.9, key=Key(9, True).code, key_confidence=0.6)

    service = make_service(library, analyze=fixed)
    run_batch(qtbot, service, service.analyze_query)  # off by default: files untouched
    assert "TBPM" not in ID3(music / "one.mp3")

    service.write_tags = True
    service.tag_notation = KeyNotation.CAMELOT
    summary = run_batch(qtbot, service, lambda: service.analyze_query(force=True))
    assert (summary.analyzed, summary.tags_written, summary.tag_errors) == (4, 4, ())
    id3 = ID3(music / "one.mp3")
    assert id3["TBPM"].text == ["126.5"] and id3["TKEY"].text == ["8A"]
    flac = FLAC(music / "two.flac")
    assert flac["BPM"] == ["126.5"] and flac["INITIALKEY"] == ["8A"]
    mp4 = MP4(music / "three.m4a")
    assert mp4["tmpo"] == [126] or mp4["tmpo"] == [127]
    assert bytes(mp4["----:com.apple.iTunes:initialkey"][0]) == b"8A"
    assert library.track_by_path(str(music / "three.m4a")).bpm == 126.5  # the exact value stays in the DB


def test_write_back_after_reanalysis_keeps_the_users_locked_values(
    qtbot, make_service, library, tmp_path
) -> None:
    from mutagen.flac import FLAC
    from mutagen.id3 import ID3

    music = tmp_path / "music"
    for name in ("dnb.mp3", "dnb.flac", "house.flac"):
        write_audio(music / name, {"title": name}, seconds=2.0)
    scan_paths(library, [str(music)], workers=0)
    mp3, flac = (library.track_by_path(str(music / name)) for name in ("dnb.mp3", "dnb.flac"))
    half_time = AnalysisResult(bpm=87.0, bpm_confidence=0.6, key=Key(9, True).code, key_confidence=0.5)
    service = make_service(library, analyze=lambda path, options: half_time)
    service.write_tags = True
    service.tag_notation = KeyNotation.CAMELOT
    run_batch(qtbot, service, service.analyze_query)
    writer.correct_bpm(library, [mp3.id, flac.id], 174.0)  # the user fixes the octave, and the key of one
    writer.correct_key(library, [flac.id], Key(2, False).code)  # D major, 10B
    writer.correct_key(library, [mp3.id], None)  # "no key", locked: the key tag is left alone

    summary = run_batch(qtbot, service, lambda: service.analyze_query(force=True))  # re-analysis
    assert (summary.analyzed, summary.tags_written, summary.tag_errors) == (3, 3, ())
    id3 = ID3(music / "dnb.mp3")
    assert (id3["TBPM"].text, id3["TKEY"].text) == (["174"], ["8A"])  # 8A: written before the lock
    tags = FLAC(music / "dnb.flac")
    assert (tags["BPM"], tags["INITIALKEY"]) == (["174"], ["10B"])
    tags = FLAC(music / "house.flac")  # not corrected: the analysis's values
    assert (tags["BPM"], tags["INITIALKEY"]) == (["87"], ["8A"])
    stored = library.track_by_id(flac.id)
    assert (stored.bpm, stored.key) == (174.0, Key(2, False).code)  # the library shows the user's
    assert (stored.analysis_bpm, stored.analysis_key) == (87.0, Key(9, True).code)  # and keeps its own


def analysis_in_a_process(path: str, options: AnalysisOptions) -> AnalysisResult:
    """Runs in an analysis process (imported by name there): a stand-in that needs no librosa."""
    return result_for(path)


def test_idle_analysis_processes_are_stopped_then_started_again_on_demand(
    qtbot, library, monkeypatch
) -> None:
    from crate_app.analysis.processes import ProcessAnalyzer
    from crate_app.services import analysis_service

    monkeypatch.setattr(analysis_service, "RELEASE_PROCESSES_AFTER_S", 0.5)
    fake_tracks(library, 6)
    service = AnalysisService(library, workers=2)
    engine = ProcessAnalyzer(function=analysis_in_a_process, warm=False)  # real processes
    service.processes, service.analyze_function = engine, engine
    try:
        summary = run_batch(qtbot, service, service.analyze_query)
        assert summary.analyzed == 6 and engine.process_count == 2 and service.is_ready
        qtbot.waitUntil(lambda: engine.process_count == 0, timeout=5000)  # ~270 MB each, given back
        assert not service.is_ready
        again = run_batch(qtbot, service, lambda: service.analyze_query(force=True))
        assert (again.analyzed, again.failed) == (6, 0) and engine.process_count == 2
    finally:
        assert service.shutdown(10_000)
