"""The crate tree: folders, crates and smart crates, their names, places and paths.

Every change is one transaction through ``Library.write()``.  Sibling positions stay 0..n-1 and
sibling names unique (case-insensitively); each node's ``path``/``path_key`` columns are rewritten
for a subtree whenever a rename or move changes them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable

from crate_app.domain.crates import (
    NODE_KINDS,
    CrateNode,
    CrateNodeKind,
    CrateTreeError,
    DeletedSubtree,
    UnknownCrateError,
    check_name,
    escape_name,
    join_path,
    name_key,
    split_path,
)
from crate_app.domain.search import QuerySyntaxError, parse_query, rewrite_crate_paths
from crate_app.store.filters import (
    NODE_COLUMNS,
    NODE_COLUMNS_SQL,
    SmartQueryError,
    count_sql,
    node_row_by_id,
    node_row_by_path,
    path_key,
    smart_selection_sql,
    subtree_key_bounds,
    where_clause,
)
from crate_app.store.library import Library
from crate_app.store.schema import SORTABLE_COLUMNS

_KIND = NODE_COLUMNS.index("kind")
_PATH = NODE_COLUMNS.index("path")
_PARENT = NODE_COLUMNS.index("parent_id")
_POSITION = NODE_COLUMNS.index("position")
_NAME = NODE_COLUMNS.index("name")
_TRACK_COUNT = NODE_COLUMNS.index("track_count")
PARKED = -(1 << 40)  # the position of a node being moved, out of the way of shift_siblings


# -- reading -----------------------------------------------------------------------------------------
def node_from_row(row: tuple, *, track_count: int | None = None, error: str | None = None) -> CrateNode:
    """A CrateNode from a row of NODE_COLUMNS (their order is CrateNode's, up to ``limit``)."""
    return CrateNode(*row[:9], bool(row[9]), row[10], track_count, row[12], error)


def smart_count(library: Library, row: tuple) -> tuple[int | None, str | None]:
    """(number of tracks, None) of a smart crate's row, or (None, why not) when its query fails."""
    try:
        where, params = smart_selection_sql(library, row)
    except CrateTreeError as exc:
        return None, str(exc)
    return library.execute(count_sql(where), params).fetchone()[0], None


def count_smart_crates(library: Library, node_ids: Iterable[int]) -> dict[int, int]:
    """How many tracks each of these smart crates matches now (one COUNT each; the ids of no smart
    crate, and smart crates whose query fails, are left out): what a sidebar fills in after listing
    the tree with ``count_smart=False``."""
    counts: dict[int, int] = {}
    for node_id in node_ids:
        row = node_row_by_id(library, node_id)
        if row is not None and row[_KIND] == CrateNodeKind.SMART:
            count, _error = smart_count(library, row)
            if count is not None:
                counts[node_id] = count
    return counts


def smart_error(library: Library, row: tuple) -> str | None:
    """Why a smart crate's query cannot run now (does not parse, names a missing crate), or None."""
    try:
        smart_selection_sql(library, row)
    except CrateTreeError as exc:
        return str(exc)
    return None


def described(library: Library, row: tuple, with_counts: bool, count_smart: bool = True) -> CrateNode:
    """The CrateNode of a row: counted (a crate's stored count, a smart crate's query counted now)."""
    kind = row[_KIND]
    if kind == CrateNodeKind.SMART:
        if with_counts and count_smart:
            count, error = smart_count(library, row)
        else:
            count, error = None, smart_error(library, row)
        return node_from_row(row, track_count=count, error=error)
    if kind == CrateNodeKind.CRATE and with_counts:
        return node_from_row(row, track_count=row[NODE_COLUMNS.index("track_count")])
    return node_from_row(row)


def list_nodes(library: Library, *, with_counts: bool = True, count_smart: bool = True) -> list[CrateNode]:
    """The whole tree, parents before children, siblings in order (a depth-first walk).

    With ``with_counts``, crates carry their number of tracks (stored, no counting) and smart crates
    the number their query matches now (one COUNT each, unless ``count_smart`` is False: a smart
    crate of 200,000 FTS matches takes a few hundred ms to count, so a sidebar lists without and
    fills those in later with ``smart_count``); folders have ``track_count`` None.
    """
    # Siblings in order straight from the (parent, position) index; nodes made without described()
    # but for smart crates (5,000 crates: the CrateNodes are most of the time spent here).
    rows = library.execute(
        f"SELECT {NODE_COLUMNS_SQL} FROM crate_nodes ORDER BY IFNULL(parent_id, 0), position"
    ).fetchall()
    children: dict[int | None, list[tuple]] = defaultdict(list)
    for row in rows:
        children[row[_PARENT]].append(row)
    ordered: list[CrateNode] = []
    stack = children[None][::-1]
    crate, smart = CrateNodeKind.CRATE, CrateNodeKind.SMART
    while stack:
        row = stack.pop()
        kind = row[_KIND]
        if kind == smart:
            ordered.append(described(library, row, with_counts, count_smart))
        else:
            count = row[_TRACK_COUNT] if with_counts and kind == crate else None
            ordered.append(CrateNode(*row[:9], bool(row[9]), row[10], count, row[12]))
        if kind != crate:
            stack.extend(children.get(row[0], ())[::-1])
    return ordered


def node_by_id(library: Library, node_id: int, *, with_counts: bool = True) -> CrateNode:
    row = node_row_by_id(library, node_id)
    if row is None:
        raise UnknownCrateError(f"no crate or folder with id {node_id} (deleted meanwhile?)")
    return described(library, row, with_counts)


def node_by_path(library: Library, path: str, *, with_counts: bool = True) -> CrateNode:
    """The node at ``path`` (names compared case-insensitively); CrateTreeError in words when unknown."""
    row = node_row_by_path(library, path)
    if row is None:
        raise UnknownCrateError(_unknown_path_message(library, path))
    return described(library, row, with_counts)


def _unknown_path_message(library: Library, path: str) -> str:
    names = split_path(path)
    for depth in range(len(names) - 1, 0, -1):
        parent_path = "/".join(escape_name(n) for n in names[:depth])
        parent = node_row_by_path(library, parent_path)
        if parent is not None:
            if parent[_KIND] != CrateNodeKind.FOLDER:
                return f"no crate '{path}': '{parent[_PATH]}' is a {parent[_KIND]}, not a folder"
            return f"no crate '{path}': the folder '{parent[_PATH]}' has no '{names[depth]}'"
    return f"no crate or folder '{path}' (crate-cli crate list shows them)"


def children_of(library: Library, parent_id: int | None) -> list[CrateNode]:
    """The nodes directly in a folder (or at the top: None), in order, without counts."""
    rows = library.execute(
        f"SELECT {NODE_COLUMNS_SQL} FROM crate_nodes WHERE IFNULL(parent_id, 0) = ? ORDER BY position",
        (parent_id or 0,),
    ).fetchall()
    return [node_from_row(row) for row in rows]


def subtree_rows(library: Library, node_id: int) -> list[tuple]:
    """The rows of a node and everything below it, parents before children, siblings in order."""
    root = node_row_by_id(library, node_id)
    if root is None:
        raise CrateTreeError(f"no crate or folder with id {node_id} (deleted meanwhile?)")
    (key,) = library.execute("SELECT path_key FROM crate_nodes WHERE id = ?", (node_id,)).fetchone()
    below = library.execute(
        f"SELECT {NODE_COLUMNS_SQL} FROM crate_nodes WHERE path_key >= ? AND path_key < ?",
        subtree_key_bounds(key),
    ).fetchall()
    children: dict[int, list[tuple]] = defaultdict(list)
    for row in below:
        children[row[_PARENT]].append(row)
    ordered: list[tuple] = []
    stack = [root]
    while stack:
        row = stack.pop()
        ordered.append(row)
        stack.extend(sorted(children.get(row[0], ()), key=lambda r: r[_POSITION], reverse=True))
    return ordered


# -- checks ------------------------------------------------------------------------------------------
def _folder_row(library: Library, parent_id: int | None) -> tuple | None:
    """The parent's row (None at the top); CrateTreeError unless it is a folder."""
    if parent_id is None:
        return None
    row = node_row_by_id(library, parent_id)
    if row is None:
        raise CrateTreeError(f"no folder with id {parent_id} (deleted meanwhile?)")
    if row[_KIND] != CrateNodeKind.FOLDER:
        raise CrateTreeError(f"'{row[_PATH]}' is a {row[_KIND]}, not a folder: only folders hold crates")
    return row


def _check_free(library: Library, parent: tuple | None, name: str, except_id: int | None = None) -> None:
    taken = library.execute(
        "SELECT id, name FROM crate_nodes WHERE IFNULL(parent_id, 0) = ? AND name_key = ?",
        (parent[0] if parent else 0, name_key(name)),
    ).fetchone()
    if taken is not None and taken[0] != except_id:
        where = f"in '{parent[_PATH]}'" if parent else "at the top level"
        raise CrateTreeError(f"there is already a {taken[1]!r} {where} (names ignore case)")


def check_smart(library: Library, query: str, sort: str | None, descending: bool, limit: int | None) -> None:
    """CrateTreeError (SmartQueryError with the position for a query) unless these make a smart crate."""
    if not isinstance(query, str):
        raise CrateTreeError("a smart crate needs a query")
    try:
        parsed = parse_query(query)
    except QuerySyntaxError as exc:
        raise SmartQueryError(
            f"the query does not parse, at position {exc.position + 1}: {exc}", exc.position
        ) from None
    where_clause(parsed, library)  # names only existing crates
    if sort is not None and sort not in SORTABLE_COLUMNS:
        raise CrateTreeError(f"a smart crate cannot sort by {sort!r} (try {', '.join(SORTABLE_COLUMNS)})")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise CrateTreeError(f"a smart crate's limit must be a whole number of 1 or more, not {limit!r}")


# -- writing -----------------------------------------------------------------------------------------
def id_list(track_ids: Iterable[int]) -> str:
    """Ids as one JSON array, for ``json_each(?)``: set-based SQL over 100,000 ids in one statement,
    without building a table of them first."""
    return json.dumps(track_ids if isinstance(track_ids, list) else list(track_ids))


def missing_tracks(conn: sqlite3.Connection, track_ids: Iterable[int]) -> set[int]:
    """Those of ``track_ids`` that are no track.  Looked up in id order: one pass over the table's
    pages instead of a random read per id (3x faster for 100,000 ids spread over 1M tracks)."""
    return {t for (t,) in conn.execute(
        "SELECT value FROM json_each(?) WHERE NOT EXISTS (SELECT 1 FROM tracks WHERE tracks.id = value)",
        (id_list(sorted(set(track_ids))),),
    )}  # fmt: skip


def insert_entries(
    conn: sqlite3.Connection, crate_id: int, start: int, rows: list[tuple[int, float]]
) -> None:
    """Write ``rows`` (track_id, added_at) as the crate's entries ``start``, ``start + 1``, ...; the
    tracks exist and are not in the crate, the positions are free.  Inserted in position order: the
    entries' own b-tree (keyed by crate and position) then grows at one end (inserting in track id
    order instead took twice as long).  Rows added at one moment (an add) go as a plain array of ids,
    positions and time from the SQL: 2-3x faster than an array of triples, each parsed three times."""
    if not rows:
        return
    first_added_at = rows[0][1]
    if all(added_at == first_added_at for _, added_at in rows):
        conn.execute(
            "INSERT INTO crate_entries (crate_id, track_id, position, added_at) "
            "SELECT ?, value, ? + key, ? FROM json_each(?)",
            (crate_id, start, first_added_at, id_list([track_id for track_id, _ in rows])),
        )
        return
    ordered = [[track_id, start + n, added_at] for n, (track_id, added_at) in enumerate(rows)]
    conn.execute(
        "INSERT INTO crate_entries (crate_id, track_id, position, added_at) "
        "SELECT ?, value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)",
        (crate_id, json.dumps(ordered)),
    )


def shift_siblings(conn: sqlite3.Connection, parent_id: int | None, start: int, delta: int) -> None:
    """Move the positions of ``parent_id``'s children at ``start`` or later by ``delta`` (two passes
    through negative numbers, so that the unique index never sees two at one position)."""
    where = "IFNULL(parent_id, 0) = ?"
    conn.execute(
        f"UPDATE crate_nodes SET position = -(position + ?) - 1 WHERE {where} AND position >= ?",
        (delta, parent_id or 0, start),
    )
    conn.execute(
        f"UPDATE crate_nodes SET position = -position - 1 WHERE {where} AND position < 0 AND position > ?",
        (parent_id or 0, PARKED),
    )


def sibling_count(conn: sqlite3.Connection, parent_id: int | None) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM crate_nodes WHERE IFNULL(parent_id, 0) = ?", (parent_id or 0,)
    ).fetchone()[0]


def refresh_paths(conn: sqlite3.Connection, node_id: int) -> None:
    """Recompute path and path_key of a node and everything below it from its parent's."""
    parent_id, name = conn.execute(
        "SELECT parent_id, name FROM crate_nodes WHERE id = ?", (node_id,)
    ).fetchone()
    if parent_id is None:
        prefix, key_prefix = "", ""
    else:
        path, key = conn.execute(
            "SELECT path, path_key FROM crate_nodes WHERE id = ?", (parent_id,)
        ).fetchone()
        prefix, key_prefix = path + "/", key + "/"
    pending = [(node_id, name, prefix, key_prefix)]
    while pending:
        current, current_name, prefix, key_prefix = pending.pop()
        path = prefix + escape_name(current_name)
        key = key_prefix + escape_name(name_key(current_name))
        conn.execute("UPDATE crate_nodes SET path = ?, path_key = ? WHERE id = ?", (path, key, current))
        for child_id, child_name in conn.execute(
            "SELECT id, name FROM crate_nodes WHERE parent_id = ?", (current,)
        ).fetchall():
            pending.append((child_id, child_name, path + "/", key + "/"))


def _touch(conn: sqlite3.Connection, node_id: int) -> None:
    """Take the write lock with a first write (other writers wait from here), and check the node."""
    if (
        conn.execute("UPDATE crate_nodes SET modified_at = ? WHERE id = ?", (time.time(), node_id)).rowcount
        == 0
    ):
        raise CrateTreeError(f"no crate or folder with id {node_id} (deleted meanwhile?)")


def create_node(
    library: Library,
    parent_id: int | None,
    name: str,
    kind: str,
    *,
    query: str | None = None,
    sort: str | None = None,
    descending: bool = False,
    limit: int | None = None,
    position: int | None = None,
) -> CrateNode:
    """A new folder, crate or smart crate in ``parent_id`` (None: at the top), at ``position`` among its
    siblings (None: last).  A smart crate needs ``query`` (its sort, order and limit are optional)."""
    name = check_name(name)
    if kind not in NODE_KINDS:
        raise CrateTreeError(f"a node is a folder, a crate or a smart crate, not {kind!r}")
    if kind == CrateNodeKind.SMART:
        check_smart(library, query or "", sort, descending, limit)
    elif query is not None or sort is not None or limit is not None:
        raise CrateTreeError(f"only a smart crate has a query, a sort and a limit (this is a {kind})")
    with library.write() as conn:
        parent = _folder_row(library, parent_id)
        _check_free(library, parent, name)
        count = sibling_count(conn, parent_id)
        at = count if position is None else max(0, min(position, count))
        if at < count:
            shift_siblings(conn, parent_id, at, 1)
        now = time.time()
        cursor = conn.execute(
            "INSERT INTO crate_nodes (parent_id, name, name_key, kind, position, query, sort, descending, "
            "row_limit, path, path_key, created_at, modified_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?)",
            (parent_id, name, name_key(name), kind, at, query if kind == "smart" else None, sort,
             int(bool(descending)), limit, f"\0new{time.time_ns()}", now, now),
        )  # fmt: skip
        node_id = cursor.lastrowid
        refresh_paths(conn, node_id)
    return node_by_id(library, node_id)


def create_path(library: Library, path: str, kind: str = "crate", **smart: object) -> CrateNode:
    """Create the node at ``path`` (``Sets/2026/Berlin``), making the folders along it as needed.

    ``smart``: query, sort, descending, limit for a smart crate.  CrateTreeError when something is
    already at ``path`` or a name along it is a crate rather than a folder.
    """
    names = split_path(path)
    for name in names:
        check_name(name)
    if node_row_by_path(library, path) is not None:
        raise CrateTreeError(f"'{path}' exists already")
    parent_id: int | None = None
    walked: list[str] = []
    for name in names[:-1]:
        walked.append(escape_name(name))
        row = node_row_by_path(library, "/".join(walked))
        if row is None:
            parent_id = create_node(library, parent_id, name, "folder").id
        elif row[_KIND] != CrateNodeKind.FOLDER:
            raise CrateTreeError(
                f"'{row[_PATH]}' is a {row[_KIND]}, not a folder: it cannot hold {names[-1]!r}"
            )
        else:
            parent_id = row[0]
    return create_node(library, parent_id, names[-1], kind, **smart)  # type: ignore[arg-type]


def rename_node(library: Library, node_id: int, name: str) -> CrateNode:
    """Give a node a new name (unique among its siblings, case-insensitively)."""
    name = check_name(name)
    with library.write() as conn:
        _touch(conn, node_id)
        row = node_row_by_id(library, node_id)
        parent = node_row_by_id(library, row[_PARENT]) if row[_PARENT] is not None else None
        _check_free(library, parent, name, except_id=node_id)
        conn.execute(
            "UPDATE crate_nodes SET name = ?, name_key = ? WHERE id = ?", (name, name_key(name), node_id)
        )
        _park_keys(conn, node_id)
        refresh_paths(conn, node_id)
        _follow_in_smart_queries(conn, row[_PATH], node_id)
    return node_by_id(library, node_id)


def _follow_in_smart_queries(conn: sqlite3.Connection, old_path: str, node_id: int) -> None:
    """Smart crates naming a renamed or moved node (or anything under it) with ``crate:`` are
    rewritten to its new path, so that they keep working."""
    (new_path,) = conn.execute("SELECT path FROM crate_nodes WHERE id = ?", (node_id,)).fetchone()
    old_key, depth = path_key(old_path), len(split_path(old_path))

    def rename(path: str) -> str | None:
        try:
            key, names = path_key(path), split_path(path)
        except CrateTreeError:
            return None
        if key == old_key:
            return new_path
        if key.startswith(old_key + "/"):
            return new_path + "/" + join_path(names[depth:])
        return None

    for smart_id, query in conn.execute(
        "SELECT id, query FROM crate_nodes WHERE kind = 'smart' AND query LIKE '%crate:%'"
    ).fetchall():
        rewritten = rewrite_crate_paths(query, rename)
        if rewritten != query:
            conn.execute("UPDATE crate_nodes SET query = ? WHERE id = ?", (rewritten, smart_id))


def _park_keys(conn: sqlite3.Connection, node_id: int) -> None:
    """Give a subtree temporary unique path keys (refresh_paths then writes the real ones), so that a
    rename from "A" to "a" or a move never meets its own old keys on the unique index."""
    (key,) = conn.execute("SELECT path_key FROM crate_nodes WHERE id = ?", (node_id,)).fetchone()
    low, high = subtree_key_bounds(key)
    conn.execute(
        "UPDATE crate_nodes SET path_key = char(0) || 'moving' || id "
        "WHERE id = ? OR (path_key >= ? AND path_key < ?)",
        (node_id, low, high),
    )


def move_node(
    library: Library, node_id: int, new_parent_id: int | None, position: int | None = None
) -> CrateNode:
    """Put a node (with everything in it) into ``new_parent_id`` (None: the top) at ``position`` among
    its new siblings (None: last; within the same folder: its place after the move)."""
    with library.write() as conn:
        _touch(conn, node_id)
        row = node_row_by_id(library, node_id)
        parent = _folder_row(library, new_parent_id)
        if parent is not None:
            (key,) = conn.execute("SELECT path_key FROM crate_nodes WHERE id = ?", (node_id,)).fetchone()
            (parent_key,) = conn.execute(
                "SELECT path_key FROM crate_nodes WHERE id = ?", (parent[0],)
            ).fetchone()
            if parent[0] == node_id:
                raise CrateTreeError(f"cannot put '{row[_PATH]}' inside itself")
            low, high = subtree_key_bounds(key)
            if low <= parent_key < high:
                raise CrateTreeError(
                    f"cannot put the folder '{row[_PATH]}' inside its own subfolder '{parent[_PATH]}'"
                )
        _check_free(library, parent, row[_NAME], except_id=node_id)
        old_parent, old_position = row[_PARENT], row[_POSITION]
        conn.execute("UPDATE crate_nodes SET position = ? WHERE id = ?", (PARKED, node_id))
        shift_siblings(conn, old_parent, old_position + 1, -1)
        count = sibling_count(conn, new_parent_id) - (1 if old_parent == new_parent_id else 0)
        at = count if position is None else max(0, min(position, count))
        shift_siblings(conn, new_parent_id, at, 1)
        conn.execute(
            "UPDATE crate_nodes SET parent_id = ?, position = ? WHERE id = ?", (new_parent_id, at, node_id)
        )
        if old_parent != new_parent_id:
            _park_keys(conn, node_id)
            refresh_paths(conn, node_id)
            _follow_in_smart_queries(conn, row[_PATH], node_id)
    return node_by_id(library, node_id)


def update_smart(
    library: Library, node_id: int, query: str, sort: str | None = None, descending: bool = False,
    limit: int | None = None,
) -> CrateNode:  # fmt: skip
    """Save a smart crate's rules (SmartQueryError with the position when the query does not parse)."""
    row = node_row_by_id(library, node_id)
    if row is None or row[_KIND] != CrateNodeKind.SMART:
        what = "nothing" if row is None else f"a {row[_KIND]}"
        raise CrateTreeError(f"only a smart crate has rules (node {node_id} is {what})")
    check_smart(library, query, sort, descending, limit)
    with library.write() as conn:
        _touch(conn, node_id)
        conn.execute(
            "UPDATE crate_nodes SET query = ?, sort = ?, descending = ?, row_limit = ? WHERE id = ?",
            (query, sort, int(bool(descending)), limit, node_id),
        )
    # A smart crate naming itself (through crate:) is refused; its old rules stay.
    try:
        smart_selection_sql(library, node_row_by_id(library, node_id))
    except SmartQueryError:
        with library.write() as conn:
            conn.execute(
                "UPDATE crate_nodes SET query = ?, sort = ?, descending = ?, row_limit = ? WHERE id = ?",
                (row[NODE_COLUMNS.index("query")], row[NODE_COLUMNS.index("sort")],
                 row[NODE_COLUMNS.index("descending")], row[NODE_COLUMNS.index("row_limit")], node_id),
            )  # fmt: skip
        raise
    return node_by_id(library, node_id)


def set_look(library: Library, node_id: int, color: str | None, note: str) -> None:
    """A node's colour (any text the window understands, e.g. ``#e74c3c``; None: none) and note (empty:
    none), in one transaction."""
    if color is not None and (not isinstance(color, str) or len(color) > 40):
        raise CrateTreeError(f"not a colour: {color!r}")
    with library.write() as conn:
        _touch(conn, node_id)
        conn.execute(
            "UPDATE crate_nodes SET color = ?, note = ? WHERE id = ?", (color or None, note or "", node_id)
        )


# -- delete, undo, duplicate -------------------------------------------------------------------------
def snapshot(library: Library, node_id: int) -> DeletedSubtree:
    """What ``delete_node`` would take away (nodes and ordered entries), without deleting."""
    rows = subtree_rows(library, node_id)
    entries: dict[int, tuple[tuple[int, float], ...]] = {}
    for row in rows:
        if row[_KIND] == CrateNodeKind.CRATE:
            entries[row[0]] = tuple(
                library.execute(
                    "SELECT track_id, added_at FROM crate_entries WHERE crate_id = ? ORDER BY position",
                    (row[0],),
                ).fetchall()
            )
    nodes = tuple(node_from_row(row, track_count=len(entries.get(row[0], ()))) for row in rows)
    return DeletedSubtree(nodes, entries)


def delete_node(library: Library, node_id: int) -> DeletedSubtree:
    """Delete a node and everything in it; returns what ``restore_subtree`` needs to bring it back."""
    with library.write() as conn:
        _touch(conn, node_id)
        taken = snapshot(library, node_id)
        root = taken.root
        conn.execute("DELETE FROM crate_nodes WHERE id = ?", (node_id,))  # cascades to children, entries
        shift_siblings(conn, root.parent_id, root.position + 1, -1)
    return taken


def restore_subtree(library: Library, snapshot: DeletedSubtree) -> None:
    """Bring a deleted subtree back whole: same ids, names, places, and each crate's tracks in order
    (tracks that no longer exist are left out).  CrateTreeError if its folder is gone or its name taken."""
    _insert_subtree(library, snapshot, keep_ids=True)


def _insert_subtree(library: Library, taken: DeletedSubtree, *, keep_ids: bool, name: str | None = None,
                    position: int | None = None) -> int:  # fmt: skip
    root = taken.root
    now = time.time()
    with library.write() as conn:
        if keep_ids:
            clash = conn.execute(
                f"SELECT id FROM crate_nodes WHERE id IN ({','.join('?' * len(taken.nodes))})",
                [node.id for node in taken.nodes],
            ).fetchone()
            if clash is not None:
                raise CrateTreeError(f"'{root.path}' is back already")
        parent = _folder_row(library, root.parent_id)
        root_name = name or root.name
        _check_free(library, parent, root_name)
        count = sibling_count(conn, root.parent_id)
        at = max(0, min(root.position if position is None else position, count))
        shift_siblings(conn, root.parent_id, at, 1)
        new_ids: dict[int, int] = {}
        for node in taken.nodes:
            is_root = node.id == root.id
            values = (
                new_ids.get(node.parent_id, node.parent_id) if not is_root else node.parent_id,
                root_name if is_root else node.name,
                name_key(root_name if is_root else node.name),
                node.kind,
                at if is_root else node.position,
                node.color, node.note, node.query, node.sort, int(node.descending), node.limit,
                f"\0restoring{node.id}-{time.time_ns()}", now, now,
            )  # fmt: skip
            columns = ("parent_id, name, name_key, kind, position, color, note, query, sort, descending, "
                       "row_limit, path, path_key, created_at, modified_at")  # fmt: skip
            if keep_ids:
                conn.execute(f"INSERT INTO crate_nodes (id, {columns}) VALUES (?, {','.join('?' * 15)})",
                             (node.id, *values[:11], "", *values[11:]))  # fmt: skip
                new_ids[node.id] = node.id
            else:
                cursor = conn.execute(f"INSERT INTO crate_nodes ({columns}) VALUES ({','.join('?' * 15)})",
                                      (*values[:11], "", *values[11:]))  # fmt: skip
                new_ids[node.id] = cursor.lastrowid
        refresh_paths(conn, new_ids[root.id])
        for old_id, rows in taken.entries.items():
            crate_id = new_ids[old_id]
            gone = missing_tracks(conn, (track_id for track_id, _ in rows))
            insert_entries(conn, crate_id, 0, [row for row in rows if row[0] not in gone])
            conn.execute(
                "UPDATE crate_nodes SET track_count = "
                "(SELECT COUNT(*) FROM crate_entries WHERE crate_id = ?) "
                "WHERE id = ?",
                (crate_id, crate_id),
            )
    return new_ids[root.id]


def duplicate_node(library: Library, node_id: int) -> CrateNode:
    """A copy of a node (a folder with everything in it) right after it, named "NAME copy" (or
    "NAME copy 2", ...)."""
    taken = snapshot(library, node_id)
    root = taken.root
    parent = node_row_by_id(library, root.parent_id) if root.parent_id is not None else None
    number = 1
    while True:
        base = root.name[:100]
        name = f"{base} copy" if number == 1 else f"{base} copy {number}"
        try:
            _check_free(library, parent, name)
            break
        except CrateTreeError:
            number += 1
    name = check_name(name)
    new_id = _insert_subtree(library, taken, keep_ids=False, name=name, position=root.position + 1)
    return node_by_id(library, new_id)
