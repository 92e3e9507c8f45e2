"""The track table model on a real library many pages long: Qt's model tester through sort, search
and refresh, the SQL order, in-place row updates."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from crate_app.domain.keys import KeyNotation
from crate_app.domain.search import parse_query
from crate_app.domain.track import AnalysisResult
from crate_app.gui.track_model import COLUMN_NAMES, PAGE_SIZE, TrackIdRole, TrackTableModel
from crate_app.store import writer
from crate_app.store.view import SortOrder

N = 1300  # 6.5 pages


@pytest.fixture
def model(qtbot, library, add_tracks):
    add_tracks(library, N)
    model = TrackTableModel(library)
    with qtbot.waitSignal(model.view_applied, timeout=10_000):
        pass
    yield model
    model.shutdown()


def ids_in_model(model: TrackTableModel) -> list[int]:
    return [model.index(row, 0).data(TrackIdRole) for row in range(model.rowCount())]


def ids_in_sql(library, order: SortOrder, query: str = "") -> list[int]:
    return list(library.iter_track_ids(parse_query(query) if query else None, order.column))[
        :: -1 if order.descending else 1
    ]


def apply(qtbot, model: TrackTableModel, action) -> None:
    with qtbot.waitSignal(model.view_applied, timeout=10_000):
        action()


def test_model_tester_through_sorts_and_searches(qtbot, qtmodeltester, model, library) -> None:
    assert model.rowCount() == N
    qtmodeltester.check(model)
    apply(qtbot, model, lambda: model.sort(COLUMN_NAMES.index("bpm"), Qt.SortOrder.DescendingOrder))
    qtmodeltester.check(model)
    apply(qtbot, model, lambda: model.set_query(parse_query("daft")))
    assert model.rowCount() == library.count(parse_query("daft")) > PAGE_SIZE
    qtmodeltester.check(model)
    apply(qtbot, model, lambda: model.set_query(None))
    assert model.rowCount() == N


@pytest.mark.parametrize("column", ["artist", "bpm", "key", "year", "path"])
@pytest.mark.parametrize("descending", [False, True])
def test_rows_follow_the_sql_order(qtbot, model, library, column: str, descending: bool) -> None:
    order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
    if model.order != SortOrder(column, descending):
        apply(qtbot, model, lambda: model.sort(COLUMN_NAMES.index(column), order))
    assert ids_in_model(model) == ids_in_sql(library, SortOrder(column, descending))


def test_a_search_with_a_sort_shows_exactly_the_matches_in_order(qtbot, model, library) -> None:
    apply(qtbot, model, lambda: model.set_query(parse_query("genre:house bpm:120-128")))
    apply(qtbot, model, lambda: model.sort(COLUMN_NAMES.index("year"), Qt.SortOrder.AscendingOrder))
    expected = ids_in_sql(library, SortOrder("year"), "genre:house bpm:120-128")
    assert 0 < len(expected) < N
    assert ids_in_model(model) == expected


def test_only_the_latest_request_is_applied(qtbot, model, library) -> None:
    applied: list[int] = []
    model.view_applied.connect(lambda: applied.append(model.rowCount()))
    for text in ("d", "da", "daf", "daft"):
        model.set_query(parse_query(text))
    qtbot.waitUntil(lambda: not model.is_loading, timeout=10_000)
    model.wait()
    assert applied == [library.count(parse_query("daft"))]


def test_refresh_tracks_updates_loaded_rows_in_place(qtbot, model, library) -> None:
    model.index(0, 0).data()  # page 0 is loaded, the last page is not
    first = [model.index(row, 0).data(TrackIdRole) for row in range(3)]
    last_row = model.rowCount() - 1
    last_id = model.track_at(last_row, load=False)
    assert last_id is None
    writer.save_analysis(library, [(tid, AnalysisResult(99.0, 1.0, 14, 1.0)) for tid in first])
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, roles=(): changed.append((top.row(), bottom.row())))
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    assert model.refresh_tracks([*first, 10**9]) == 3
    assert changed == [(0, 2)]
    assert not resets
    bpm, key = COLUMN_NAMES.index("bpm"), COLUMN_NAMES.index("key")
    assert [model.index(row, bpm).data() for row in range(3)] == ["99.0"] * 3
    assert model.index(0, key).data() == "8A"
    model.set_key_notation(KeyNotation.MUSICAL)
    assert model.index(0, key).data() == "Am"

    writer.set_rating(library, first[:1], 4)  # the rating column: stars, and the colour beside them
    writer.set_color(library, first[:1], "red")
    model.refresh_tracks(first[:1])
    rating = COLUMN_NAMES.index("rating")
    assert model.index(0, rating).data() == "\u2605" * 4 and model.index(1, rating).data() == ""
    assert model.index(0, rating).data(Qt.ItemDataRole.DecorationRole).name() == "#e0301e"
    assert model.index(1, rating).data(Qt.ItemDataRole.DecorationRole) is None
    assert model.index(0, bpm).data(Qt.ItemDataRole.DecorationRole) is None


def test_refresh_after_a_scan_keeps_selection_and_pinned_row_on_their_tracks(
    qtbot, qtmodeltester, model, library, add_tracks
) -> None:
    qtmodeltester.check(model)
    selection = QItemSelectionModel(model)
    selected_row, pinned_row = 500, 700
    selected_id = model.index(selected_row, 0).data(TrackIdRole)
    pinned_id = model.index(pinned_row, 0).data(TrackIdRole)
    selection.setCurrentIndex(model.index(selected_row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    add_tracks(library, 400, seed=2, start=N)  # new tracks land all over the artist order
    moved: list[int] = []
    model.pinned_row_moved.connect(moved.append)
    with qtbot.waitSignals([model.view_applied, model.pinned_row_moved], timeout=10_000):
        model.refresh(pin_row=pinned_row)
    assert model.rowCount() == N + 400
    assert not resets
    current = selection.currentIndex()
    assert current.isValid() and current.data(TrackIdRole) == selected_id
    assert current.row() != selected_row  # it moved, and the selection followed it
    assert len(moved) == 1 and moved[0] != pinned_row
    assert model.index(moved[0], 0).data(TrackIdRole) == pinned_id
    assert ids_in_model(model) == ids_in_sql(library, SortOrder("artist"))


def test_a_big_unfiltered_view_is_warmed_again_after_the_refreshes_of_a_scan(
    qtbot, library, add_tracks, monkeypatch
) -> None:
    from crate_app.gui import track_model

    monkeypatch.setattr(track_model, "WARM_MIN_ROWS", 500)
    monkeypatch.setattr(track_model, "WARM_AFTER_REFRESH_MS", 50)
    monkeypatch.setattr(track_model, "ANCHOR_STEP", 97)
    add_tracks(library, 700)
    order = SortOrder("title", descending=True)
    model = TrackTableModel(library, order)
    qtbot.waitUntil(lambda: not model.is_loading and model.is_warm, timeout=10_000)
    assert ids_in_model(model) == ids_in_sql(library, order)
    add_tracks(library, 150, start=700)  # as a scan does: new tracks, then a refresh
    with qtbot.waitSignal(model.view_applied, timeout=10_000):
        model.refresh()
    assert not model.is_warm  # the anchors of the old rows were dropped ...
    qtbot.waitUntil(lambda: model.is_warm, timeout=10_000)  # ... and found again after the pause
    assert model.rowCount() == 850
    assert ids_in_model(model) == ids_in_sql(library, order)
    model.shutdown()


@pytest.mark.parametrize("column", ["artist", "bpm"])
def test_a_warmed_keyset_source_reads_the_same_rows(library, add_tracks, column: str) -> None:
    from crate_app.gui.track_model import KeysetSource

    add_tracks(library, N)
    order = SortOrder(column, descending=True)
    expected = ids_in_sql(library, order)
    source = KeysetSource(library, order, N)
    assert source.warm(5, lambda: False) and source.is_warm
    for offset in (0, 96, 97, 500, 1234, N - 3, 4, 5, 6):
        assert [t.id for t in source.rows(offset, 40)] == expected[offset : offset + 40]
    # Stopped half-way (a newer sort came in): the keys found so far are used, rows stay right.
    calls = iter(range(10**6))
    partly = KeysetSource(library, order, N)
    assert not partly.warm(5, lambda: next(calls) >= 60) and not partly.is_warm
    for offset in (777, 3, N - 41, 160, 161, 1000):
        assert [t.id for t in partly.rows(offset, 40)] == expected[offset : offset + 40]


def test_warming_reads_the_halvings_first_then_every_step() -> None:
    from crate_app.gui.track_model import _coarse_to_fine

    rows = _coarse_to_fine(10, 1_000_001)  # multiples 1..100_000 of 10
    assert sorted(rows) == list(range(10, 1_000_001, 10))
    assert rows[:4] == [655_360, 327_680, 983_040, 163_840]  # 2**16 * 10, then its halves, ...
    coarse = [row for row in rows if row % 320 == 0]
    assert rows[: len(coarse)] == coarse  # every 32nd step before any finer one
