"""A crate's tracks: ordered entries (crate, track, position), positions 0..n-1, each track once.

Adding, removing and reordering are each one transaction, set-based SQL over the ids as one JSON
array (the json_each table function); a crash leaves the crate as before or as after.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

from crate_app.crates.tree import _touch, id_list, insert_entries, missing_tracks, node_from_row
from crate_app.domain.crates import CrateNode, CrateNodeKind, CrateTreeError, EntryChange
from crate_app.store.filters import (
    NODE_COLUMNS,
    NODE_COLUMNS_SQL,
    node_row_by_id,
    smart_order,
    smart_selection_sql,
)
from crate_app.store.library import Library

# The ids given (json_each) drive every join with a crate's entries (CROSS JOIN keeps them outside): one probe
# of (crate_id, track_id) per id given, never one scan of the ids per entry of a big crate.


def _static_crate(library: Library, crate_id: int) -> tuple:
    row = node_row_by_id(library, crate_id)
    if row is None:
        raise CrateTreeError(f"no crate with id {crate_id} (deleted meanwhile?)")
    kind, path = row[NODE_COLUMNS.index("kind")], row[NODE_COLUMNS.index("path")]
    if kind == CrateNodeKind.SMART:
        raise CrateTreeError(f"'{path}' is a smart crate: its tracks follow its rules, they cannot be added "
                             "or removed by hand")  # fmt: skip
    if kind == CrateNodeKind.FOLDER:
        raise CrateTreeError(f"'{path}' is a folder: tracks go into a crate")
    return row


def _count(conn: sqlite3.Connection, crate_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM crate_entries WHERE crate_id = ?", (crate_id,)).fetchone()[0]


def _save_count(conn: sqlite3.Connection, crate_id: int, count: int) -> None:
    conn.execute("UPDATE crate_nodes SET track_count = ? WHERE id = ?", (count, crate_id))


def _shift(conn: sqlite3.Connection, crate_id: int, start: int, delta: int) -> None:
    """Move the positions at ``start`` or later by ``delta`` (two passes through negative numbers, so
    that the primary key never sees two entries at one position)."""
    conn.execute(
        "UPDATE crate_entries SET position = -(position + ?) - 1 WHERE crate_id = ? AND position >= ?",
        (delta, crate_id, start),
    )
    conn.execute(
        "UPDATE crate_entries SET position = -position - 1 WHERE crate_id = ? AND position < 0", (crate_id,)
    )


def _renumber_from(conn: sqlite3.Connection, crate_id: int, start: int) -> None:
    """Close the gaps at ``start`` or later: the entries there become start, start + 1, ... in order."""
    conn.execute(
        "UPDATE crate_entries SET position = -1 - renumbered.new FROM "
        "(SELECT position AS old, ? + ROW_NUMBER() OVER (ORDER BY position) - 1 AS new "
        " FROM crate_entries WHERE crate_id = ? AND position >= ?) AS renumbered "
        "WHERE crate_entries.crate_id = ? AND crate_entries.position = renumbered.old",
        (start, crate_id, start, crate_id),
    )
    conn.execute(
        "UPDATE crate_entries SET position = -position - 1 WHERE crate_id = ? AND position < 0", (crate_id,)
    )


def add_tracks(
    library: Library,
    crate_id: int,
    track_ids: Iterable[int],
    position: int | None = None,
    *,
    known_tracks: bool = False,
) -> EntryChange:
    """Add tracks to a crate at ``position`` (None: at the end), in the order given.

    Tracks in the crate already stay where they are (``already``); ids of no track are left out
    (``unknown``), unless the caller passes ``known_tracks`` because it read the ids from the tracks
    table in the same transaction (an import: looking each up again cost a third of its crate writing).
    All or nothing: one transaction.
    """
    wanted = list(dict.fromkeys(map(int, track_ids)))
    _static_crate(library, crate_id)
    now = time.time()
    with library.write(check_foreign_keys=False) as conn:  # _touch, missing_tracks or the caller check
        _touch(conn, crate_id)
        count = _count(conn, crate_id)
        already = set() if count == 0 else {t for (t,) in conn.execute(
            "SELECT i.value FROM json_each(?) i CROSS JOIN crate_entries e "
            "ON e.crate_id = ? AND e.track_id = i.value", (id_list(wanted), crate_id))}  # fmt: skip
        if known_tracks:
            unknown: set[int] = set()
        else:
            unknown = missing_tracks(conn, [t for t in wanted if t not in already] if already else wanted)
        added = [t for t in wanted if t not in already and t not in unknown] if already or unknown else wanted
        at = count if position is None else max(0, min(int(position), count))
        if added:
            if at < count:
                _shift(conn, crate_id, at, len(added))
            insert_entries(conn, crate_id, at, [(track_id, now) for track_id in added])
        _save_count(conn, crate_id, count + len(added))
    return EntryChange(
        crate_id,
        added=tuple(added),
        already=tuple(t for t in wanted if t in already) if already else (),
        unknown=tuple(t for t in wanted if t in unknown) if unknown else (),
        position=at,
        tracks=count + len(added),
    )


def remove_tracks(library: Library, crate_id: int, track_ids: Iterable[int]) -> EntryChange:
    """Take tracks out of a crate (the others close up, keeping their order).  The change records
    each removed track's old position and date added, for ``restore_entries`` (undo)."""
    wanted = list(dict.fromkeys(map(int, track_ids)))
    _static_crate(library, crate_id)
    with library.write() as conn:
        _touch(conn, crate_id)
        count = _count(conn, crate_id)
        if len(wanted) * 4 >= count:
            # A big share of the crate: one pass over its entries in order (a range of its primary key)
            # beats a random probe of the (track, crate) index per id (100,000 of 100,000: 0.4 s less).
            wanted_set = set(wanted)
            removed = [row for row in conn.execute(
                "SELECT position, track_id, added_at FROM crate_entries WHERE crate_id = ? ORDER BY position",
                (crate_id,)) if row[1] in wanted_set]  # fmt: skip
        else:
            removed = conn.execute(
                "SELECT e.position, e.track_id, e.added_at FROM json_each(?) i CROSS JOIN crate_entries e "
                "ON e.crate_id = ? AND e.track_id = i.value ORDER BY e.position",
                (id_list(wanted), crate_id),
            ).fetchall()
        if len(removed) == count:  # all of them: nothing to close up
            conn.execute("DELETE FROM crate_entries WHERE crate_id = ?", (crate_id,))
        elif removed:
            conn.execute(
                "DELETE FROM crate_entries WHERE crate_id = ? "
                "AND track_id IN (SELECT value FROM json_each(?))",
                (crate_id, id_list([track_id for _, track_id, _ in removed])),
            )
            _renumber_from(conn, crate_id, removed[0][0])
        _save_count(conn, crate_id, count - len(removed))
    positions, removed_ids, added_ats = zip(*removed, strict=True) if removed else ((), (), ())
    gone = set(removed_ids)
    return EntryChange(
        crate_id,
        removed=removed_ids,
        removed_positions=positions,
        removed_added_at=added_ats,
        absent=tuple(t for t in wanted if t not in gone) if len(gone) < len(wanted) else (),
        tracks=count - len(removed),
    )


def restore_entries(library: Library, change: EntryChange) -> None:
    """Undo a ``remove_tracks``: the removed tracks go back to their old positions (tracks added to
    the crate since then, or no longer existing, are skipped; the rest keeps its order)."""
    _static_crate(library, change.crate_id)
    crate_id = change.crate_id
    with library.write(check_foreign_keys=False) as conn:  # the crate (_touch), the tracks (_rewrite_from)
        _touch(conn, crate_id)
        back = [
            (position, track_id, added_at)
            for position, track_id, added_at in zip(
                change.removed_positions, change.removed, change.removed_added_at, strict=True
            )
        ]
        if not back:
            return
        present = {t for (t,) in conn.execute(
            "SELECT track_id FROM crate_entries WHERE crate_id = ?", (crate_id,))}  # fmt: skip
        back = [entry for entry in back if entry[1] not in present]
        start = back[0][0] if back else 0
        tail = conn.execute(
            "SELECT track_id, added_at FROM crate_entries WHERE crate_id = ? AND position >= ? "
            "ORDER BY position",
            (crate_id, start),
        ).fetchall()
        merged: list[tuple[int, float]] = []
        rest = iter(tail)
        for position, track_id, added_at in back:
            while start + len(merged) < position:
                following = next(rest, None)
                if following is None:
                    break
                merged.append(following)
            merged.append((track_id, added_at))
        merged.extend(rest)
        _rewrite_from(conn, crate_id, start, merged)
        _save_count(conn, crate_id, _count(conn, crate_id))


def _rewrite_from(conn: sqlite3.Connection, crate_id: int, start: int, rows: list[tuple[int, float]]) -> None:
    """Replace the entries at ``start`` or later by ``rows`` (track_id, added_at), in order; tracks
    that no longer exist are left out."""
    conn.execute("DELETE FROM crate_entries WHERE crate_id = ? AND position >= ?", (crate_id, start))
    gone = missing_tracks(conn, (track_id for track_id, _ in rows))
    insert_entries(conn, crate_id, start, [row for row in rows if row[0] not in gone])


def move_entries(library: Library, crate_id: int, track_ids: Iterable[int], to_position: int) -> None:
    """Reorder: put these tracks of the crate (in the order given) before the entry that is now at
    ``to_position`` (the crate's length: at the end), as a drag of rows drops them.  Ids not in the
    crate are ignored."""
    moving = list(dict.fromkeys(int(t) for t in track_ids))
    _static_crate(library, crate_id)
    with library.write() as conn:
        _touch(conn, crate_id)
        positions = conn.execute(
            "SELECT e.position FROM json_each(?) i CROSS JOIN crate_entries e "
            "ON e.crate_id = ? AND e.track_id = i.value",
            (id_list(moving), crate_id),
        ).fetchall()
        if not positions:
            return
        count = _count(conn, crate_id)
        target = max(0, min(int(to_position), count))
        low = min(target, min(p for (p,) in positions))
        high = max(target, max(p for (p,) in positions) + 1)  # entries [low, high) may change
        window = conn.execute(
            "SELECT track_id, added_at FROM crate_entries "
            "WHERE crate_id = ? AND position >= ? AND position < ? "
            "ORDER BY position",
            (crate_id, low, high),
        ).fetchall()
        moved_set = set(moving)
        by_id = {track_id: added_at for track_id, added_at in window if track_id in moved_set}
        before = [row for row in window[: target - low] if row[0] not in moved_set]
        after = [row for row in window[target - low :] if row[0] not in moved_set]
        block = [(track_id, by_id[track_id]) for track_id in moving if track_id in by_id]
        new_window = before + block + after
        if new_window == window:
            return
        conn.execute(
            "DELETE FROM crate_entries WHERE crate_id = ? AND position >= ? AND position < ?",
            (crate_id, low, high),
        )
        insert_entries(conn, crate_id, low, new_window)


def crates_of_track(library: Library, track_id: int, *, smart: bool = False) -> list[CrateNode]:
    """The crates a track is in, by path (with ``smart``: also the smart crates it matches now)."""
    rows = library.execute(
        f"SELECT {', '.join('n.' + c for c in NODE_COLUMNS)} FROM crate_entries e "
        "JOIN crate_nodes n ON n.id = e.crate_id WHERE e.track_id = ? ORDER BY n.path_key",
        (track_id,),
    ).fetchall()
    found = [node_from_row(row, track_count=row[NODE_COLUMNS.index("track_count")]) for row in rows]
    if smart:
        for row in library.execute(f"SELECT {NODE_COLUMNS_SQL} FROM crate_nodes WHERE kind = 'smart' "
                                   "ORDER BY path_key").fetchall():  # fmt: skip
            try:
                where, params = smart_selection_sql(library, row)
            except CrateTreeError:
                continue
            if library.execute(
                f"SELECT 1 FROM tracks WHERE id = ? AND ({where})", [track_id, *params]
            ).fetchone():
                found.append(node_from_row(row))
        found.sort(key=lambda node: node.path.casefold())
    return found


def crate_track_ids(library: Library, node_id: int) -> list[int]:
    """A crate's track ids in crate order; a smart crate's, evaluated now in its sort (and limit)."""
    row = node_row_by_id(library, node_id)
    if row is None:
        raise CrateTreeError(f"no crate with id {node_id} (deleted meanwhile?)")
    kind = row[NODE_COLUMNS.index("kind")]
    if kind == CrateNodeKind.FOLDER:
        raise CrateTreeError(f"'{row[NODE_COLUMNS.index('path')]}' is a folder, not a crate")
    if kind == CrateNodeKind.CRATE:
        return [t for (t,) in library.execute(
            "SELECT track_id FROM crate_entries WHERE crate_id = ? ORDER BY position", (node_id,)
        )]  # fmt: skip
    where, params = smart_selection_sql(library, row)
    expr, direction = smart_order(row)
    return [t for (t,) in library.execute(
        f"SELECT id FROM tracks WHERE {where} ORDER BY {expr}{direction}, id{direction}", params
    )]  # fmt: skip


def entry_positions(library: Library, crate_id: int, track_ids: Iterable[int]) -> dict[int, int]:
    """Where these tracks are in a crate: track id -> position (tracks not in it are left out)."""
    wanted = [int(t) for t in track_ids]
    found: dict[int, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(
            library.execute(
                f"SELECT track_id, position FROM crate_entries WHERE crate_id = ? AND track_id IN ({marks})",
                [crate_id, *chunk],
            )
        )
    return found


# -- handing memberships from one track to another (inside the caller's transaction) ----------------
def hand_over_memberships(
    conn: sqlite3.Connection, from_track: int, to_track: int
) -> list[dict[str, object]]:
    """Give ``from_track``'s crate memberships to ``to_track``, inside the caller's transaction (a
    dedupe that keeps one copy of a song does it with the rest of its work, all or nothing).

    In a crate without ``to_track`` the entry keeps its place under the new id ("handed"); in a crate
    that has ``to_track`` already the entry goes and the ones after it close up ("dropped").  Returns
    one record per entry (crate, position, added_at, how), which ``take_back_memberships`` reverses.
    """
    done: list[dict[str, object]] = []
    entries = conn.execute(
        "SELECT e.crate_id, e.position, e.added_at, k.position IS NOT NULL FROM crate_entries e "
        "LEFT JOIN crate_entries k ON k.crate_id = e.crate_id AND k.track_id = ? "
        "WHERE e.track_id = ? ORDER BY e.crate_id",
        (to_track, from_track),
    ).fetchall()
    for crate_id, position, added_at, kept_is_member in entries:
        if kept_is_member:
            conn.execute(
                "DELETE FROM crate_entries WHERE crate_id = ? AND position = ?", (crate_id, position)
            )
            _renumber_from(conn, crate_id, position)
            _save_count(conn, crate_id, _count(conn, crate_id))
        else:
            conn.execute(
                "UPDATE crate_entries SET track_id = ? WHERE crate_id = ? AND position = ?",
                (to_track, crate_id, position),
            )
        done.append({"crate": crate_id, "position": position, "added_at": added_at,
                     "how": "dropped" if kept_is_member else "handed"})  # fmt: skip
    return done


def take_back_memberships(
    conn: sqlite3.Connection, from_track: int, to_track: int, handed: list[dict[str, object]]
) -> None:
    """Reverse ``hand_over_memberships(conn, from_track, to_track)`` inside the caller's transaction:
    handed entries return to ``from_track`` in place, dropped ones are put back at their old
    positions (clamped to the crate's length).  Crates deleted since are skipped; ``from_track`` must
    exist again.  Several hand-overs are taken back newest first."""
    for entry in reversed(handed):
        crate_id, position = int(entry["crate"]), int(entry["position"])
        if conn.execute("SELECT 1 FROM crate_nodes WHERE id = ?", (crate_id,)).fetchone() is None:
            continue
        if conn.execute(
            "SELECT 1 FROM crate_entries WHERE crate_id = ? AND track_id = ?", (crate_id, from_track)
        ).fetchone():
            continue  # back in the crate already
        if entry["how"] == "handed":
            conn.execute(
                "UPDATE crate_entries SET track_id = ? WHERE crate_id = ? AND track_id = ?",
                (from_track, crate_id, to_track),
            )
            continue
        count = _count(conn, crate_id)
        position = min(position, count)
        if position < count:
            _shift(conn, crate_id, position, 1)
        insert_entries(conn, crate_id, position, [(from_track, float(entry["added_at"]))])
        _save_count(conn, crate_id, count + 1)
