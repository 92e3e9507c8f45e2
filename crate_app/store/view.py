"""A sorted, filtered window onto the tracks table that pages by keyset, for tables of 1M rows.

``TrackView.rows(offset, limit)`` answers "rows 812,400 to 812,600 in this sort order" without
loading anything else: it remembers the sort key of the first and last row of every page it has
loaded (anchors) and seeks from the nearest anchor, or from either end, skipping only the rows in
between on the (expr, id) index.  Scrolling page by page therefore costs one index seek per page.

A view may be scoped to a crate (``crate_id``):

- a static crate's tracks, in crate order by default (``SortOrder("position")``).  Its positions are
  0..n-1, so without a search any row in crate order is one seek on (crate_id, position).  In another
  order the view walks that column's index and keeps the crate's tracks (one probe each on
  (crate_id, track_id)); ``warm()`` then reads the crate's order once (one sort of its tracks) and
  keeps an anchor every ``step`` rows, after which a jump anywhere skips fewer than ``step`` tracks.
- a smart crate's tracks: its query (and limit) as SQL, in its own sort order by default.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

from crate_app.domain.crates import CrateTreeError
from crate_app.domain.search import ParsedQuery
from crate_app.domain.track import TrackRecord
from crate_app.store.filters import NODE_COLUMNS, count_sql, node_row_by_id, smart_selection_sql, where_clause
from crate_app.store.library import TRACK_COLUMNS_SQL, Library, record_from_row
from crate_app.store.schema import SORTABLE_COLUMNS, sort_expression

POSITION = "position"  # the sort column of a static crate's own order
_ENTRIES_JOIN = "crate_entries JOIN tracks ON tracks.id = crate_entries.track_id"
WARM_STEP = 25


@dataclass(frozen=True, slots=True)
class SortOrder:
    column: str = "artist"
    descending: bool = False

    def __post_init__(self) -> None:
        if self.column not in (*SORTABLE_COLUMNS, "id", POSITION):
            raise ValueError(f"cannot sort by {self.column!r}")


class TrackView:
    """Count and page through the tracks matching ``query`` in ``order`` (in a crate: see the module
    docstring).  ``order`` None: by artist, a static crate in crate order, a smart crate in its sort.

    Raises CrateTreeError for an unknown crate or a folder, SmartQueryError for a smart crate whose
    query no longer parses.
    """

    def __init__(
        self,
        library: Library,
        query: ParsedQuery | None = None,
        order: SortOrder | None = None,
        crate_id: int | None = None,
    ):
        self.library = library
        self.query = query
        self.crate_id = crate_id
        self.crate_kind: str | None = None
        where, params = where_clause(query, library)
        self._from = "tracks"
        # A static crate is counted from its entries (COUNT over its tracks, not over the library).
        self._count_sql: tuple[str, list[object]] | None = None
        self._positions_direct = False  # rows in crate order without a search: position = row
        self._sort_crate_alone = False  # a static crate in another order, no search (ordered_ids_sql)
        if crate_id is None:
            order = order or SortOrder()
        else:
            row = node_row_by_id(library, crate_id)
            if row is None:
                raise CrateTreeError(f"no crate with id {crate_id} (it was deleted?)")
            self.crate_kind = row[NODE_COLUMNS.index("kind")]
            if self.crate_kind == "folder":
                raise CrateTreeError(f"'{row[NODE_COLUMNS.index('path')]}' is a folder, not a crate")
            if self.crate_kind == "smart":
                smart, smart_params = smart_selection_sql(library, row)
                where, params = _both(smart, smart_params, where, params)
                if order is None:
                    sort = row[NODE_COLUMNS.index("sort")] or "artist"
                    order = SortOrder(sort, bool(row[NODE_COLUMNS.index("descending")]))
            else:
                order = order or SortOrder(POSITION)
                count_where, count_params = _both("crate_entries.crate_id = ?", [crate_id], where, params)
                self._count_sql = (
                    f"SELECT COUNT(*) FROM {_ENTRIES_JOIN} WHERE {count_where}"
                    if count_where != "crate_entries.crate_id = ?"
                    else "SELECT COUNT(*) FROM crate_entries WHERE crate_entries.crate_id = ?",
                    count_params,
                )
                if order.column == POSITION:
                    self._from = _ENTRIES_JOIN
                    where, params = _both("crate_entries.crate_id = ?", [crate_id], where, params)
                    self._positions_direct = query is None or query.is_empty
                else:
                    self._sort_crate_alone = query is None or query.is_empty
                    member = (
                        "EXISTS (SELECT 1 FROM crate_entries WHERE crate_id = ? AND track_id = tracks.id)"
                    )
                    where, params = _both(member, [crate_id], where, params)
        assert order is not None
        if order.column == POSITION and self._from == "tracks":
            raise ValueError("only a (static) crate's view can be sorted by its position")
        self.order = order
        self._where, self._params = where, params
        self._expr = "crate_entries.position" if order.column == POSITION else sort_expression(order.column)
        self._count: int | None = None
        self._rows_from: str | None = None  # FROM of the row queries, chosen at the first page
        self._anchor_rows: list[int] = []  # sorted row numbers with a known sort key
        self._anchor_keys: dict[int, tuple[object, int]] = {}

    def count(self) -> int:
        """Number of matching tracks (cached until ``invalidate()``)."""
        if self._count is None:
            where = self._where
            sql, params = self._count_sql or (
                count_sql(where)
                if self._from == "tracks"
                else f"SELECT COUNT(*) FROM {self._from} WHERE {where}",
                self._params,
            )
            self._count = self.library.execute(sql, params).fetchone()[0]
        return self._count

    def _page_from(self) -> str:
        """The FROM clause of the row queries.  A filtered view that keeps a fair share of the library
        (2% or more: a big crate, a smart crate of 100,000 tracks) walks the sort column's index and
        filters as it goes (INDEXED BY): SQLite would otherwise often take the filter's index and sort
        every match to return 100 of them (seconds for 120,000 matches).  A small one is left to SQLite."""
        if self._rows_from is None:
            self._rows_from = self._from
            column = self.order.column
            if (
                self._from == "tracks"
                and self._where != "1"
                and column in SORTABLE_COLUMNS
                and column != "path"
            ):
                (largest,) = self.library.execute("SELECT COALESCE(MAX(id), 0) FROM tracks").fetchone()
                if self.count() * 50 >= largest:
                    self._rows_from = f"tracks INDEXED BY idx_tracks_sort_{column}"
        return self._rows_from

    def invalidate(self) -> None:
        """Forget the count and anchors (after rows were added, removed or re-sorted)."""
        self._count = None
        self._anchor_rows.clear()
        self._anchor_keys.clear()

    def rows(self, offset: int, limit: int) -> list[TrackRecord]:
        """Rows ``offset`` .. ``offset + limit - 1`` in the view's order (fewer at the end)."""
        total = self.count()
        if offset >= total or limit <= 0:
            return []
        limit = min(limit, total - offset)
        if self._positions_direct:
            return self._rows_by_position(offset, limit, total)
        forward = self.order.descending is False
        skip, start, anchor_row = self._plan(offset, limit, total)
        ascending_scan = start in ("start", "after")
        scan_ascending = ascending_scan == forward
        if anchor_row is None:
            direction = "" if scan_ascending else " DESC"
            sql = (
                f"SELECT {TRACK_COLUMNS_SQL}, {self._expr} FROM {self._page_from()} WHERE {self._where} "
                f"ORDER BY {self._expr}{direction}, id{direction} LIMIT ? OFFSET ?"
            )
            fetched = self.library.execute(sql, [*self._params, limit, skip]).fetchall()
        else:
            fetched = self._seek_from(self._anchor_keys[anchor_row], scan_ascending, skip, limit)
        if not ascending_scan:
            fetched.reverse()
        records = [record_from_row(row[:-1]) for row in fetched]
        if fetched:
            self.remember(offset, (fetched[0][-1], records[0].id))
            self.remember(offset + len(fetched) - 1, (fetched[-1][-1], records[-1].id))
        return records

    def _plan(self, offset: int, limit: int, total: int) -> tuple[int, str, int | None]:
        """(rows to skip, where from, the anchor's row) of the cheapest way to rows ``offset`` ..."""
        # Candidate starting points and the number of index entries each must skip.
        plans: list[tuple[int, str, int | None]] = [
            (offset, "start", None),
            (total - offset - limit, "end", None),
        ]
        position = bisect.bisect_left(self._anchor_rows, offset) - 1  # strictly above the first row
        if position >= 0:
            below = self._anchor_rows[position]
            plans.append((offset - below - 1, "after", below))
        following = bisect.bisect_left(self._anchor_rows, offset + limit)  # strictly below the last row
        if following < len(self._anchor_rows):
            above = self._anchor_rows[following]
            plans.append((above - offset - limit, "before", above))
        return min(plans, key=lambda plan: plan[0])

    def rows_to_skip(self, offset: int, limit: int) -> int:
        """How many of the view's rows ``rows(offset, limit)`` would skip to get there (0: a seek)."""
        total = self.count()
        if self._positions_direct or offset >= total or limit <= 0:
            return 0
        return max(0, self._plan(offset, min(limit, total - offset), total)[0])

    def _rows_by_position(self, offset: int, limit: int, total: int) -> list[TrackRecord]:
        """A static crate in its own order, no search: row r is position r (or n-1-r descending)."""
        if self.order.descending:
            low, high = total - offset - limit, total - offset - 1
        else:
            low, high = offset, offset + limit - 1
        fetched = self.library.execute(
            f"SELECT {TRACK_COLUMNS_SQL} FROM {_ENTRIES_JOIN} WHERE crate_entries.crate_id = ? "
            "AND crate_entries.position BETWEEN ? AND ? ORDER BY crate_entries.position",
            [self.crate_id, low, high],
        ).fetchall()
        if self.order.descending:
            fetched.reverse()
        return [record_from_row(row) for row in fetched]

    def _seek_from(self, anchor: tuple[object, int], ascending: bool, skip: int, limit: int) -> list:
        """Rows after (or before) an anchor's (key, id): ``skip`` rows skipped, then ``limit`` rows.

        Two seeks on the (expr, id) index: first the anchor's ties (same key, following ids), then the
        following keys.  A single "key > v OR (key = v AND id > i)" condition would make SQLite walk
        every tie of the anchor's key; a column with 400,000 tracks without a key made that seconds.
        """
        value, anchor_id = anchor
        cmp = ">" if ascending else "<"
        direction = "" if ascending else " DESC"
        select = (
            f"SELECT {TRACK_COLUMNS_SQL}, {self._expr} FROM {self._page_from()} WHERE ({self._where}) AND "
        )
        params = self._params
        ties_after = f"{self._expr} = ? AND id {cmp} ?"
        fetched = self.library.execute(
            f"{select}{ties_after} ORDER BY id{direction} LIMIT ? OFFSET ?",
            [*params, value, anchor_id, limit, skip],
        ).fetchall()
        if len(fetched) == limit:
            return fetched
        if fetched:
            ties_skipped = skip  # the ties ran out after the skipped ones
        else:
            ties_skipped = self.library.execute(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {self._page_from()} "
                f"WHERE ({self._where}) AND {ties_after} "
                "LIMIT ?)",
                [*params, value, anchor_id, skip],
            ).fetchone()[0]
        fetched += self.library.execute(
            f"{select}{self._expr} {cmp} ? ORDER BY {self._expr}{direction}, id{direction} LIMIT ? OFFSET ?",
            [*params, value, limit - len(fetched), skip - ties_skipped],
        ).fetchall()
        return fetched

    def remember(self, row: int, key: tuple[object, int]) -> None:
        """Take ``key`` (sort value, id) as known for ``row``: later pages near it seek from there."""
        if row not in self._anchor_keys:
            bisect.insort(self._anchor_rows, row)
        self._anchor_keys[row] = key

    def anchor(self, row: int) -> tuple[object, int] | None:
        """The (sort value, id) known for ``row``, if a page started or ended there."""
        return self._anchor_keys.get(row)

    @property
    def in_crate_order(self) -> bool:
        """A static crate in its own order without a search: row r is the entry at position r."""
        return self._positions_direct

    def ids_of_rows(self, first: int, last: int) -> list[int]:
        """The track ids on rows ``first`` .. ``last`` in the view's order (a crate in its own order:
        one seek on its positions; otherwise one ordered read that skips ``first`` rows)."""
        if last < first:
            return []
        if self._positions_direct:
            total = self.count()
            low, high = (total - 1 - last, total - 1 - first) if self.order.descending else (first, last)
            ids = [track_id for (track_id,) in self.library.execute(
                "SELECT track_id FROM crate_entries WHERE crate_id = ? AND position BETWEEN ? AND ? "
                "ORDER BY position", (self.crate_id, low, high))]  # fmt: skip
            return ids[::-1] if self.order.descending else ids
        sql, params = self.ordered_ids_sql()
        rows = self.library.execute(f"{sql} LIMIT ? OFFSET ?", [*params, last - first + 1, first])
        return [track_id for (track_id,) in rows]

    def ordered_ids_sql(self) -> tuple[str, list[object]]:
        """``SELECT id ...`` of every track of the view in its order, and its parameters (to
        materialise the view's ids at once, as the window does for a search)."""
        direction = " DESC" if self.order.descending else ""
        if self._sort_crate_alone:
            # The crate's tracks looked up by id and sorted (a temporary B-tree): 2-4x less work than
            # walking the sort column's index over the whole library, testing membership on each.
            return (
                "SELECT id FROM tracks NOT INDEXED WHERE id IN "
                "(SELECT track_id FROM crate_entries WHERE crate_id = ?) "
                f"ORDER BY {self._expr}{direction}, id{direction}",
                [self.crate_id],
            )
        return (
            f"SELECT id FROM {self._from} WHERE {self._where} "
            f"ORDER BY {self._expr}{direction}, id{direction}",
            list(self._params),
        )

    def warm(self, step: int = WARM_STEP, should_stop: Callable[[], bool] | None = None) -> bool:
        """Read the whole order once and keep the sort key of every ``step``-th row, so that a jump
        anywhere skips fewer than ``step`` rows.  Meant for a crate in another order than its own (one
        sort of the crate's tracks); a static crate in its own order needs none (returns at once).
        May run on another thread with its own view; returns False if ``should_stop()`` said so."""
        if self._positions_direct:
            return True
        direction = " DESC" if self.order.descending else ""
        cursor = self.library.execute(
            f"SELECT {self._expr}, id FROM {self._from} WHERE {self._where} "
            f"ORDER BY {self._expr}{direction}, id{direction}",
            self._params,
        )
        row = 0
        found: list[tuple[int, tuple[object, int]]] = []
        while chunk := cursor.fetchmany(10_000):
            if should_stop is not None and should_stop():
                cursor.close()
                return False
            for index in range(-row % step, len(chunk), step):
                value, track_id = chunk[index]
                found.append((row + index, (value, track_id)))
            row += len(chunk)
        self._count = row
        for number, key in found:
            self.remember(number, key)
        return True

    def row_of_id(self, track_id: int) -> int | None:
        """The row number of a track in this view, or None if it does not match (one indexed query)."""
        found = self.library.execute(
            f"SELECT {self._expr} FROM {self._from} WHERE id = ? AND ({self._where})",
            [track_id, *self._params],
        ).fetchone()
        if found is None:
            return None
        value = found[0]
        cmp = "<" if not self.order.descending else ">"
        sql = (
            f"SELECT COUNT(*) FROM {self._from} WHERE ({self._where}) AND "
            f"({self._expr} {cmp} ? OR ({self._expr} = ? AND id {cmp} ?))"
        )
        return self.library.execute(sql, [*self._params, value, value, track_id]).fetchone()[0]


def _both(first: str, first_params: list[object], second: str, second_params: list[object]):
    if second == "1":
        return first, list(first_params)
    return f"({first}) AND ({second})", [*first_params, *second_params]
