"""A sorted, filtered window onto the tracks table that pages by keyset, for tables of 1M rows.

``TrackView.rows(offset, limit)`` answers "rows 812,400 to 812,600 in this sort order" without
loading anything else: it remembers the sort key of the first and last row of every page it has
loaded (anchors) and seeks from the nearest anchor, or from either end, skipping only the rows in
between on the (expr, id) index.  Scrolling page by page therefore costs one index seek per page.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from crate_app.domain.search import ParsedQuery
from crate_app.domain.track import TrackRecord
from crate_app.store.filters import where_clause
from crate_app.store.library import TRACK_COLUMNS_SQL, Library, record_from_row
from crate_app.store.schema import SORTABLE_COLUMNS, sort_expression


@dataclass(frozen=True, slots=True)
class SortOrder:
    column: str = "artist"
    descending: bool = False

    def __post_init__(self) -> None:
        if self.column not in (*SORTABLE_COLUMNS, "id"):
            raise ValueError(f"cannot sort by {self.column!r}")


class TrackView:
    """Count and page through the tracks matching ``query`` in ``order``."""

    def __init__(self, library: Library, query: ParsedQuery | None = None, order: SortOrder | None = None):
        self.library = library
        self.query = query
        self.order = order or SortOrder()
        self._where, self._params = where_clause(query)
        self._expr = sort_expression(self.order.column)
        self._count: int | None = None
        self._anchor_rows: list[int] = []  # sorted row numbers with a known sort key
        self._anchor_keys: dict[int, tuple[object, int]] = {}

    def count(self) -> int:
        """Number of matching tracks (cached until ``invalidate()``)."""
        if self._count is None:
            sql = f"SELECT COUNT(*) FROM tracks WHERE {self._where}"
            self._count = self.library.execute(sql, self._params).fetchone()[0]
        return self._count

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
        forward = self.order.descending is False
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
        skip, start, anchor_row = min(plans, key=lambda plan: plan[0])
        ascending_scan = start in ("start", "after")
        scan_ascending = ascending_scan == forward
        if anchor_row is None:
            direction = "" if scan_ascending else " DESC"
            sql = (
                f"SELECT {TRACK_COLUMNS_SQL}, {self._expr} FROM tracks WHERE {self._where} "
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

    def _seek_from(self, anchor: tuple[object, int], ascending: bool, skip: int, limit: int) -> list:
        """Rows after (or before) an anchor's (key, id): ``skip`` rows skipped, then ``limit`` rows.

        Two seeks on the (expr, id) index: first the anchor's ties (same key, following ids), then the
        following keys.  A single "key > v OR (key = v AND id > i)" condition would make SQLite walk
        every tie of the anchor's key; a column with 400,000 tracks without a key made that seconds.
        """
        value, anchor_id = anchor
        cmp = ">" if ascending else "<"
        direction = "" if ascending else " DESC"
        select = f"SELECT {TRACK_COLUMNS_SQL}, {self._expr} FROM tracks WHERE ({self._where}) AND "
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
                f"SELECT COUNT(*) FROM (SELECT 1 FROM tracks WHERE ({self._where}) AND {ties_after} LIMIT ?)",
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

    def row_of_id(self, track_id: int) -> int | None:
        """The row number of a track in this view, or None if it does not match (one indexed query)."""
        found = self.library.execute(
            f"SELECT {self._expr} FROM tracks WHERE id = ? AND ({self._where})", [track_id, *self._params]
        ).fetchone()
        if found is None:
            return None
        value = found[0]
        cmp = "<" if not self.order.descending else ">"
        sql = (
            f"SELECT COUNT(*) FROM tracks WHERE ({self._where}) AND "
            f"({self._expr} {cmp} ? OR ({self._expr} = ? AND id {cmp} ?))"
        )
        return self.library.execute(sql, [*self._params, value, value, track_id]).fetchone()[0]
