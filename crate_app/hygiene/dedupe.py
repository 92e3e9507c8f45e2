"""Removing duplicates, reversibly: every removal is journalled so that it can be undone.

One ``resolve`` call handles one duplicate set: the kept track inherits the crate memberships of the
others (through ``crates.hand_over_memberships``, in the same transaction) and their analysis when
it has none; the
others' rows are recorded in ``dedupe_removed`` (with their hashes and crate entries) and deleted.
All of that is one transaction: a crash leaves the library as before or as after.  Then, for the
"move" and "trash" actions, the files are moved to a folder or sent to the OS trash (never deleted);
a file that cannot be moved stays where it is (and is no longer in the library): nothing is lost.

``undo`` puts the rows back with their ids (so analysis, crates and history return with them), moves
files back from the folder, and from the trash where the OS trash can be read (the freedesktop trash
on Linux); elsewhere it says which files to restore from the trash by hand.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crate_app.crates.entries import hand_over_memberships, take_back_memberships
from crate_app.domain.errors import CrateError
from crate_app.domain.track import path_from_db, path_to_db
from crate_app.rename.fsops import TargetExistsError, move_file
from crate_app.store.library import Library

ACTIONS = ("remove", "move", "trash")
_ANALYSIS_COLUMNS = ("bpm", "key", "bpm_confidence", "key_confidence", "analyzed_at", "analysis_error")


class DedupeError(CrateError):
    """A duplicate set cannot be resolved as asked; the message says why."""


@dataclass
class DedupeOutcome:
    """What one resolve or undo did."""

    action_id: int
    removed: list[int] = field(default_factory=list)
    files_moved: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # files left where they were, and why


def _send_to_trash(path: str) -> None:
    from send2trash import send2trash

    send2trash(path)


def resolve(
    library: Library,
    keep_id: int,
    remove_ids: Sequence[int],
    *,
    action: str = "remove",
    folder: str | None = None,
    trash: Callable[[str], None] | None = None,
    now: float | None = None,
) -> DedupeOutcome:
    """Keep ``keep_id``; remove ``remove_ids`` from the library (``action`` "remove"), and also move
    their files into ``folder`` ("move") or send them to the OS trash ("trash")."""
    if action not in ACTIONS:
        raise DedupeError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    if action == "move" and not folder:
        raise DedupeError("moving duplicates needs a folder")
    remove_ids = [i for i in dict.fromkeys(remove_ids) if i != keep_id]
    if not remove_ids:
        raise DedupeError("nothing to remove: the set has only the kept track")
    now = time.time() if now is None else now
    with library.write() as conn:
        if conn.execute("SELECT 1 FROM tracks WHERE id = ?", (keep_id,)).fetchone() is None:
            raise DedupeError(f"the track to keep ({keep_id}) is not in the library")
        description = f"kept {keep_id}, removed {', '.join(map(str, remove_ids))}"
        action_id = conn.execute(
            "INSERT INTO dedupe_actions (created_at, kind, description) VALUES (?, ?, ?)",
            (now, action, description),
        ).lastrowid
        kept_before = _row(conn, "tracks", "id", keep_id)
        outcome = DedupeOutcome(action_id)
        for track_id in remove_ids:
            row = _row(conn, "tracks", "id", track_id)
            if row is None:
                raise DedupeError(f"track {track_id} is not in the library (was it removed already?)")
            extra = {
                # Rows of other tables that belong to the track (hashes, cues, waveform, imported
                # analysis...): deleted with it by their foreign keys, put back by undo.
                "children": {
                    table: _rows(conn, table, column, track_id) for table, column in _child_tables(conn)
                },
                "crates": hand_over_memberships(conn, track_id, keep_id),
                "kept_before": kept_before,
                "copied_cues": _inherit_corrections(conn, keep_id, row),
            }
            _inherit_analysis(conn, keep_id, row)
            source = path_from_db(row["path"])
            target = _target_path(source, action, folder)
            conn.execute(
                "INSERT INTO dedupe_removed (action_id, track_id, kept_id, row, extra, file_from, file_to) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (action_id, track_id, keep_id, json.dumps(row), json.dumps(extra), row["path"],
                 path_to_db(target) if target else None),
            )  # fmt: skip
            try:
                conn.execute("DELETE FROM tracks WHERE id = ?", (track_id,))
            except sqlite3.IntegrityError as exc:
                raise DedupeError(
                    f"track {track_id} is still referred to elsewhere ({exc}); nothing was removed"
                ) from exc
            outcome.removed.append(track_id)
    if action != "remove":
        _move_files(library, action_id, action, trash or _send_to_trash, outcome)
    return outcome


def _target_path(source: str, action: str, folder: str | None) -> str | None:
    if action == "move":
        return os.path.join(folder or "", os.path.basename(source))
    if action == "trash":
        return "trash:" + source
    return None


def _move_files(
    library: Library, action_id: int, action: str, trash: Callable[[str], None], outcome: DedupeOutcome
) -> None:
    rows = library.execute(
        "SELECT track_id, file_from, file_to FROM dedupe_removed WHERE action_id = ? ORDER BY track_id",
        (action_id,),
    ).fetchall()
    for track_id, db_from, db_to in rows:
        source = path_from_db(db_from)
        if not os.path.exists(source):
            outcome.problems.append(f"{source}: the file is not there any more")
            _set_file_to(library, action_id, track_id, None)
            continue
        try:
            if action == "trash":
                trash(source)
                target = "trash:" + source
            else:
                target = _free_path(path_from_db(db_to))
                move_file(source, target)
        except (OSError, TargetExistsError, Exception) as exc:  # the file stays where it is
            outcome.problems.append(f"{source}: {exc}")
            _set_file_to(library, action_id, track_id, None)
            continue
        _set_file_to(library, action_id, track_id, target)
        outcome.files_moved.append((source, target))


def _set_file_to(library: Library, action_id: int, track_id: int, target: str | None) -> None:
    with library.write() as conn:
        conn.execute(
            "UPDATE dedupe_removed SET file_to = ? WHERE action_id = ? AND track_id = ?",
            (path_to_db(target) if target else None, action_id, track_id),
        )


def _free_path(path: str) -> str:
    stem, ext = os.path.splitext(path)
    candidate, counter = path, 2
    while os.path.lexists(candidate):
        candidate = f"{stem} ({counter}){ext}"
        counter += 1
    return candidate


def _row(conn, table: str, key: str, value: int) -> dict[str, object] | None:
    cursor = conn.execute(f"SELECT * FROM {table} WHERE {key} = ?", (value,))
    found = cursor.fetchone()
    if found is None:
        return None
    row = dict(zip([d[0] for d in cursor.description], found, strict=True))
    for name, item in row.items():
        if isinstance(item, bytes):
            row[name] = {"hex": item.hex()}
    return row


def _unrow(value: object) -> object:
    return bytes.fromhex(value["hex"]) if isinstance(value, dict) and "hex" in value else value


def _insert(conn, table: str, row: dict[str, object]) -> None:
    names = list(row)
    marks = ", ".join("?" * len(names))
    conn.execute(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", [_unrow(row[n]) for n in names]
    )


def _child_tables(conn) -> list[tuple[str, str]]:
    """(table, column) of every table whose rows belong to a track through a foreign key (crate entries
    are handed over instead, the journal is ours)."""
    found = []
    for (table,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
    ):
        if table in ("tracks", "crate_entries", "dedupe_removed") or table.startswith("sqlite_"):
            continue
        for key in conn.execute(f"PRAGMA foreign_key_list({table})"):
            if key[2] == "tracks":
                found.append((table, key[3]))
    return found


def _rows(conn, table: str, column: str, value: int) -> list[dict[str, object]]:
    cursor = conn.execute(f"SELECT * FROM {table} WHERE {column} = ?", (value,))
    names = [d[0] for d in cursor.description]
    rows = []
    for found in cursor.fetchall():
        row = dict(zip(names, found, strict=True))
        rows.append({k: ({"hex": v.hex()} if isinstance(v, bytes) else v) for k, v in row.items()})
    return rows


def _insert_child(conn, table: str, row: dict[str, object]) -> None:
    """Put a child row back; if its own id was taken meanwhile, under a new id."""
    try:
        _insert(conn, table, row)
    except sqlite3.IntegrityError:
        key = [info[1] for info in conn.execute(f"PRAGMA table_info({table})") if info[5]]
        if len(key) == 1 and key[0] in row and key[0] != "track_id":
            _insert(conn, table, {k: v for k, v in row.items() if k != key[0]})
        # otherwise the same row is there already (INSERT OR IGNORE semantics)


def _track_columns(conn) -> set[str]:
    return {info[1] for info in conn.execute("PRAGMA table_info(tracks)")}


_CORRECTION_COLUMNS = (
    "rating", "color", "bpm_locked", "key_locked", "first_beat_locked", "first_beat", "first_downbeat",
)  # fmt: skip


def _inherit_corrections(conn, keep_id: int, removed: dict[str, object]) -> list[int]:
    """The kept track takes what the user set on a removed copy where it has nothing of its own: the
    rating, the colour, BPM/key/beat grid corrections (locked values) and the cue points.  Returns the
    ids of the cues copied (undo deletes them)."""
    present = _track_columns(conn)
    if "rating" in present:
        conn.execute(
            "UPDATE tracks SET rating = ? WHERE id = ? AND rating IS NULL", (removed.get("rating"), keep_id)
        )
    if "color" in present and removed.get("color"):
        conn.execute("UPDATE tracks SET color = ? WHERE id = ? AND color = ''", (removed["color"], keep_id))
    for lock, values in (("bpm_locked", ("bpm",)), ("key_locked", ("key",)),
                         ("first_beat_locked", ("first_beat", "first_downbeat"))):  # fmt: skip
        if lock in present and removed.get(lock) and all(v in present for v in values):
            assignments = ", ".join(f"{v} = ?" for v in values)
            conn.execute(
                f"UPDATE tracks SET {assignments}, {lock} = 1 WHERE id = ? AND {lock} = 0",
                [removed.get(v) for v in values] + [keep_id],
            )
    copied: list[int] = []
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'cues'").fetchone() is not None:
        has_own = conn.execute("SELECT 1 FROM cues WHERE track_id = ?", (keep_id,)).fetchone()
        if has_own is None:
            columns = [
                c
                for c in (info[1] for info in conn.execute("PRAGMA table_info(cues)"))
                if c not in ("id", "track_id")
            ]
            names = ", ".join(f'"{c}"' for c in columns)
            for (cue_id,) in conn.execute(
                "SELECT id FROM cues WHERE track_id = ? ORDER BY id", (removed["id"],)
            ).fetchall():
                new = conn.execute(
                    f"INSERT INTO cues (track_id, {names}) SELECT ?, {names} FROM cues WHERE id = ?",
                    (keep_id, cue_id),
                ).lastrowid
                copied.append(new)
    return copied


def _inherit_analysis(conn, keep_id: int, removed: dict[str, object]) -> None:
    """The kept track takes a removed track's analysis when it has none itself (never over a value the
    user locked)."""
    if removed.get("analyzed_at") is None:
        return
    present = _track_columns(conn)
    guarded = {"bpm": "bpm_locked", "key": "key_locked"}
    for column, lock in guarded.items():
        if lock in present:  # a locked value stays; otherwise the analysed one comes over
            conn.execute(
                f"UPDATE tracks SET {column} = ? WHERE id = ? AND analyzed_at IS NULL AND {lock} = 0",
                (removed.get(column), keep_id),
            )
    columns = [c for c in _ANALYSIS_COLUMNS if not (c in guarded and guarded[c] in present)]
    assignments = ", ".join(f"{c} = ?" for c in columns)
    conn.execute(
        f"UPDATE tracks SET {assignments} WHERE id = ? AND analyzed_at IS NULL",
        [removed.get(c) for c in columns] + [keep_id],
    )


# -- history and undo ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DedupeAction:
    id: int
    created_at: float
    kind: str
    description: str
    undone_at: float | None
    tracks: int


def history(library: Library, limit: int = 100) -> list[DedupeAction]:
    """The latest duplicate removals, newest first."""
    rows = library.execute(
        "SELECT a.id, a.created_at, a.kind, a.description, a.undone_at, COUNT(r.track_id) "
        "FROM dedupe_actions a LEFT JOIN dedupe_removed r ON r.action_id = a.id "
        "GROUP BY a.id ORDER BY a.id DESC LIMIT ?",
        (limit,),
    )
    return [DedupeAction(*row) for row in rows]


def replay(library: Library, action_id: int) -> tuple[str, int, list[int], str | None]:
    """What ``resolve`` was asked in removal ``action_id``: (action, kept id, removed ids, folder of a
    "move"), so that a removal made in an earlier session can be redone after its undo."""
    kind = library.execute("SELECT kind FROM dedupe_actions WHERE id = ?", (action_id,)).fetchone()
    if kind is None:
        raise DedupeError(f"no duplicate removal {action_id}")
    rows = library.execute(
        "SELECT kept_id, track_id, file_to FROM dedupe_removed WHERE action_id = ? ORDER BY rowid",
        (action_id,),
    ).fetchall()
    if not rows:
        raise DedupeError(f"duplicate removal {action_id} removed nothing")
    moved = [path_from_db(to) for _k, _t, to in rows if to is not None and not str(to).startswith("trash:")]
    folder = os.path.dirname(moved[0]) if kind[0] == "move" and moved else None
    return kind[0], rows[0][0], [track_id for _k, track_id, _to in rows], folder


def undo(library: Library, action_id: int, *, now: float | None = None) -> DedupeOutcome:
    """Reverse one removal: files come back first (from the folder, or the trash where readable), then
    the rows, crate entries and hashes return in one transaction.  A path taken since by another
    track keeps that track; the removed one comes back marked missing under its old path's id."""
    now = time.time() if now is None else now
    action = library.execute(
        "SELECT kind, undone_at FROM dedupe_actions WHERE id = ?", (action_id,)
    ).fetchone()
    if action is None:
        raise DedupeError(f"no duplicate removal {action_id}")
    if action[1] is not None:
        raise DedupeError(f"duplicate removal {action_id} was undone already")
    removed = library.execute(
        "SELECT track_id, kept_id, row, extra, file_from, file_to FROM dedupe_removed WHERE action_id = ? "
        "ORDER BY rowid DESC",  # newest first: crate positions are taken back in reverse order
        (action_id,),
    ).fetchall()
    outcome = DedupeOutcome(action_id)
    for _track_id, _kept, _row_json, _extra, db_from, db_to in removed:
        if db_to is None:
            continue
        original, target = path_from_db(db_from), path_from_db(db_to)
        if os.path.lexists(original):
            continue
        try:
            if target.startswith("trash:"):
                restore_from_trash(original)
            else:
                move_file(target, original)
            outcome.files_moved.append((target, original))
        except (OSError, DedupeError) as exc:
            outcome.problems.append(f"{original}: {exc}")
    with library.write() as conn:
        for track_id, kept_id, row_json, extra_json, _from, _to in removed:
            row = json.loads(row_json)
            extra = json.loads(extra_json)
            taken = conn.execute("SELECT id FROM tracks WHERE path = ?", (row["path"],)).fetchone()
            if taken is not None:
                outcome.problems.append(f"{path_from_db(row['path'])}: another track has this path now")
                continue
            if conn.execute("SELECT 1 FROM tracks WHERE id = ?", (track_id,)).fetchone() is not None:
                outcome.problems.append(f"track {track_id}: its id is in use")
                continue
            if not os.path.exists(path_from_db(row["path"])):
                row["status"] = "missing"
            _insert(conn, "tracks", row)
            for table, rows in extra.get("children", {}).items():
                for child in rows:
                    _insert_child(conn, table, child)
            take_back_memberships(conn, track_id, kept_id, extra.get("crates", []))
            outcome.removed.append(track_id)
        kept_rows = {
            json.loads(e)["kept_before"]["id"]: json.loads(e)["kept_before"] for *_x, e, _f, _t in removed
        }
        present = _track_columns(conn)
        restored = [c for c in (*_ANALYSIS_COLUMNS, *_CORRECTION_COLUMNS) if c in present]
        for kept_id, before in kept_rows.items():
            assignments = ", ".join(f"{c} = ?" for c in restored)
            conn.execute(
                f"UPDATE tracks SET {assignments} WHERE id = ?", [before.get(c) for c in restored] + [kept_id]
            )
        for *_x, extra_json, _f, _t in removed:
            copied = json.loads(extra_json).get("copied_cues", [])
            conn.executemany("DELETE FROM cues WHERE id = ?", [(cue_id,) for cue_id in copied])
        conn.execute("UPDATE dedupe_actions SET undone_at = ? WHERE id = ?", (now, action_id))
    return outcome


def _trash_folders() -> list[Path]:
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return [data_home / "Trash"]


def restore_from_trash(original: str) -> None:
    """Move a file sent to the freedesktop trash back to ``original`` (Linux and BSD desktops)."""
    for trash in _trash_folders():
        info_folder = trash / "info"
        if not info_folder.is_dir():
            continue
        for info in sorted(info_folder.glob("*.trashinfo"), key=lambda p: p.stat().st_mtime, reverse=True):
            for line in info.read_text(errors="replace").splitlines():
                if line.startswith("Path=") and urllib.parse.unquote(line[5:]) == original:
                    stored = trash / "files" / info.name[: -len(".trashinfo")]
                    if stored.exists():
                        move_file(str(stored), original)
                        info.unlink()
                        return
    raise DedupeError("the file is not in a trash Crate can read: restore it from the trash by hand")
