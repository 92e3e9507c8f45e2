"""The crate tree and crate entries on real SQLite libraries: names, places, order, undo, views."""

from __future__ import annotations

import inspect
import sqlite3
from pathlib import Path

import peewee as pw
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crate_app import crates
from crate_app.domain.crates import CrateTreeError, UnknownCrateError, join_path, split_path
from crate_app.domain.search import parse_query
from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.store import schema, writer
from crate_app.store.filters import SmartQueryError
from crate_app.store.library import open_library
from crate_app.store.view import SortOrder, TrackView


def add_tracks(library, count: int, start: int = 0) -> list[int]:
    items = []
    for number in range(start, start + count):
        tags = TagInfo(
            artist=f"Artist {number % 7}",
            title=f"Song {number:04d}",
            genre=("House", "Techno", "Disco")[number % 3],
            bpm=100.0 + number % 50 if number % 5 else None,
        )
        items.append(ScannedFile(f"/music/{number:05d}.mp3", 1000 + number, 1.0, tags))
    writer.upsert_scanned(library, items, now=1_000_000.0 + number if items else None)
    return [t for (t,) in library.execute("SELECT id FROM tracks ORDER BY id")][start : start + count]


def entries(library, crate_id: int) -> list[tuple[int, int]]:
    return library.execute(
        "SELECT position, track_id FROM crate_entries WHERE crate_id = ? ORDER BY position", (crate_id,)
    ).fetchall()


def assert_dense(library, crate_id: int) -> list[int]:
    rows = entries(library, crate_id)
    assert [p for p, _ in rows] == list(range(len(rows)))
    assert len({t for _, t in rows}) == len(rows)
    (stored,) = library.execute("SELECT track_count FROM crate_nodes WHERE id = ?", (crate_id,)).fetchone()
    assert stored == len(rows)
    return [t for _, t in rows]


def sibling_positions_dense(library) -> None:
    rows = library.execute("SELECT IFNULL(parent_id, 0), position FROM crate_nodes ORDER BY 1, 2").fetchall()
    by_parent: dict[int, list[int]] = {}
    for parent, position in rows:
        by_parent.setdefault(parent, []).append(position)
    for positions in by_parent.values():
        assert positions == list(range(len(positions)))


# -- the tree ----------------------------------------------------------------------------------------
def test_paths_create_folders_and_list_in_tree_order(library) -> None:
    berlin = crates.create_path(library, "Sets/2026/Berlin")
    crates.create_path(library, "Sets/2026/Amsterdam")
    crates.create_path(library, "Warm-up", "crate")
    recent = {"query": "added:<30d", "sort": "date_added", "descending": True, "limit": 100}
    crates.create_path(library, "Sets/Recent", "smart", **recent)
    nodes = crates.list_nodes(library)
    assert [(n.path, n.kind) for n in nodes] == [
        ("Sets", "folder"), ("Sets/2026", "folder"), ("Sets/2026/Berlin", "crate"),
        ("Sets/2026/Amsterdam", "crate"), ("Sets/Recent", "smart"), ("Warm-up", "crate"),
    ]  # fmt: skip
    assert berlin.path == "Sets/2026/Berlin" and berlin.kind == "crate" and berlin.track_count == 0
    assert crates.node_by_path(library, "sets/2026/BERLIN").id == berlin.id  # names ignore case
    smart = crates.node_by_path(library, "Sets/Recent")
    assert (smart.query, smart.sort, smart.descending, smart.limit) == ("added:<30d", "date_added", True, 100)
    sibling_positions_dense(library)


def test_unknown_paths_say_what_is_missing(library) -> None:
    crates.create_path(library, "Sets/Berlin")
    with pytest.raises(UnknownCrateError, match="the folder 'Sets' has no 'Paris'"):
        crates.node_by_path(library, "Sets/Paris")
    with pytest.raises(UnknownCrateError, match="'Sets/Berlin' is a crate, not a folder"):
        crates.node_by_path(library, "Sets/Berlin/Deeper")
    with pytest.raises(CrateTreeError, match="is a crate, not a folder"):
        crates.create_path(library, "Sets/Berlin/Deeper")
    with pytest.raises(CrateTreeError, match="exists already"):
        crates.create_path(library, "SETS/berlin")


def test_names_slash_escaped_in_paths(library) -> None:
    acdc = crates.create_path(library, "Rock/AC\\/DC")
    assert acdc.name == "AC/DC" and acdc.path == "Rock/AC\\/DC"
    back = crates.create_path(library, "Rock/back\\\\slash")
    assert back.name == "back\\slash"
    assert split_path(back.path) == ["Rock", "back\\slash"]
    assert join_path(["Rock", "AC/DC"]) == acdc.path
    assert crates.node_by_path(library, acdc.path).id == acdc.id
    # "AC/DC" is one crate in Rock, not a folder AC holding DC:
    assert [n.path for n in crates.list_nodes(library)] == ["Rock", "Rock/AC\\/DC", "Rock/back\\\\slash"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "needs a name"), ("   ", "needs a name"), ("x" * 200, "200 characters long"), ("a\nb", "control")],
)
def test_bad_names_are_refused_in_words(library, name: str, message: str) -> None:
    with pytest.raises(CrateTreeError, match=message):
        crates.create_node(library, None, name, "crate")
    crate = crates.create_node(library, None, "Fine", "crate")
    with pytest.raises(CrateTreeError, match=message):
        crates.rename_node(library, crate.id, name)
    assert crates.node_by_id(library, crate.id).name == "Fine"


def test_sibling_names_are_unique_ignoring_case(library) -> None:
    folder = crates.create_node(library, None, "Sets", "folder")
    crates.create_node(library, folder.id, "Björk", "crate")
    with pytest.raises(CrateTreeError, match="already a 'Björk' in 'Sets'"):
        crates.create_node(library, folder.id, "BJÖRK", "crate")
    other = crates.create_node(library, None, "Björk", "crate")  # another folder: fine
    with pytest.raises(CrateTreeError, match="already"):
        crates.move_node(library, other.id, folder.id)
    renamed = crates.rename_node(library, other.id, "björk live")
    crates.rename_node(library, renamed.id, "Björk Live")  # only the case changes: allowed
    assert crates.node_by_id(library, other.id).path == "Björk Live"


def test_a_folder_cannot_go_into_itself_or_below_itself(library) -> None:
    top = crates.create_path(library, "A/B/C", "folder")
    a = crates.node_by_path(library, "A")
    with pytest.raises(CrateTreeError, match="inside itself"):
        crates.move_node(library, a.id, a.id)
    with pytest.raises(CrateTreeError, match="inside its own subfolder 'A/B/C'"):
        crates.move_node(library, a.id, top.id)
    crate = crates.create_path(library, "X")
    with pytest.raises(CrateTreeError, match="not a folder"):
        crates.move_node(library, a.id, crate.id)
    assert [n.path for n in crates.list_nodes(library)] == ["A", "A/B", "A/B/C", "X"]


def test_rename_and_move_rewrite_the_paths_below(library) -> None:
    crates.create_path(library, "Sets/2026/Berlin")
    crates.create_path(library, "Sets/2026/Paris")
    crates.create_path(library, "Archive", "folder")
    year = crates.node_by_path(library, "Sets/2026")
    crates.rename_node(library, year.id, "2027")
    assert crates.node_by_path(library, "Sets/2027/Paris").name == "Paris"
    with pytest.raises(UnknownCrateError):
        crates.node_by_path(library, "Sets/2026/Paris")
    archive = crates.node_by_path(library, "Archive")
    crates.move_node(library, year.id, archive.id)
    assert [n.path for n in crates.list_nodes(library)] == [
        "Sets", "Archive", "Archive/2027", "Archive/2027/Berlin", "Archive/2027/Paris",
    ]  # fmt: skip
    crates.move_node(library, crates.node_by_path(library, "Archive/2027/Paris").id, year.id, 0)
    assert [n.name for n in crates.children_of(library, year.id)] == ["Paris", "Berlin"]
    sibling_positions_dense(library)


def test_delete_and_restore_bring_back_the_same_ids_and_order(library) -> None:
    ids = add_tracks(library, 60)
    berlin = crates.create_path(library, "Sets/2026/Berlin")
    paris = crates.create_path(library, "Sets/2026/Paris")
    after = crates.create_path(library, "Sets/Later")
    crates.add_tracks(library, berlin.id, ids[::-1])
    crates.add_tracks(library, paris.id, ids[10:20])
    before = crates.list_nodes(library)
    year = crates.node_by_path(library, "Sets/2026")
    taken = crates.delete_node(library, year.id)
    assert [n.path for n in crates.list_nodes(library)] == ["Sets", "Sets/Later"]
    assert crates.node_by_id(library, after.id).position == 0  # siblings closed up
    assert library.execute("SELECT COUNT(*) FROM crate_entries").fetchone()[0] == 0
    assert taken.track_entries == 70
    crates.restore_subtree(library, taken)
    assert crates.list_nodes(library) == before
    assert crates.crate_track_ids(library, berlin.id) == ids[::-1]
    with pytest.raises(CrateTreeError, match="back already"):
        crates.restore_subtree(library, taken)
    sibling_positions_dense(library)


def test_duplicate_copies_a_folder_with_its_crates(library) -> None:
    ids = add_tracks(library, 10)
    berlin = crates.create_path(library, "Sets/Berlin")
    crates.add_tracks(library, berlin.id, ids[3:8])
    sets = crates.node_by_path(library, "Sets")
    copy = crates.duplicate_node(library, sets.id)
    again = crates.duplicate_node(library, sets.id)
    assert (copy.name, again.name) == ("Sets copy", "Sets copy 2")
    assert [n.path for n in crates.list_nodes(library)] == [
        "Sets", "Sets/Berlin", "Sets copy 2", "Sets copy 2/Berlin", "Sets copy", "Sets copy/Berlin",
    ]  # fmt: skip
    assert crates.crate_track_ids(library, crates.node_by_path(library, "Sets copy/Berlin").id) == ids[3:8]


def test_smart_crates_check_their_rules(library) -> None:
    add_tracks(library, 30)
    with pytest.raises(SmartQueryError, match="at position 5") as caught:
        crates.create_path(library, "Bad", "smart", query="bpm:>")
    assert caught.value.position == 4
    with pytest.raises(CrateTreeError, match="cannot sort by"):
        crates.create_path(library, "Bad", "smart", query="house", sort="nonsense")
    with pytest.raises(CrateTreeError, match="limit"):
        crates.create_path(library, "Bad", "smart", query="house", limit=0)
    with pytest.raises(UnknownCrateError):
        crates.create_path(library, "Bad", "smart", query='crate:"Nowhere"')
    first = crates.create_path(library, "First", "smart", query="genre:house")
    second = crates.create_path(library, "Second", "smart", query="crate:First bpm:>110")
    with pytest.raises(SmartQueryError, match="refers to itself"):
        crates.update_smart(library, first.id, "crate:Second")
    assert crates.node_by_id(library, first.id).query == "genre:house"  # unchanged
    assert crates.node_by_id(library, second.id).track_count == library.count(
        parse_query("genre:house bpm:>110")
    )


def test_a_smart_query_that_stops_parsing_shows_an_error(library) -> None:
    add_tracks(library, 10)
    smart = crates.create_path(library, "Old", "smart", query="genre:house")
    with library.write() as conn:  # as if saved by a Crate whose language was different
        conn.execute("UPDATE crate_nodes SET query = 'genre:house AND (' WHERE id = ?", (smart.id,))
    node = crates.node_by_id(library, smart.id)
    assert node.track_count is None and "does not parse, at position" in node.error
    assert [n.error is not None for n in crates.list_nodes(library)] == [True]
    with pytest.raises(SmartQueryError):
        TrackView(library, crate_id=smart.id)
    fixed = crates.update_smart(library, smart.id, "genre:house")  # still editable
    assert fixed.error is None and fixed.track_count == library.count(parse_query("genre:house"))


# -- entries -----------------------------------------------------------------------------------------
def test_add_counts_what_was_there_and_what_is_unknown(library) -> None:
    ids = add_tracks(library, 20)
    crate = crates.create_path(library, "C")
    change = crates.add_tracks(library, crate.id, [ids[3], ids[1], ids[3], 999_999])
    assert (change.added, change.already, change.unknown, change.tracks) == (
        (ids[3], ids[1]),
        (),
        (999_999,),
        2,
    )
    change = crates.add_tracks(library, crate.id, [ids[1], ids[5]], position=0)
    assert (change.added, change.already, change.position) == ((ids[5],), (ids[1],), 0)
    assert assert_dense(library, crate.id) == [ids[5], ids[3], ids[1]]
    folder = crates.create_path(library, "F", "folder")
    with pytest.raises(CrateTreeError, match="is a folder"):
        crates.add_tracks(library, folder.id, ids)
    smart = crates.create_path(library, "S", "smart", query="house")
    with pytest.raises(CrateTreeError, match="smart crate"):
        crates.remove_tracks(library, smart.id, ids)


def test_adding_and_undoing_a_removal_check_the_tracks_themselves_and_leave_foreign_keys_on(library) -> None:
    """add_tracks and restore_entries write without SQLite's per-row foreign key check (they check the
    tracks in one pass themselves): no entry may name a missing track, and the check is on again after."""
    ids = add_tracks(library, 10)
    crate = crates.create_path(library, "C")
    change = crates.add_tracks(library, crate.id, [ids[0], 999_999, ids[1], ids[2]])
    assert change.unknown == (999_999,)
    removed = crates.remove_tracks(library, crate.id, [ids[1], ids[2]])
    with library.write() as conn:  # one removed track is deleted before the undo
        conn.execute("DELETE FROM tracks WHERE id = ?", (ids[2],))
    crates.restore_entries(library, removed)
    assert assert_dense(library, crate.id) == [ids[0], ids[1]]
    assert library.execute("PRAGMA foreign_key_check(crate_entries)").fetchall() == []
    assert library.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    dangling = "INSERT INTO crate_entries (crate_id, track_id, position, added_at) VALUES (?, 999999, 9, 0)"
    with pytest.raises(sqlite3.IntegrityError), library.write() as conn:  # enforced for every other write
        conn.execute(dangling, (crate.id,))
    with pytest.raises(CrateTreeError):  # and after a failed relaxed write too
        crates.add_tracks(library, 424_242, [ids[0]])
    assert library.execute("PRAGMA foreign_keys").fetchone()[0] == 1


class Model:
    """The crate as a Python list: what every operation should do."""

    def __init__(self) -> None:
        self.order: list[int] = []

    def add(self, ids: list[int], position: int | None) -> None:
        new = [t for t in dict.fromkeys(ids) if t not in self.order]
        at = len(self.order) if position is None else max(0, min(position, len(self.order)))
        self.order[at:at] = new

    def remove(self, ids: list[int]) -> None:
        gone = set(ids)
        self.order = [t for t in self.order if t not in gone]

    def move(self, ids: list[int], to: int) -> None:
        moving = [t for t in dict.fromkeys(ids) if t in self.order]
        if not moving:
            return
        to = max(0, min(to, len(self.order)))
        before = [t for t in self.order[:to] if t not in moving]
        after = [t for t in self.order[to:] if t not in moving]
        self.order = before + moving + after


_ids = st.lists(st.integers(0, 24), max_size=8)
_operation = st.one_of(
    st.tuples(st.just("add"), _ids, st.none() | st.integers(-2, 30)),
    st.tuples(st.just("remove"), _ids, st.none()),
    st.tuples(st.just("move"), _ids, st.integers(-2, 30)),
    st.tuples(st.just("undo_remove"), _ids, st.none()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(_operation, max_size=12))
def test_any_sequence_of_edits_keeps_positions_dense_and_order_exact(tmp_path_factory, operations) -> None:
    library = open_library(tmp_path_factory.mktemp("prop") / "lib.sqlite")
    ids = add_tracks(library, 25)
    crate = crates.create_path(library, "C")
    other = crates.create_path(library, "Other")
    crates.add_tracks(library, other.id, ids[::2])
    model = Model()
    for kind, picks, where in operations:
        chosen = [ids[p] for p in picks]
        if kind == "add":
            crates.add_tracks(library, crate.id, chosen, where)
            model.add(chosen, where)
        elif kind == "remove":
            crates.remove_tracks(library, crate.id, chosen)
            model.remove(chosen)
        elif kind == "move":
            crates.move_entries(library, crate.id, chosen, where)
            model.move(chosen, where)
        else:
            before = list(model.order)
            change = crates.remove_tracks(library, crate.id, chosen)
            crates.restore_entries(library, change)
            assert assert_dense(library, crate.id) == before
        assert assert_dense(library, crate.id) == model.order
    assert assert_dense(library, other.id) == ids[::2]  # another crate is never touched
    library.close()


def test_membership_follows_the_track_id_through_path_and_status_changes(library) -> None:
    ids = add_tracks(library, 5)
    crate = crates.create_path(library, "C")
    crates.add_tracks(library, crate.id, ids)
    with library.write() as conn:  # as the rename executor does: the path changes, the id stays
        conn.execute("UPDATE tracks SET path = '/elsewhere/x.mp3' WHERE id = ?", (ids[2],))
    writer.set_status(library, [ids[3]], writer.TrackStatus.MISSING)
    add_tracks(library, 5)  # a rescan of the same files: an upsert on their paths
    assert crates.crate_track_ids(library, crate.id) == ids
    assert [n.id for n in crates.crates_of_track(library, ids[3])] == [crate.id]
    # A track in a crate cannot vanish from the library under it:
    with pytest.raises((sqlite3.IntegrityError, pw.IntegrityError)), library.write() as conn:
        conn.execute("DELETE FROM tracks WHERE id = ?", (ids[0],))


# -- views -------------------------------------------------------------------------------------------
def test_crate_view_pages_in_crate_order_and_in_any_sort(library) -> None:
    ids = add_tracks(library, 400)
    crate = crates.create_path(library, "C")
    chosen = ids[::3][::-1]
    crates.add_tracks(library, crate.id, chosen)
    view = TrackView(library, crate_id=crate.id)
    assert view.order == SortOrder("position") and view.count() == len(chosen)
    assert [t.id for offset in range(0, 140, 25) for t in view.rows(offset, 25)] == chosen
    assert [
        t.id for t in TrackView(library, None, SortOrder("position", True), crate.id).rows(0, 200)
    ] == chosen[::-1]
    records = library.tracks_by_ids(chosen)
    by_bpm = [r.id for r in sorted(records, key=lambda r: (r.bpm if r.bpm is not None else -1, r.id))]
    view = TrackView(library, None, SortOrder("bpm"), crate.id)
    assert [t.id for t in view.rows(90, 20)] == by_bpm[90:110]  # from the start, no anchors yet
    assert view.warm(step=16)
    assert [t.id for t in view.rows(37, 30)] == by_bpm[37:67]  # from an anchor
    assert view.row_of_id(by_bpm[50]) == 50
    searched = TrackView(library, parse_query("genre:house"), SortOrder("position"), crate.id)
    expected = [r.id for r in library.tracks_by_ids(chosen) if r.genre == "House"]
    assert [t.id for t in searched.rows(0, 500)] == expected
    assert searched.row_of_id(expected[7]) == 7
    sql, params = TrackView(library, None, SortOrder("bpm", True), crate.id).ordered_ids_sql()
    assert [t for (t,) in library.execute(sql, params)] == by_bpm[::-1]
    # The ids on a run of rows (a selection), in any order: crate order is one seek on positions.
    assert TrackView(library, crate_id=crate.id).ids_of_rows(10, 29) == chosen[10:30]
    backwards = TrackView(library, None, SortOrder("position", True), crate.id)
    assert backwards.in_crate_order and backwards.ids_of_rows(0, 4) == chosen[::-1][:5]
    assert view.ids_of_rows(100, 132) == by_bpm[100:133] and not view.in_crate_order


def test_smart_crate_view_uses_its_sort_and_limit(library) -> None:
    ids = add_tracks(library, 100)
    smart = crates.create_path(library, "Fast", "smart", query="genre:house OR genre:disco", sort="bpm",
                               descending=True, limit=10)  # fmt: skip
    records = [r for r in library.tracks_by_ids(ids) if r.genre in ("House", "Disco")]
    top = sorted(records, key=lambda r: (r.bpm if r.bpm is not None else -1, r.id), reverse=True)[:10]
    view = TrackView(library, crate_id=smart.id)
    assert view.order == SortOrder("bpm", True)
    assert [t.id for t in view.rows(0, 50)] == [r.id for r in top]
    by_title = TrackView(library, None, SortOrder("title"), smart.id)
    assert [t.id for t in by_title.rows(0, 50)] == [r.id for r in sorted(top, key=lambda r: (r.title, r.id))]
    assert crates.crate_track_ids(library, smart.id) == [r.id for r in top]
    assert crates.node_by_id(library, smart.id).track_count == 10
    with pytest.raises(ValueError, match="position"):
        TrackView(library, None, SortOrder("position"))


def test_crates_of_track(library) -> None:
    ids = add_tracks(library, 10)
    b = crates.create_path(library, "Sets/B")
    a = crates.create_path(library, "Sets/A")
    crates.add_tracks(library, b.id, ids[:3])
    crates.add_tracks(library, a.id, ids[2:4])
    crates.create_path(library, "Smart", "smart", query=f'title:"Song {2:04d}"')
    assert [n.path for n in crates.crates_of_track(library, ids[2])] == ["Sets/A", "Sets/B"]
    assert [n.path for n in crates.crates_of_track(library, ids[2], smart=True)] == [
        "Sets/A",
        "Sets/B",
        "Smart",
    ]
    assert crates.crates_of_track(library, ids[9]) == []


# -- upgrade -----------------------------------------------------------------------------------------
def test_a_library_made_before_crates_opens_and_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = pw.SqliteDatabase(str(path))
    db.connect()
    crates_version = next(v for v, m in schema.MIGRATIONS if "crate_nodes" in inspect.getsource(m))
    with db.bind_ctx(schema.MODELS):  # the schema as Crate made it before crates
        db.create_tables([schema.SchemaVersion])
        for version, migration in schema.MIGRATIONS:
            if version < crates_version:
                with db.atomic():
                    migration(db)
                    db.execute_sql("INSERT INTO schema_version (version) VALUES (?)", (version,))
    db.close()
    # Tracks written into the old schema with raw SQL, as the old writer did.
    connection = sqlite3.connect(path)
    rows = [(f"/m/{n}.mp3", "/m", f"{n}.mp3", f"Title {n}") for n in range(50)]
    connection.executemany(
        "INSERT INTO tracks (path, folder, filename, title, size, mtime, format, codec, artist, album, "
        "albumartist, genre, comment, label, date_added, last_scanned, status) "
        "VALUES (?, ?, ?, ?, 1, 1, '', '', '', '', '', '', '', '', 1, 1, 'ok')",
        rows,
    )
    connection.execute("INSERT INTO tracks_fts(tracks_fts) VALUES ('rebuild')")
    connection.commit()
    assert connection.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == crates_version - 1
    connection.close()
    library = open_library(path)
    assert library.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == schema.latest_version()
    assert (tmp_path / f"old.sqlite.v{crates_version - 1}.bak").exists()
    assert library.count() == 50 and library.count(parse_query("title 7")) == 1
    crate = crates.create_path(library, "Upgraded/Crate")
    crates.add_tracks(library, crate.id, [t for (t,) in library.execute("SELECT id FROM tracks")])
    assert crates.node_by_path(library, "upgraded/crate").track_count == 50
    indexes = library.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'crate_entries' "
        "AND sql IS NOT NULL"
    ).fetchall()
    assert indexes == [("idx_crate_entries_track_crate",)]  # one index on track ids (migration 10)
    with pytest.raises(sqlite3.IntegrityError), library.write() as conn:  # still each track once in a crate
        conn.execute("INSERT INTO crate_entries VALUES (?, 1, 999, 0)", (crate.id,))
    assert [c.path for c in crates.crates_of_track(library, 1)] == ["Upgraded/Crate"]
    library.close()


def test_smart_crates_follow_a_renamed_or_moved_crate(library) -> None:
    ids = add_tracks(library, 12)
    berlin = crates.create_path(library, "Sets/Berlin")
    crates.add_tracks(library, berlin.id, ids[:4])
    inner = crates.create_path(library, "Sets/Deep/Inner")
    crates.add_tracks(library, inner.id, ids[8:])
    smart = crates.create_path(
        library, "Mix", "smart", query='crate:sets/berlin OR (crate:"Sets/Deep/Inner" -x)'
    )
    crates.rename_node(library, berlin.id, "Berlin 2026")
    crates.rename_node(library, crates.node_by_path(library, "Sets/Deep").id, "Deeper")
    archive = crates.create_path(library, "Archive", "folder")
    crates.move_node(library, crates.node_by_path(library, "Sets").id, archive.id)
    node = crates.node_by_id(library, smart.id)
    assert node.query == 'crate:"Archive/Sets/Berlin 2026" OR (crate:"Archive/Sets/Deeper/Inner" -x)'
    assert node.error is None and node.track_count == 8
    crates.delete_node(library, berlin.id)  # gone: the smart crate says so instead of failing
    assert "no crate 'Archive/Sets/Berlin 2026'" in crates.node_by_id(library, smart.id).error


def test_two_processes_adding_to_one_crate_never_duplicate(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "library.sqlite"
    library = open_library(path)
    ids = add_tracks(library, 400)
    crate = crates.create_path(library, "Shared")
    library.close()
    code = (
        "import random, sys\n"
        "from crate_app import crates\n"
        "from crate_app.store.library import open_library\n"
        "library = open_library(sys.argv[1])\n"
        "rng = random.Random(int(sys.argv[2]))\n"
        "for _ in range(25):\n"
        f"    picks = rng.sample(range({ids[0]}, {ids[-1] + 1}), 30)\n"
        f"    crates.add_tracks(library, {crate.id}, picks, rng.choice([None, 0, 5]))\n"
        f"    crates.remove_tracks(library, {crate.id}, picks[:5])\n"
        "    crates.create_node(library, None, f'{sys.argv[2]}-{_}', 'crate')\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**__import__("os").environ, "PYTHONPATH": str(root)}
    children = [
        subprocess.Popen([sys.executable, "-c", code, str(path), str(seed)], env=env, stderr=subprocess.PIPE)
        for seed in (1, 2, 3)
    ]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err.decode()
    library = open_library(path)
    assert_dense(library, crate.id)  # positions 0..n-1, each track once, the stored count right
    assert len(crates.list_nodes(library)) == 1 + 3 * 25
    sibling_positions_dense(library)
    library.close()
