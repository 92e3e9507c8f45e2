"""The library window, offscreen, on real library files: empty state, drag and drop of real audio,
search syntax, settings kept between runs, errors in words."""

from __future__ import annotations

from pathlib import Path

import pytest
from audiofactory import write_audio
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from crate_app.domain.keys import KeyNotation
from crate_app.domain.search import parse_query
from crate_app.gui.main_window import MainWindow
from crate_app.gui.problems import ProblemsDialog, problem_rows
from crate_app.gui.settings import load_settings
from crate_app.gui.track_model import COLUMN_NAMES, DEFAULT_COLUMN_ORDER, TrackIdRole, column_order_to_show
from crate_app.store.library import open_library


def drop(window: MainWindow, paths: list[Path]) -> bool:
    """Drag ``paths`` onto the middle of the window and drop them, as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = window.rect().center()
    enter = QDragEnterEvent(
        QPointF(centre),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(
        QPointF(centre),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, event)
    return event.isAccepted()


def test_dropping_a_folder_on_an_empty_library_fills_the_table(qtbot, make_window, library, tmp_path) -> None:
    music = tmp_path / "music"
    tags = [("Daft Punk", "Da Funk", "mp3"), ("Björk", "Hyperballad", "flac"), ("Moodymann", "Shades", "m4a")]
    for number, (artist, title, fmt) in enumerate(tags):
        write_audio(
            music / artist / f"{number} {title}.{fmt}", {"artist": artist, "title": title, "bpm": 120}
        )
    (music / "notes.txt").write_text("not audio")
    window = make_window(library)
    assert window.stack.currentWidget() is window.empty_panel
    with qtbot.waitSignal(window.scan_service.finished, timeout=30_000) as finished:
        assert drop(window, [music])
    assert finished.args[0].added == 3
    qtbot.waitUntil(lambda: window.model.rowCount() == 3 and not window.model.is_loading, timeout=10_000)
    assert window.stack.currentWidget() is window.table
    artist = COLUMN_NAMES.index("artist")
    assert sorted(window.model.index(row, artist).data() for row in range(3)) == sorted(t[0] for t in tags)
    assert window.count_label.text() == "3 tracks"
    qtbot.waitUntil(lambda: not window.progress_bar.isVisible())
    assert window.count_label.isVisible()
    assert window.work_label.text() == "Scan finished: 3 added, 0 updated, 0 missing, 0 errors"


def test_dropping_something_that_is_not_a_file_is_refused(qtbot, make_window, library) -> None:
    window = make_window(library)
    mime = QMimeData()
    mime.setText("hello")
    enter = QDragEnterEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()


def test_an_unreadable_file_is_listed_in_problems(qtbot, make_window, library, tmp_path) -> None:
    folder = tmp_path / "music"
    write_audio(folder / "good.mp3", {"artist": "Good", "title": "Song"})
    (folder / "broken.mp3").write_bytes(b"\x00garbage" * 10)
    window = make_window(library)
    with qtbot.waitSignal(window.scan_service.finished, timeout=30_000):
        window.add_paths([str(folder)])
    rows = problem_rows(library)
    assert [(kind, Path(path).name) for kind, path, _reason in rows] == [("Unreadable", "broken.mp3")]
    assert rows[0][2]  # a reason in words
    dialog = ProblemsDialog(library, window)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 1
    assert dialog.table.item(0, 1).text().endswith("broken.mp3")


def test_typing_a_search_filters_the_table(qtbot, make_window, library, add_tracks) -> None:
    add_tracks(library, 600)
    window = make_window(library)
    assert window.model.rowCount() == 600
    window.search.focus()
    with qtbot.waitSignal(window.model.view_applied, timeout=10_000):
        QTest.keyClicks(window.search.field, "bpm:120-128 daft")
    expected = library.count(parse_query("bpm:120-128 daft"))
    assert 0 < window.model.rowCount() == expected < 600
    assert window.count_label.text() == f"{expected:,} of 600 tracks"
    with qtbot.waitSignal(window.model.view_applied, timeout=10_000):
        QTest.keyClick(window.search.field, Qt.Key.Key_Escape)
    assert window.search.text == "" and window.model.rowCount() == 600


@pytest.mark.parametrize(
    "text",
    ["key:8A", "key:Am", "year:1999", "bpm:>140", "genre:house", "artist:daft", "missing:yes", "-daft zzz"],
)
def test_search_syntax_reaches_the_table(qtbot, make_window, library, add_tracks, text: str) -> None:
    add_tracks(library, 300)
    window = make_window(library)
    with qtbot.waitSignal(window.model.view_applied, timeout=10_000):
        window.search.set_text(text)
    assert window.search.error == ""
    assert window.model.rowCount() == library.count(parse_query(text))


@pytest.mark.parametrize("text", ["bpm:fast", "colour:mauve", '"unclosed', "key:H#"])
def test_a_query_that_does_not_parse_shows_a_hint_and_keeps_the_table(
    qtbot, make_window, library, add_tracks, text: str
) -> None:
    add_tracks(library, 50)
    window = make_window(library)
    window.search.set_text(text)
    qtbot.waitUntil(lambda: window.search.error != "", timeout=2000)
    assert "(at " in window.search.error
    assert window.model.rowCount() == 50 and window.model.query is None


def test_ctrl_f_focuses_the_search(qtbot, make_window, library) -> None:
    window = make_window(library)
    window.activateWindow()
    window.table.setFocus()
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.search.field.hasFocus, timeout=2000)


def test_settings_are_remembered(qtbot, make_window, library, add_tracks, settings_store) -> None:
    add_tracks(library, 300)
    window = make_window(library)
    header = window.table.horizontalHeader()
    path, genre, title = (COLUMN_NAMES.index(n) for n in ("path", "genre", "title"))
    header.setSectionHidden(path, True)
    header.moveSection(header.visualIndex(genre), 0)
    header.resizeSection(title, 333)
    with qtbot.waitSignal(window.model.view_applied, timeout=10_000):
        header.setSortIndicator(COLUMN_NAMES.index("bpm"), Qt.SortOrder.DescendingOrder)
    window.key_actions.actions()[1].trigger()  # Open Key
    window.crates.toggle_sidebar_action.trigger()  # hidden (remembered): the window may be narrower
    window.layout().activate()
    window.resize(700, 450)
    window.close()

    saved = load_settings(settings_store)
    assert saved.sort_column == "bpm" and saved.sort_descending
    assert saved.key_notation is KeyNotation.OPEN_KEY
    assert "path" in saved.hidden_columns and saved.column_order[0] == "genre"
    assert saved.library_path == str(library.path)

    again = make_window(open_library(library.path))
    header = again.table.horizontalHeader()
    assert header.isSectionHidden(path) and header.logicalIndex(0) == genre
    assert header.sectionSize(title) == 333
    assert header.sortIndicatorSection() == COLUMN_NAMES.index("bpm")
    assert again.model.order.column == "bpm" and again.model.order.descending
    assert again.model.key_notation is KeyNotation.OPEN_KEY
    assert (again.width(), again.height()) == (700, 450)
    assert not again.crates.sidebar.isVisible()
    bpms = [again.model.track_at(row).bpm or -1 for row in range(300)]
    assert bpms == sorted(bpms, reverse=True)
    again.library.close()


def test_an_unusable_library_is_refused_in_words(
    qtbot, make_window, library, add_tracks, tmp_path, monkeypatch
):
    add_tracks(library, 10)
    window = make_window(library)
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    assert not window.open_library_file(str(junk), create=False)
    assert len(warnings) == 1 and "not a Crate library" in warnings[0]
    assert window.library is library and window.model.rowCount() == 10


def test_new_library_switches_the_window(qtbot, make_window, library, add_tracks, tmp_path) -> None:
    add_tracks(library, 10)
    window = make_window(library)
    first_id = window.model.index(0, 0).data(TrackIdRole)
    assert first_id is not None
    with qtbot.waitSignal(window.model.view_applied, timeout=10_000):
        assert window.open_library_file(str(tmp_path / "other.sqlite"), create=True)
    assert window.library.path == tmp_path / "other.sqlite"
    assert window.model.rowCount() == 0
    assert window.stack.currentWidget() is window.empty_panel
    window.library.close()


def test_rescan_marks_a_deleted_file_missing(qtbot, make_window, library, tmp_path) -> None:
    folder = tmp_path / "music"
    for name in ("a", "b"):
        write_audio(folder / f"{name}.flac", {"artist": name.upper(), "title": name})
    window = make_window(library)
    with qtbot.waitSignal(window.scan_service.finished, timeout=30_000):
        window.add_paths([str(folder)])
    (folder / "a.flac").unlink()
    # "finished" comes just before the scan job ends; Rescan is enabled again only once it has ended.
    qtbot.waitUntil(window.rescan_action.isEnabled, timeout=10_000)
    with qtbot.waitSignal(window.scan_service.finished, timeout=30_000) as finished:
        QTest.keyClick(window, Qt.Key.Key_F5)
    assert finished.args[0].missing == 1
    assert [(kind, Path(path).name) for kind, path, _ in problem_rows(library)] == [("Missing", "a.flac")]
    window.search.set_text("missing:yes")
    window.search.flush()
    qtbot.waitUntil(lambda: not window.model.is_loading, timeout=10_000)
    assert window.model.query is not None and window.model.rowCount() == 1


def test_double_click_shows_the_file_in_its_folder(
    qtbot, make_window, library, add_tracks, monkeypatch
) -> None:
    add_tracks(library, 5)
    window = make_window(library)
    opened: list[QUrl] = []
    monkeypatch.setattr("crate_app.gui.main_window.QDesktopServices.openUrl", opened.append)
    index = window.model.index(2, COLUMN_NAMES.index("title"))
    window.table.doubleClicked.emit(index)
    track = window.model.track_at(2)
    assert [url.toLocalFile() for url in opened] == [str(Path(track.path).parent)]


def test_a_big_library_is_refreshed_less_often_while_a_scan_adds_tracks() -> None:
    from crate_app.gui.main_window import REFRESH_INTERVAL_MAX_MS, REFRESH_INTERVAL_MS, refresh_interval_ms

    assert refresh_interval_ms(0) == refresh_interval_ms(50_000) == REFRESH_INTERVAL_MS
    assert REFRESH_INTERVAL_MS < refresh_interval_ms(500_000) < REFRESH_INTERVAL_MAX_MS
    assert refresh_interval_ms(1_000_000) == refresh_interval_ms(5_000_000) == REFRESH_INTERVAL_MAX_MS


def test_bpm_and_key_are_in_sight_at_1280_pixels(qtbot, make_window, library, add_tracks) -> None:
    add_tracks(library, 20)
    window = make_window(library)  # sidebar and track panel shown, as a new window has them
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() == 1280, timeout=2_000)
    window.layout().activate()
    assert window.crates.sidebar.isVisible() and window.player_area.panel.isVisible()
    header, viewport = window.table.horizontalHeader(), window.table.viewport().width()
    for name in ("artist", "title", "bpm", "key", "duration"):
        section = COLUMN_NAMES.index(name)
        right = header.sectionViewportPosition(section) + header.sectionSize(section)
        assert not header.isSectionHidden(section) and right <= viewport, (name, right, viewport)


def test_a_remembered_column_order_is_kept_unless_it_was_an_earlier_default() -> None:
    earlier = ("artist", "title", "waveform", "album", "genre", "bpm", "key", "duration", "year", "bitrate",
               "format", "date_added", "path", "position")  # fmt: skip
    assert column_order_to_show(earlier) == DEFAULT_COLUMN_ORDER
    assert column_order_to_show(("position", *earlier[:-1])) == DEFAULT_COLUMN_ORDER  # saved in a crate view
    assert column_order_to_show(()) == DEFAULT_COLUMN_ORDER
    mine = ("genre", "artist", "title", "key", "bpm", "album", "duration", "year", "bitrate", "format",
            "date_added", "path", "position")  # fmt: skip
    assert column_order_to_show(mine) == (*mine, "waveform", "rating")  # new columns go last, out of the way
    assert column_order_to_show(("title", "nonsense", "artist"))[:2] == ("title", "artist")
