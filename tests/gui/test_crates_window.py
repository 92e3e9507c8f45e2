"""The window's crates, offscreen, on real library files: the sidebar model and a crate view under
qtmodeltester, drag and drop of real rows and of a real folder, reordering, undo of a big delete,
keyboard shortcuts, settings kept between runs, a smart crate whose rule broke."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest
from audiofactory import write_audio
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QMimeData, Qt, QUrl
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

from crate_app import crates
from crate_app.domain.track import AnalysisResult
from crate_app.gui import track_model
from crate_app.gui.main_window import MainWindow
from crate_app.gui.sidebar import COLLECTION, CRATES, NodeRole, SidebarModel, SidebarTarget
from crate_app.gui.track_drag import TRACKS_MIME, nodes_mime, tracks_from_mime, tracks_mime
from crate_app.gui.track_model import COLUMN_NAMES, PAGE_SIZE, POSITION_COLUMN, TrackIdRole, TrackTableModel
from crate_app.services import crate_service
from crate_app.services.crate_service import SetLook, SmartRule
from crate_app.store import writer
from crate_app.store.view import SortOrder, TrackView


def find(library, path: str):
    """The node at ``path``, or None."""
    try:
        return crates.node_by_path(library, path)
    except crates.CrateTreeError:
        return None


def settle(qtbot, window: MainWindow) -> None:
    """Wait until crate edits are written, the sidebar has the tree again and the table is loaded."""
    service = window.crates.service
    qtbot.waitUntil(lambda: not service.is_busy, timeout=20_000)
    service.wait()
    QApplication.processEvents()
    qtbot.waitUntil(lambda: not window.model.is_loading, timeout=20_000)
    service.wait()
    QApplication.processEvents()


def select(qtbot, window: MainWindow, node_id: int) -> None:
    assert window.crates.sidebar.select_node(node_id)
    settle(qtbot, window)


def ids_shown(window: MainWindow) -> list[int]:
    return [window.model.index(row, 0).data(TrackIdRole) for row in range(window.model.rowCount())]


def loaded_tree(qtbot, window: MainWindow) -> None:
    window.crates.service.reload()
    settle(qtbot, window)


@pytest.fixture
def crate_library(library, add_tracks):
    """A library of 300 tracks with Sets/2026/Berlin (120 tracks, reversed id order), Sets/Warm-up
    (empty), an empty folder Archive and a smart crate Fast (bpm:>=140)."""
    add_tracks(library, 300)
    berlin = crates.create_path(library, "Sets/2026/Berlin", "crate")
    crates.add_tracks(library, berlin.id, list(range(120, 0, -1)))
    crates.create_path(library, "Sets/Warm-up", "crate")
    crates.create_path(library, "Archive", "folder")
    crates.create_path(library, "Fast", "smart", query="bpm:>=140")
    return library


def test_sidebar_model_passes_the_model_tester(qtbot, qtmodeltester, crate_library) -> None:
    model = SidebarModel()
    model.set_nodes(crates.list_nodes(crate_library))
    qtmodeltester.check(model, force_py=True)
    crates_row = model.special_index(CRATES)
    assert [model.index(r, 0, crates_row).data() for r in range(model.rowCount(crates_row))] == [
        "Sets",
        "Archive",
        "Fast",
    ]
    berlin = find(crate_library, "Sets/2026/Berlin")
    index = model.node_index(berlin.id)
    assert index.data() == "Berlin"
    assert index.siblingAtColumn(1).data() == "120"
    assert index.parent().data() == "2026" and index.parent().parent().data() == "Sets"


def test_a_crate_view_with_more_rows_than_a_page_passes_the_model_tester(
    qtbot, qtmodeltester, crate_library
) -> None:
    berlin = find(crate_library, "Sets/2026/Berlin")
    model = TrackTableModel(crate_library)
    try:
        model.set_scope(berlin.id, "crate", SortOrder("position"))
        qtbot.waitUntil(lambda: not model.is_loading and model.rowCount() == 120, timeout=10_000)
        assert model.rowCount() > PAGE_SIZE
        qtmodeltester.check(model, force_py=True)
        assert [model.index(r, 0).data(TrackIdRole) for r in (0, 1, 119)] == [120, 119, 1]
        assert [model.index(r, POSITION_COLUMN).data() for r in (0, 1, 119)] == ["1", "2", "120"]
        # In another order: paged by seeks at first, then by the ids read in that order (warm).
        by_bpm = TrackView(crate_library, None, SortOrder("bpm"), berlin.id).ordered_ids_sql()
        expected = [t for (t,) in crate_library.execute(*by_bpm)]
        model.set_order(SortOrder("bpm"))
        qtbot.waitUntil(lambda: not model.is_loading, timeout=10_000)
        assert [model.index(r, 0).data(TrackIdRole) for r in range(120)] == expected
        model._source.warm(PAGE_SIZE, lambda: False)  # what the background warm-up does
        model._clear_cache()
        assert [model.index(r, 0).data(TrackIdRole) for r in range(120)] == expected
        assert model.ids_reader([(110, 119), (0, 4)])() == expected[:5] + expected[110:]
        qtmodeltester.check(model, force_py=True)
    finally:
        model.shutdown()


def test_selecting_a_crate_shows_its_tracks_sorts_searches_and_gives_crate_order_back(
    qtbot, make_window, crate_library
) -> None:
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    berlin = find(crate_library, "Sets/2026/Berlin")
    select(qtbot, window, berlin.id)
    assert window.model.crate_id == berlin.id
    assert ids_shown(window) == list(range(120, 0, -1))
    assert not window.table.isColumnHidden(POSITION_COLUMN)
    assert window.count_label.text() == "120 tracks"
    header = window.table.horizontalHeader()
    assert header.sortIndicatorSection() == POSITION_COLUMN
    # Sort by title: ids ascending (titles are "Track 00000"...), the # column keeps each crate position.
    header.setSortIndicator(COLUMN_NAMES.index("title"), Qt.SortOrder.AscendingOrder)
    settle(qtbot, window)
    assert ids_shown(window) == list(range(1, 121))
    assert window.model.index(0, POSITION_COLUMN).data() == "120"
    # Search within the crate.
    window.search.set_text('title:"Track 0000"')
    window.search.flush()
    settle(qtbot, window)
    assert sorted(ids_shown(window)) == list(range(1, 11))
    assert window.count_label.text() == "10 of 120 tracks"
    window.search.set_text("")
    window.search.flush()
    header.setSortIndicator(POSITION_COLUMN, Qt.SortOrder.AscendingOrder)
    settle(qtbot, window)
    assert ids_shown(window) == list(range(120, 0, -1))
    # Back to the collection: every track, no # column.
    window.crates.sidebar.select_collection()
    settle(qtbot, window)
    assert window.model.rowCount() == 300 and window.model.crate_id is None
    assert window.table.isColumnHidden(POSITION_COLUMN)


def test_dragging_real_rows_onto_a_crate_adds_them_and_ctrl_moves_them(
    qtbot, make_window, crate_library
) -> None:
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    sidebar = window.crates.sidebar
    warmup = find(crate_library, "Sets/Warm-up")
    berlin = find(crate_library, "Sets/2026/Berlin")
    rows = [5, 6, 7, 40]
    mime = window.model.mime_for_rows(rows)
    expected = [window.model.index(r, 0).data(TrackIdRole) for r in rows]
    assert tracks_from_mime(mime) == (expected, None)
    files = [url.toLocalFile() for url in mime.urls()]
    assert files == [t.path for t in crate_library.tracks_by_ids(expected)]
    target = sidebar.model.node_index(warmup.id)
    assert sidebar.model.dropMimeData(mime, Qt.DropAction.CopyAction, -1, 0, target)
    settle(qtbot, window)
    assert crates.crate_track_ids(crate_library, warmup.id) == expected
    assert sidebar.model.node_index(warmup.id).siblingAtColumn(1).data() == "4"
    # The same rows again: nothing added twice, and the status line says so.
    assert sidebar.model.dropMimeData(
        window.model.mime_for_rows(rows), Qt.DropAction.CopyAction, -1, 0, target
    )
    settle(qtbot, window)
    assert crates.crate_track_ids(crate_library, warmup.id) == expected
    assert "4 already in it" in window.work_label.text()
    # From Berlin with Ctrl: moved (gone from Berlin).
    select(qtbot, window, berlin.id)
    moving = window.model.mime_for_rows([0, 1])
    assert tracks_from_mime(moving) == ([120, 119], berlin.id)
    sidebar.model.move_requested = True
    try:
        assert sidebar.model.dropMimeData(
            moving, Qt.DropAction.CopyAction, -1, 0, sidebar.model.node_index(warmup.id)
        )
    finally:
        sidebar.model.move_requested = False
    settle(qtbot, window)
    assert crates.crate_track_ids(crate_library, warmup.id) == [*expected, 120, 119]
    assert crates.crate_track_ids(crate_library, berlin.id) == list(range(118, 0, -1))
    assert window.model.rowCount() == 118  # the crate shown followed
    # One undo puts both crates back.
    window.crates.undo_action.trigger()
    settle(qtbot, window)
    assert crates.crate_track_ids(crate_library, berlin.id) == list(range(120, 0, -1))
    assert crates.crate_track_ids(crate_library, warmup.id) == expected


def test_a_drop_on_a_smart_crate_or_a_folder_is_refused_with_a_reason(
    qtbot, make_window, crate_library
) -> None:
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    model = window.crates.sidebar.model
    fast = find(crate_library, "Fast")
    archive = find(crate_library, "Archive")
    mime = tracks_mime([1, 2], None)
    with qtbot.waitSignal(model.drop_refused) as refused:
        assert not model.dropMimeData(mime, Qt.DropAction.CopyAction, -1, 0, model.node_index(fast.id))
    assert "smart crate" in refused.args[0]
    assert window.work_label.text() == refused.args[0]
    assert not model.canDropMimeData(mime, Qt.DropAction.CopyAction, -1, 0, model.node_index(archive.id))
    sets = find(crate_library, "Sets")
    inner = find(crate_library, "Sets/2026")
    with qtbot.waitSignal(model.drop_refused) as refused:
        assert not model.dropMimeData(
            nodes_mime([sets.id]), Qt.DropAction.MoveAction, -1, 0, model.node_index(inner.id)
        )
    assert "itself" in refused.args[0]


def test_crates_dragged_in_the_tree_nest_and_reorder(qtbot, make_window, crate_library) -> None:
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    model = window.crates.sidebar.model
    warmup = find(crate_library, "Sets/Warm-up")
    archive = find(crate_library, "Archive")
    assert model.dropMimeData(
        nodes_mime([warmup.id]), Qt.DropAction.MoveAction, -1, 0, model.node_index(archive.id)
    )
    settle(qtbot, window)
    assert find(crate_library, "Archive/Warm-up").id == warmup.id
    # Reorder at the top level: Fast to the first place.
    fast = find(crate_library, "Fast")
    top = model.special_index(CRATES)
    assert model.dropMimeData(nodes_mime([fast.id]), Qt.DropAction.MoveAction, 0, 0, top)
    settle(qtbot, window)
    assert [model.index(r, 0, top).data() for r in range(model.rowCount(top))] == ["Fast", "Sets", "Archive"]
    window.crates.undo_action.trigger()
    settle(qtbot, window)
    assert [model.index(r, 0, top).data() for r in range(model.rowCount(top))] == ["Sets", "Archive", "Fast"]


def test_dropping_a_real_folder_on_a_crate_scans_it_and_adds_its_tracks(
    qtbot, make_window, crate_library, tmp_path: Path
) -> None:
    music = tmp_path / "dropped"
    for number, artist in enumerate(["Aphex Twin", "Burial", "Caribou"]):
        write_audio(music / artist / f"{number} tune.mp3", {"artist": artist, "title": f"tune {number}"})
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    model = window.crates.sidebar.model
    warmup = find(crate_library, "Sets/Warm-up")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(music))])
    assert model.dropMimeData(mime, Qt.DropAction.CopyAction, -1, 0, model.node_index(warmup.id))
    qtbot.waitUntil(lambda: len(crates.crate_track_ids(crate_library, warmup.id)) == 3, timeout=30_000)
    settle(qtbot, window)
    paths = [t.path for t in crate_library.tracks_by_ids(crates.crate_track_ids(crate_library, warmup.id))]
    assert paths == sorted(str(p) for p in music.rglob("*.mp3"))


def test_dragging_rows_within_a_crate_reorders_it_and_undo_restores(
    qtbot, make_window, crate_library
) -> None:
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    berlin = find(crate_library, "Sets/2026/Berlin")
    select(qtbot, window, berlin.id)
    assert window.model.in_crate_order
    mime = window.model.mime_for_rows([3, 4])  # ids 117, 116
    assert window.model.canDropMimeData(
        mime, Qt.DropAction.CopyAction, 0, 0, window.model.index(0, 0).parent()
    )
    assert window.model.dropMimeData(mime, Qt.DropAction.CopyAction, 0, 0, window.model.index(0, 0).parent())
    settle(qtbot, window)
    expected = [117, 116, 120, 119, 118, *range(115, 0, -1)]
    assert crates.crate_track_ids(crate_library, berlin.id) == expected
    assert ids_shown(window) == expected
    window.crates.undo_action.trigger()
    settle(qtbot, window)
    assert crates.crate_track_ids(crate_library, berlin.id) == list(range(120, 0, -1))
    # Sorted by another column, rows cannot be dropped to reorder.
    window.table.horizontalHeader().setSortIndicator(COLUMN_NAMES.index("title"), Qt.SortOrder.AscendingOrder)
    settle(qtbot, window)
    assert not window.model.canDropMimeData(
        mime, Qt.DropAction.CopyAction, 0, 0, window.model.index(0, 0).parent()
    )


def test_deleting_a_crate_of_5000_tracks_and_undoing_brings_it_back_whole(
    qtbot, make_window, library, add_tracks, monkeypatch
) -> None:
    add_tracks(library, 5_000)
    big = crates.create_path(library, "Big", "crate")
    order = list(range(1, 5_001))
    order.reverse()
    order[10:20] = sorted(order[10:20])
    crates.add_tracks(library, big.id, order)
    window = make_window(library)
    loaded_tree(qtbot, window)
    select(qtbot, window, big.id)
    asked: list[str] = []

    def answer(parent, title, text, *args):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    window.crates.sidebar.view.setFocus()
    window.crates.sidebar.delete_current()
    settle(qtbot, window)
    assert "5,000 tracks" in asked[0]
    assert find(library, "Big") is None
    assert window.model.crate_id is None  # the table went back to the collection
    window.crates.undo_action.trigger()
    settle(qtbot, window)
    restored = find(library, "Big")
    assert restored is not None and restored.id == big.id
    assert crates.crate_track_ids(library, big.id) == order
    window.crates.redo_action.trigger()
    settle(qtbot, window)
    assert find(library, "Big") is None


def test_keyboard_shortcuts_make_rename_delete_undo_and_redo(qtbot, make_window, crate_library) -> None:
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    sidebar = window.crates.sidebar
    archive = find(crate_library, "Archive")
    select(qtbot, window, archive.id)
    sidebar.view.setFocus()
    QTest.keyClick(sidebar.view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    made = find(crate_library, "Archive/New crate")
    assert made is not None and made.kind == "crate"
    assert sidebar.current_node() is not None and sidebar.current_node().id == made.id
    assert sidebar.view.state() == sidebar.view.State.EditingState  # named at once, like a file
    editor = QApplication.focusWidget()
    editor.selectAll()
    QTest.keyClicks(editor, "Peak time")
    QTest.keyClick(editor, Qt.Key.Key_Return)
    settle(qtbot, window)
    assert find(crate_library, "Archive/Peak time").id == made.id
    QTest.keyClick(
        sidebar.view, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    settle(qtbot, window)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert find(crate_library, "Archive/New folder").kind == "folder"
    select(qtbot, window, made.id)
    sidebar.view.setFocus()
    QTest.keyClick(sidebar.view, Qt.Key.Key_F2)
    assert sidebar.view.state() == sidebar.view.State.EditingState
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    QTest.keyClick(sidebar.view, Qt.Key.Key_Delete)  # empty: no question
    settle(qtbot, window)
    assert find(crate_library, "Archive/Peak time") is None
    QTest.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    assert find(crate_library, "Archive/Peak time").id == made.id
    QTest.keyClick(
        window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    settle(qtbot, window)
    assert find(crate_library, "Archive/Peak time") is None


def test_add_to_crate_and_show_in_crates_menus(qtbot, make_window, crate_library) -> None:
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    warmup = find(crate_library, "Sets/Warm-up")
    window.table.setCurrentIndex(window.model.index(2, 0))
    window.table.selectionModel().select(
        window.model.index(2, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    track_id = window.model.index(2, 0).data(TrackIdRole)
    menu = window.crates.add_to_crate_menu(None)
    sets_menu = next(a.menu() for a in menu.actions() if a.text() == "Sets")
    fast = next(a for a in menu.actions() if a.text() == "Fast")
    assert not fast.isEnabled()  # a smart crate takes no tracks
    next(a for a in sets_menu.actions() if a.text() == "Warm-up").trigger()
    settle(qtbot, window)
    assert crates.crate_track_ids(crate_library, warmup.id) == [track_id]
    shown = window.crates.show_in_crates_menu(None)
    in_berlin = track_id <= 120
    assert [a.text() for a in shown.actions()] == ["Sets/2026/Berlin"] * in_berlin + ["Sets/Warm-up"]
    shown.actions()[-1].trigger()
    settle(qtbot, window)
    assert window.crates.sidebar.current_node().id == warmup.id
    assert ids_shown(window) == [track_id]


def test_a_smart_crate_whose_rule_broke_shows_a_badge_and_stays_editable(
    qtbot, make_window, crate_library
) -> None:
    fast = find(crate_library, "Fast")
    crate_library.execute("UPDATE crate_nodes SET query = 'bpm:>>' WHERE id = ?", (fast.id,))
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    model = window.crates.sidebar.model
    index = model.node_index(fast.id)
    node = index.data(NodeRole)
    assert node.error
    assert "does not work" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert index.siblingAtColumn(1).data() == "!"
    assert model.flags(index) & Qt.ItemFlag.ItemIsEditable
    requests = []
    window.crates.sidebar.smart_editor_requested.connect(lambda n, p: requests.append(n))
    window.crates.sidebar.select_node(fast.id)
    window.crates.sidebar.edit_smart_action.trigger()
    assert requests and requests[0].id == fast.id


def test_the_sidebar_remembers_its_width_visibility_and_open_folders(
    qtbot, make_window, crate_library, settings_store
) -> None:
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    berlin = find(crate_library, "Sets/2026/Berlin")
    select(qtbot, window, berlin.id)  # expands Sets and Sets/2026
    window.resizeDocks([window.crates.dock], [300], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: window.crates.dock.width() == 300)
    window.close()
    again = make_window(crate_library, lambda w: w.resize(1400, 800))
    loaded_tree(qtbot, again)
    sidebar = again.crates.sidebar
    assert sorted(sidebar.expanded_paths()) == ["Sets", "Sets/2026"]
    qtbot.waitUntil(lambda: again.crates.dock.width() == 300)
    again.crates.toggle_sidebar_action.trigger()
    assert not sidebar.isVisible()
    again.close()
    third = make_window(crate_library)
    assert not third.crates.sidebar.isVisible()
    QTest.keyClick(third, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert third.crates.sidebar.isVisible()


def test_selecting_a_folder_or_problems_narrows_the_table(qtbot, make_window, crate_library) -> None:
    crate_library.execute("UPDATE tracks SET status = 'missing' WHERE id IN (7, 8)")
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    sets = find(crate_library, "Sets")
    select(qtbot, window, sets.id)
    assert sorted(ids_shown(window)) == list(range(1, 121))
    window.crates.sidebar.view.setCurrentIndex(window.crates.sidebar.model.special_index("problems"))
    settle(qtbot, window)
    assert sorted(ids_shown(window)) == [7, 8]
    assert window.crates.sidebar.current_target == SidebarTarget("problems")
    window.crates.sidebar.view.setCurrentIndex(window.crates.sidebar.model.special_index(COLLECTION))
    settle(qtbot, window)
    assert window.model.rowCount() == 300
    assert TRACKS_MIME in window.model.mimeTypes()


def test_the_smart_crate_editor_round_trips_rows_and_text_and_counts_live(
    qtbot, make_window, crate_library
) -> None:
    from crate_app.domain.search import parse_query
    from crate_app.domain.smart_rules import Rule, RuleGroup, from_query
    from crate_app.gui.smart_editor import SmartCrateEditor
    from crate_app.store.view import TrackView

    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    editor = SmartCrateEditor(window.crates.service, None, None, window)
    qtbot.addWidget(editor)
    editor.show()
    row = editor.group_box.add_rule()
    row.set_rule(Rule("bpm", "at least", "140"))
    group = editor.group_box.add_group()
    group.match.setCurrentIndex(group.match.findData("any"))
    group.children_widgets()[0].set_rule(Rule("genre", "contains", "House"))
    group.add_rule().set_rule(Rule("genre", "contains", "Techno"))
    assert editor.group_box.group() == RuleGroup(
        "all",
        (
            Rule("bpm", "at least", "140"),
            RuleGroup("any", (Rule("genre", "contains", "House"), Rule("genre", "contains", "Techno"))),
        ),
    )
    editor.tabs.setCurrentIndex(editor.TEXT)
    text = editor.text.text()
    assert text == "bpm:>=140 (genre:House OR genre:Techno)"
    expected = TrackView(crate_library, parse_query(text)).count()
    qtbot.waitUntil(lambda: editor.count_label.text() == f"{expected:,} tracks match", timeout=10_000)
    # Text to rows: the same rule comes back as rows.
    editor.text.setText("genre:house OR bpm:120-128")
    editor.tabs.setCurrentIndex(editor.RULES)
    assert editor.tabs.currentIndex() == editor.RULES
    assert editor.group_box.group() == from_query("genre:house OR bpm:120-128")
    assert editor.query_text() == "genre:house OR bpm:120-128"
    expected = TrackView(crate_library, parse_query("genre:house OR bpm:120-128")).count()
    qtbot.waitUntil(lambda: editor.count_label.text() == f"{expected:,} tracks match", timeout=10_000)
    # What rows cannot show stays text, and says why; what does not parse says where.
    editor.tabs.setCurrentIndex(editor.TEXT)
    editor.text.setText("-(genre:house OR genre:techno)")
    editor.tabs.setCurrentIndex(editor.RULES)
    assert editor.tabs.currentIndex() == editor.TEXT
    assert "text" in editor.problem.text()
    editor.text.setText("bpm:>>")
    save = editor.buttons.button(editor.buttons.StandardButton.Save)
    qtbot.waitUntil(lambda: not save.isEnabled(), timeout=10_000)
    assert "character" in editor.problem.text()
    # Saved: a new smart crate with the rule, sort and limit.
    editor.text.setText("genre:house")
    editor.name.setText("House")
    editor.limited.setChecked(True)
    editor.limit.setValue(25)
    qtbot.waitUntil(save.isEnabled, timeout=10_000)
    editor.save()
    settle(qtbot, window)
    made = find(crate_library, "House")
    assert (made.kind, made.query, made.limit) == ("smart", "genre:house", 25)
    assert made.track_count == min(25, TrackView(crate_library, parse_query("genre:house")).count())


def test_a_second_window_follows_crate_edits_made_in_the_first(qtbot, make_window, crate_library) -> None:
    from crate_app.store.library import open_library

    first = make_window(crate_library)
    loaded_tree(qtbot, first)
    second = make_window(open_library(crate_library.path))  # its own connections, as another process
    loaded_tree(qtbot, second)
    berlin = find(crate_library, "Sets/2026/Berlin")
    select(qtbot, second, berlin.id)
    assert second.model.rowCount() == 120
    first.crates.service.add_tracks(first.crates.service.node(berlin.id), [200, 201, 202])
    settle(qtbot, first)
    count_cell = second.crates.sidebar.model.node_index(berlin.id).siblingAtColumn(1)
    qtbot.waitUntil(lambda: second.model.rowCount() == 123, timeout=10_000)
    qtbot.waitUntil(lambda: count_cell.data() == "123", timeout=10_000)
    assert ids_shown(second)[-3:] == [200, 201, 202]
    first.crates.service.delete(first.crates.service.node(berlin.id))
    settle(qtbot, first)
    qtbot.waitUntil(lambda: second.model.crate_id is None, timeout=10_000)
    assert second.crates.sidebar.current_target == SidebarTarget(COLLECTION)
    second.library.close()


def test_create_crates_from_folders_makes_one_crate_per_subfolder(
    qtbot, make_window, library, tmp_path: Path, monkeypatch
) -> None:
    from PySide6.QtWidgets import QFileDialog

    music = tmp_path / "Vinyl rips"
    for folder, names in {
        "Disco": ["a", "b"],
        "Italo": ["c"],
        "Italo/B-sides": ["d"],
        ".": ["loose"],
    }.items():
        for name in names:
            write_audio(music / folder / f"{name}.mp3", {"artist": "Various", "title": name})
    window = make_window(library)
    loaded_tree(qtbot, window)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(music))
    window.crates.sidebar.crates_from_folders_action.trigger()
    qtbot.waitUntil(lambda: find(library, "Vinyl rips/Italo") is not None, timeout=30_000)
    settle(qtbot, window)

    def titles(path: str) -> list[str]:
        node = find(library, path)
        return [t.title for t in library.tracks_by_ids(crates.crate_track_ids(library, node.id))]

    assert [n.name for n in crates.children_of(library, find(library, "Vinyl rips").id)] == [
        "Disco",
        "Italo",
        "Vinyl rips",
    ]
    assert titles("Vinyl rips/Disco") == ["a", "b"]
    assert titles("Vinyl rips/Italo") == ["d", "c"]  # by path: B-sides/d.mp3 sorts before c.mp3
    assert titles("Vinyl rips/Vinyl rips") == ["loose"]
    window.crates.undo_action.trigger()
    settle(qtbot, window)
    assert find(library, "Vinyl rips") is None


def test_a_big_selection_is_added_removed_and_undone_without_python_calls_per_selected_row(
    qtbot, make_window, crate_library, monkeypatch
) -> None:
    """Qt asks the model about every selected row or cell when a header paints (is the column wholly
    selected?) and when the layout changes (saving the selection): seconds with 100,000 rows selected.
    Counted here: selecting 300 rows rather than one adds (almost) no calls."""
    calls = {"flags": 0, "rowCount": 0}
    for name in calls:  # counted from the start: PySide looks a Python override up once per class
        original = getattr(TrackTableModel, name)

        def counted(self, *args, _original=original, _name=name):
            calls[_name] += 1
            return _original(self, *args)

        monkeypatch.setattr(TrackTableModel, name, counted)
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    warmup = find(crate_library, "Sets/Warm-up")
    model, table = window.model, window.table
    last_column = len(COLUMN_NAMES) - 1

    def calls_with_selected(runs: list[tuple[int, int]]) -> dict[str, int]:
        selection = table.selectionModel()
        selection.clear()
        for first, last in runs:
            selection.select(
                QItemSelection(model.index(first, 0), model.index(last, last_column)),
                QItemSelectionModel.SelectionFlag.Select,
            )
        settle(qtbot, window)
        calls.update(flags=0, rowCount=0)
        table.horizontalHeader().grab()  # a header paint
        model.refresh()  # what another window's commit does: the same tracks, no row moved
        settle(qtbot, window)
        table.horizontalHeader().grab()
        return dict(calls)

    one = calls_with_selected([(0, 0)])
    many = calls_with_selected([(0, 149), (150, 299)])  # two ranges that touch: one run of rows
    assert all(many[name] - one[name] < 100 for name in calls), (one, many)
    assert window.crates.selected_runs() == [(0, 299)]  # the refresh kept the selection
    expected = [model.index(row, 0).data(TrackIdRole) for row in range(300)]
    window.crates.add_selected_to(warmup)
    settle(qtbot, window)
    assert crates.crate_track_ids(crate_library, warmup.id) == expected
    window.crates.undo_action.trigger()
    settle(qtbot, window)
    assert crates.crate_track_ids(crate_library, warmup.id) == []
    window.crates.redo_action.trigger()
    select(qtbot, window, warmup.id)
    table.selectAll()
    window.crates.remove_selected_from_crate()
    settle(qtbot, window)
    assert crates.crate_track_ids(crate_library, warmup.id) == []
    window.crates.undo_action.trigger()
    settle(qtbot, window)
    assert crates.crate_track_ids(crate_library, warmup.id) == expected


def test_the_sidebar_lists_at_once_and_counts_smart_crates_afterwards(
    qtbot, make_window, crate_library, monkeypatch
) -> None:
    """The tree comes without counting smart crates (the stored counts of crates only); each smart
    crate is counted after it, once, and again when its rule changes, not after every crate edit."""
    counted: list[int] = []
    count_smart_crates = crates.count_smart_crates

    def counting(library, node_ids):
        node_ids = list(node_ids)
        counted.extend(node_ids)
        return count_smart_crates(library, node_ids)

    monkeypatch.setattr(crates, "count_smart_crates", counting)
    window = make_window(crate_library)
    window.library_watcher.stop()  # its reload after the process's own commits counts everything again
    loaded_tree(qtbot, window)
    service = window.crates.service
    fast = find(crate_library, "Fast")
    fast_count = TrackView(crate_library, crate_id=fast.id).count()
    assert set(counted) == {fast.id} and service.node(fast.id).track_count == fast_count
    sidebar_model = window.crates.sidebar.model
    assert sidebar_model.node_index(fast.id, 1).data() == f"{fast_count:,}"
    counted.clear()
    service.create(None, "Another crate", "crate")
    settle(qtbot, window)
    assert counted == [] and service.node(fast.id).track_count == fast_count  # kept from before
    service.update_smart(service.node(fast.id), SmartRule("bpm:>=0"))
    settle(qtbot, window)
    everything = TrackView(crate_library, crate_id=fast.id).count()
    assert everything > fast_count
    qtbot.waitUntil(lambda: service.node(fast.id).track_count == everything, timeout=10_000)
    assert counted == [fast.id]


def test_a_crate_gets_a_colour_and_a_note_from_its_menu_and_undo_takes_them_back(
    qtbot, make_window, crate_library, monkeypatch
) -> None:
    window = make_window(crate_library)
    loaded_tree(qtbot, window)
    sidebar, service = window.crates.sidebar, window.crates.service
    berlin = find(crate_library, "Sets/2026/Berlin")
    select(qtbot, window, berlin.id)
    plain_icon = (
        sidebar.model.node_index(berlin.id).data(Qt.ItemDataRole.DecorationRole).pixmap(16, 16).toImage()
    )
    menu = sidebar.context_menu(sidebar.model.node_index(berlin.id))
    colours = next(a.menu() for a in menu.actions() if a.menu() is not None and a.text() == "&Colour")
    assert [a.text() for a in colours.actions()][:3] == ["None", "Red", "Orange"]
    assert next(a for a in colours.actions() if a.text() == "None").isChecked()
    next(a for a in colours.actions() if a.text() == "Blue").trigger()
    settle(qtbot, window)
    assert find(crate_library, "Sets/2026/Berlin").color == "#3498db"
    icon = sidebar.model.node_index(berlin.id).data(Qt.ItemDataRole.DecorationRole)
    assert icon.pixmap(16, 16).toImage() != plain_icon  # the colour's dot
    monkeypatch.setattr(QInputDialog, "getMultiLineText", lambda *args: ("Peak time\nclosing set", True))
    sidebar.note_action.trigger()
    settle(qtbot, window)
    assert find(crate_library, "Sets/2026/Berlin").note == "Peak time\nclosing set"
    tip = sidebar.model.node_index(berlin.id).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.endswith("Peak time\nclosing set")
    checked = sidebar.color_menu(service.node(berlin.id))
    assert [a.text() for a in checked.actions() if a.isChecked()] == ["Blue"]
    window.crates.undo_action.trigger()
    settle(qtbot, window)
    assert find(crate_library, "Sets/2026/Berlin").note == ""
    window.crates.undo_action.trigger()
    settle(qtbot, window)
    assert find(crate_library, "Sets/2026/Berlin").color is None


def test_a_colour_and_note_change_is_one_transaction_and_undoes_in_one(crate_library) -> None:
    berlin = find(crate_library, "Sets/2026/Berlin")
    edit = SetLook(berlin, "#3498db", "Peak time")
    commits = crate_library.commits
    edit.apply(crate_library)
    assert crate_library.commits == commits + 1
    after = find(crate_library, "Sets/2026/Berlin")
    assert (after.color, after.note) == ("#3498db", "Peak time")
    edit.revert(crate_library)
    assert crate_library.commits == commits + 2
    back = find(crate_library, "Sets/2026/Berlin")
    assert (back.color, back.note) == (None, "")


def test_smart_crate_counts_and_rows_follow_analysis_and_tag_edits(
    qtbot, make_window, crate_library, monkeypatch
) -> None:
    monkeypatch.setattr(crate_service, "RECOUNT_AFTER_CHANGES_MS", 10)
    very_fast = crates.create_path(crate_library, "Very fast", "smart", query="bpm:>170")
    window = make_window(crate_library)
    window.library_watcher.stop()  # the window's own signals must do it, not the outside-change watcher
    loaded_tree(qtbot, window)
    service = window.crates.service
    before = TrackView(crate_library, crate_id=very_fast.id).count()
    qtbot.waitUntil(lambda: service.node(very_fast.id).track_count == before, timeout=10_000)
    select(qtbot, window, very_fast.id)
    assert window.model.rowCount() == before

    def shown(rows: int) -> bool:
        return window.model.rowCount() == rows and not window.model.is_loading

    slower = [
        i for (i,) in crate_library.execute("SELECT id FROM tracks WHERE IFNULL(bpm, 0) <= 170 LIMIT 3")
    ]
    found = AnalysisResult(bpm=175.0, bpm_confidence=0.9, key=None, key_confidence=0)
    writer.save_analysis(crate_library, [(track_id, found) for track_id in slower])
    window.analysis.service.tracks_saved.emit(slower)  # what the analysis service says after saving
    qtbot.waitUntil(lambda: service.node(very_fast.id).track_count == before + 3, timeout=10_000)
    assert window.crates.sidebar.model.node_index(very_fast.id, 1).data() == f"{before + 3:,}"
    qtbot.waitUntil(
        lambda: window.model.rowCount() == before + 3 and not window.model.is_loading, timeout=10_000
    )
    assert set(slower) <= set(ids_shown(window))
    with crate_library.write() as conn:  # a tag edit gives one of them its old tempo back
        conn.execute("UPDATE tracks SET bpm = 120 WHERE id = ?", (slower[0],))
    window.player_area.tag_edits.tracks_changed.emit([slower[0]])
    qtbot.waitUntil(lambda: service.node(very_fast.id).track_count == before + 2, timeout=10_000)
    qtbot.waitUntil(
        lambda: window.model.rowCount() == before + 2 and not window.model.is_loading, timeout=10_000
    )


def test_far_rows_of_a_crate_in_another_order_are_read_once_that_order_is_in(
    qtbot, make_window, crate_library, add_tracks, monkeypatch, request
) -> None:
    """Right after a sort change, rows far from those read are left empty rather than read on the GUI
    thread (walking the library's sort index through non-members), and filled in once the crate's ids
    in the new order are in."""
    add_tracks(crate_library, 300, seed=5, start=300)
    everything = crates.create_path(crate_library, "Everything", "crate")
    crates.add_tracks(crate_library, everything.id, list(range(1, 601)))
    monkeypatch.setattr(track_model, "WARM_MIN_ROWS", 0)  # warmed (and deferred) at any size
    monkeypatch.setattr(track_model, "CHEAP_SKIP", 10)
    release = threading.Event()
    request.addfinalizer(release.set)  # before the window shuts down, even if an assert failed
    warm = track_model.KeysetSource.warm

    def held_warm(self, step, should_stop):
        if self.crate_id is not None and not self._view.in_crate_order:
            release.wait(20)  # the crate's ids in the new order are being read
        return warm(self, step, should_stop)

    monkeypatch.setattr(track_model.KeysetSource, "warm", held_warm)
    window = make_window(crate_library)
    select(qtbot, window, everything.id)
    model = window.model
    model.set_order(SortOrder("artist"))
    qtbot.waitUntil(lambda: not model.is_loading, timeout=10_000)
    expected = [t.id for t in TrackView(crate_library, None, SortOrder("artist"), everything.id).rows(0, 600)]
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda first, last, _roles=(): changed.append((first.row(), last.row())))
    assert model.index(3, 0).data(TrackIdRole) == expected[3]  # the first page came with the view
    assert model.index(350, 0).data(TrackIdRole) is None  # far: left for later
    assert model.index(350, 0).data() is None
    release.set()
    qtbot.waitUntil(lambda: (300, 399) in changed, timeout=10_000)
    assert [model.index(row, 0).data(TrackIdRole) for row in range(300, 400)] == expected[300:400]
    assert model.is_warm


def test_the_sidebar_updates_counts_in_place_and_resets_only_for_a_new_tree(qtbot, crate_library) -> None:
    model = SidebarModel()
    nodes = crates.list_nodes(crate_library)
    model.set_nodes(nodes)
    resets: list[bool] = []
    changed: list[int] = []
    model.modelReset.connect(lambda: resets.append(True))
    model.dataChanged.connect(lambda first, _last, _roles=(): changed.append(first.internalId()))
    berlin = find(crate_library, "Sets/2026/Berlin")
    recounted = [dataclasses.replace(n, track_count=7) if n.id == berlin.id else n for n in nodes]
    model.set_nodes(recounted)
    assert resets == [] and len(changed) == 1
    assert model.node_index(berlin.id, 1).data() == "7"
    model.set_nodes([dataclasses.replace(n, name="Hamburg") if n.id == berlin.id else n for n in recounted])
    assert resets == [True]
    assert model.node(berlin.id).name == "Hamburg"
