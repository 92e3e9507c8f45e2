"""Analysis in the window: the menu, the progress panel, cells updating in place, pause/cancel, quitting
mid-batch and continuing at the next start, failures in Problems, the preferences."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QItemSelectionModel

from crate_app.domain.track import AnalysisOptions, AnalysisResult, ScannedFile, TagInfo
from crate_app.gui.analysis_panel import RESUME_KEY
from crate_app.gui.main_window import MainWindow
from crate_app.gui.problems import problem_rows
from crate_app.gui.settings import AnalysisPreferences, load_analysis_preferences
from crate_app.gui.track_model import COLUMN_NAMES
from crate_app.store import writer

BPM_COLUMN = COLUMN_NAMES.index("bpm")


def fake_library(library, count: int) -> None:
    files = [
        ScannedFile(f"/music/{i:03d}.mp3", 1000, 1.0, TagInfo(format="mp3", artist="A", title=f"T{i:03d}"))
        for i in range(count)
    ]
    writer.upsert_scanned(library, files)


def fake_analysis(delay: float = 0.0):
    def analyse(path: str, options: AnalysisOptions) -> AnalysisResult:
        if path.endswith("013.mp3"):
            from crate_app.domain.errors import DecodeError

            raise DecodeError("not an audio file")
        time.sleep(delay)
        return AnalysisResult(bpm=100.0 + int(path[-7:-4]), bpm_confidence=0.9, key=3, key_confidence=0.5)

    return analyse


@pytest.fixture
def make_window(make_window):
    """The shared window fixture, with a fake analysis and an instant warm-up."""

    def make(library, delay: float = 0.0) -> MainWindow:
        def prepare(window: MainWindow) -> None:
            service = window.analysis.service
            service.analyze_function = fake_analysis(delay)
            service.warm_up_function = lambda: time.sleep(0.05)

        return make_window(library, prepare)

    return make


def bpm_cells(window: MainWindow) -> list[str]:
    model = window.model
    return [model.index(row, BPM_COLUMN).data() for row in range(model.rowCount())]


def test_analyze_all_shows_progress_and_fills_the_cells_in_place(qtbot, make_window, library, settings_store):
    fake_library(library, 30)
    window = make_window(library, delay=0.01)
    resets: list[bool] = []
    window.model.modelReset.connect(lambda: resets.append(True))
    panel = window.analysis.panel
    assert not panel.isVisible()
    assert window.analysis.analyze_all_action.shortcut().toString() == "Ctrl+Shift+B"

    with qtbot.waitSignal(window.analysis.service.finished, timeout=20_000):
        window.analysis.analyze_all_action.trigger()
        assert str(settings_store.value(RESUME_KEY)) == "true"
        qtbot.waitUntil(panel.isVisible, timeout=5000)
    assert not resets
    cells = bpm_cells(window)
    assert cells.count("") == 1 and "101.0" in cells  # 29 analysed, 013 failed
    assert "29 analysed" in panel.figures.text() and "1 failed" in panel.figures.text()
    assert panel.problems_button.isVisible() and not panel.cancel_button.isVisible()
    assert settings_store.value(RESUME_KEY) is None  # finished: nothing to continue at the next start
    assert ("Not analysed", "/music/013.mp3", "not an audio file") in problem_rows(library)


def test_quitting_mid_batch_continues_with_what_is_left_at_the_next_start(
    qtbot, make_window, library, settings_store
) -> None:
    fake_library(library, 60)
    window = make_window(library, delay=0.04)
    window.analysis.analyze_all_unanalyzed()
    qtbot.waitUntil(lambda: library.stats()["analyzed"] >= 6, timeout=10_000)
    window.close()  # quits mid-batch: what was analysed is kept
    done = library.stats()["analyzed"]
    assert 6 <= done < 59
    assert str(settings_store.value(RESUME_KEY)) == "true"

    again = make_window(library)
    totals: list[int] = []
    again.analysis.service.progress.connect(lambda p: totals.append(p.total))
    with qtbot.waitSignal(again.analysis.service.finished, timeout=20_000) as finished:
        again.analysis.start_background_work()
    assert finished.args[0].total == 59 - done and set(totals) <= {0, 59 - done}
    assert library.stats()["analyzed"] == 59 and library.stats()["analysis_failed"] == 1
    assert settings_store.value(RESUME_KEY) is None


def test_analyze_selected_reanalyses_those_rows(qtbot, make_window, library) -> None:
    fake_library(library, 10)
    window = make_window(library)
    calls: list[str] = []
    analyse = fake_analysis()
    window.analysis.service.analyze_function = lambda path, options: (
        calls.append(path) or analyse(path, options)
    )
    selection = window.table.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in (2, 5):
        selection.select(window.model.index(row, 0), flags)
    paths = sorted(window.model.track_at(row).path for row in (2, 5))
    for _ in range(2):  # a second time too: a selection is analysed again
        with qtbot.waitSignal(window.analysis.service.finished, timeout=10_000):
            window.analysis.analyze_selected_action.trigger()
    assert sorted(calls) == sorted(paths * 2)
    assert [bpm_cells(window)[row] != "" for row in range(10)] == [row in (2, 5) for row in range(10)]


def test_pause_resume_and_cancel_from_the_panel(qtbot, make_window, library, settings_store) -> None:
    fake_library(library, 80)
    window = make_window(library, delay=0.03)
    panel = window.analysis.panel
    window.analysis.analyze_all_unanalyzed()
    qtbot.waitUntil(lambda: "tracks/min" in panel.figures.text(), timeout=10_000)
    panel.pause_button.click()
    assert panel.pause_button.text() == "Resume" and window.analysis.service.is_paused
    qtbot.waitUntil(lambda: panel.title.text() == "Analysis paused", timeout=3000)
    panel.pause_button.click()
    assert panel.pause_button.text() == "Pause" and not window.analysis.service.is_paused
    with qtbot.waitSignal(window.analysis.service.finished, timeout=10_000) as finished:
        panel.cancel_button.click()
    assert finished.args[0].cancelled
    assert panel.title.text() == "Analysis cancelled" and panel.close_button.isVisible()
    assert settings_store.value(RESUME_KEY) is None  # cancelled by the user: not continued at the next start
    assert 0 < library.stats()["analyzed"] < 79


def test_preferences_reach_the_service_and_are_remembered(
    qtbot, make_window, library, settings_store
) -> None:
    fake_library(library, 3)
    window = make_window(library)
    assert not window.analysis.write_tags_action.isChecked()  # off by default
    window.analysis.set_preferences(
        AnalysisPreferences(write_tags=True, bpm_min=90.0, bpm_max=180.0, workers=1)
    )
    assert window.analysis.write_tags_action.isChecked()
    seen: list[AnalysisOptions] = []
    window.analysis.service.analyze_function = lambda path, options: (
        seen.append(options) or AnalysisResult(bpm=None, bpm_confidence=0.0, key=None, key_confidence=0.0)
    )
    with qtbot.waitSignal(window.analysis.service.finished, timeout=10_000):
        window.analysis.analyze_all_unanalyzed()
    assert {(o.bpm_min, o.bpm_max) for o in seen} == {(90.0, 180.0)}
    assert window.analysis.service.write_tags and window.analysis.service.workers == 1
    window.analysis.write_tags_action.setChecked(False)
    assert load_analysis_preferences(settings_store) == AnalysisPreferences(False, 90.0, 180.0, 1)


def test_the_warm_up_status_shows_before_any_batch(qtbot, make_window, library) -> None:
    window = make_window(library)
    service = window.analysis.service
    service.warm_up_function = lambda: time.sleep(0.5)
    window.analysis.start_background_work()
    label = window.analysis.status_label
    assert label.isVisible() and label.text().startswith("Preparing analysis")
    qtbot.waitUntil(lambda: service.is_ready, timeout=5000)
    assert not label.isVisible()


def test_opening_another_library_stops_the_batch_and_analyses_the_new_one(
    qtbot, make_window, library, tmp_path
) -> None:
    fake_library(library, 200)
    window = make_window(library, delay=0.02)
    window.analysis.analyze_all_unanalyzed()
    qtbot.waitUntil(lambda: library.stats()["analyzed"] > 2, timeout=10_000)
    assert window.open_library_file(str(tmp_path / "other.sqlite"), create=True)
    assert not window.analysis.service.is_running
    assert window.analysis.service.library is window.library
    fake_library(window.library, 4)
    with qtbot.waitSignal(window.analysis.service.finished, timeout=10_000) as finished:
        window.analysis.analyze_all_unanalyzed()
    assert finished.args[0].analyzed == 4 and window.library.stats()["analyzed"] == 4


def test_a_failed_warm_up_shows_why_keeps_the_requests_and_retry_runs_them(
    qtbot, make_window, library
) -> None:
    from PySide6.QtCore import Qt

    from crate_app.domain.errors import AnalysisUnavailable

    fake_library(library, 5)
    window = make_window(library)
    service = window.analysis.service
    attempts: list[int] = []

    def warm_up() -> None:
        attempts.append(1)
        time.sleep(1.3)  # long enough for the elapsed time to show
        if len(attempts) == 1:
            raise AnalysisUnavailable("the analysis process did not start within 300 s")

    service.warm_up_function = warm_up
    texts: list[str] = []
    service.warm_up_changed.connect(texts.append)
    window.analysis.analyze_all_unanalyzed()  # requested while the analysis is being prepared
    panel = window.analysis.panel
    qtbot.waitUntil(panel.retry_button.isVisible, timeout=10_000)
    # the elapsed time, every second
    assert any(text.startswith("Preparing analysis\u2026 1 s") for text in texts), texts
    assert panel.title.text() == "Analysis could not start"
    assert panel.figures.text() == "The analysis process did not start within 300 s"
    assert panel.current.text() == "Your analysis requests are kept: Retry runs them."
    assert panel.isVisible() and not panel.cancel_button.isVisible()
    assert len(library.ids_to_analyze()) == 5  # nothing marked failed, nothing lost
    window.analysis.analyze_selected()  # more requests while it is down are kept too
    with qtbot.waitSignal(service.finished, timeout=20_000) as finished:
        qtbot.mouseClick(panel.retry_button, Qt.MouseButton.LeftButton)
    assert finished.args[0].analyzed == 5 and len(attempts) == 2
    assert not panel.retry_button.isVisible() and library.ids_to_analyze() == []
