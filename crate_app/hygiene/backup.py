"""Rotating backups of a library file, the start-up integrity check and restore.

Backups are made with SQLite's online backup API in steps of a few megabytes (other threads run
while SQLite copies: it releases the GIL), checked to be complete (every page there, the schema
readable) and only then given their final name.  Whether a backup is sound (``PRAGMA quick_check``,
as long as the copy itself) is asked when it is needed: restore takes the newest one that passes.
The newest ``keep`` are kept.

An unclean exit is noticed by a marker file next to the library that a clean quit removes
(``SessionMarker``); after one, ``quick_check`` says whether the library is damaged.  ``restore``
moves the damaged file (and its WAL) aside under a new name, never deleting it, then copies the
backup into place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crate_app.domain.errors import CrateError
from crate_app.paths import data_dir

BACKUP_SUFFIX = ".crate-backup.sqlite"
DEFAULT_KEEP = 7
DAY_SECONDS = 24 * 3600
STEP_PAGES = 4096  # 16 MB per step with 4 KB pages (SQLite releases the GIL while it copies a step)
MAX_RESTARTS = 3  # the library changed under the backup this often: finish in one step instead


class BackupError(CrateError):
    """A backup or restore could not be done; the message says why in words."""


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """One backup file: where, when it was made (epoch seconds) and its size in bytes."""

    path: Path
    created: float
    size: int


def backup_folder(library_path: Path, root: Path | None = None) -> Path:
    """Where the backups of ``library_path`` live: ``<data folder>/backups/<name>-<hash of path>``."""
    library_path = Path(library_path).expanduser().resolve()
    digest = hashlib.sha1(os.fsencode(library_path)).hexdigest()[:8]
    return (root or data_dir() / "backups") / f"{library_path.stem}-{digest}"


def list_backups(library_path: Path, root: Path | None = None) -> list[BackupInfo]:
    """The finished backups of a library, newest first."""
    folder = backup_folder(library_path, root)
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(BACKUP_SUFFIX) and entry.is_file():
            info = entry.stat()
            found.append(BackupInfo(entry, info.st_mtime, info.st_size))
    return sorted(found, key=lambda b: (b.created, b.path.name), reverse=True)


def backup_due(library_path: Path, *, now: float | None = None, root: Path | None = None) -> bool:
    """Whether the daily backup is due (no backup in the last 24 hours)."""
    now = time.time() if now is None else now
    backups = list_backups(library_path, root)
    return not backups or now - backups[0].created >= DAY_SECONDS


def create_backup(
    library_path: Path,
    *,
    keep: int = DEFAULT_KEEP,
    root: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    step_pages: int = STEP_PAGES,
    now: float | None = None,
) -> BackupInfo:
    """Copy the library into a new backup (online: others may read and write meanwhile), verify it,
    then delete all but the newest ``keep`` backups.  ``progress(done_pages, total_pages)``."""
    library_path = Path(library_path).expanduser()
    if not library_path.is_file():
        raise BackupError(f"no library at {library_path}")
    folder = backup_folder(library_path, root)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the backup folder {folder}: {exc.strerror}") from exc
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    final = _free_name(folder, f"{library_path.stem}-{stamp}")
    partial = final.with_name(final.name + ".partial")
    try:
        pages = _copy_online(library_path, partial, step_pages, progress)
        problem = _incomplete(partial, pages)
        if problem is not None:
            raise BackupError(f"the backup is not a complete copy ({problem})")
        os.utime(partial, (now, now))  # the modification time says when the backup was made
        os.replace(partial, final)
    except sqlite3.Error as exc:
        raise BackupError(f"the backup of {library_path} failed: {exc}") from exc
    except OSError as exc:
        raise BackupError(f"the backup of {library_path} failed: {exc.strerror or exc}") from exc
    finally:
        if partial.exists():
            partial.unlink()  # our own unfinished copy, never the user's data
    prune_backups(library_path, keep=keep, root=root)
    info = final.stat()
    return BackupInfo(final, now, info.st_size)


def _free_name(folder: Path, stem: str) -> Path:
    candidate = folder / f"{stem}{BACKUP_SUFFIX}"
    counter = 1
    while candidate.exists():
        candidate = folder / f"{stem}-{counter:02d}{BACKUP_SUFFIX}"  # two backups within one second
        counter += 1
    return candidate


class _Restarted(Exception):
    pass


def _incomplete(path: Path, pages: int) -> str | None:
    """None when ``path`` has ``pages`` pages and a readable schema, else what is wrong."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            have = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if have == pages else f"{have:,} of {pages:,} pages"


def _copy_online(
    source_path: Path, target_path: Path, step_pages: int, progress: Callable[[int, int], None] | None
) -> int:
    """Copy with the backup API; returns the number of pages the source had when the copy finished."""
    source = sqlite3.connect(source_path, timeout=15)
    target = sqlite3.connect(target_path)
    try:
        restarts = 0
        last_remaining = None
        source_pages = 0

        def report(_status: int, remaining: int, total: int) -> None:
            nonlocal restarts, last_remaining, source_pages
            source_pages = total
            if restarts >= MAX_RESTARTS:
                return  # the single-step fallback
            if last_remaining is not None and remaining > last_remaining:
                restarts += 1  # the library changed: SQLite started the copy again
                if restarts >= MAX_RESTARTS:
                    raise _Restarted
            last_remaining = remaining
            if progress is not None:
                progress(total - remaining, total)

        try:
            source.backup(target, pages=step_pages, progress=report)
        except _Restarted:
            source.backup(
                target, pages=-1, progress=report
            )  # one step: one consistent read of a busy library
            if progress is not None:
                progress(source_pages, source_pages)
        target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        if not source_pages:  # no step was reported (an empty library)
            source_pages = target.execute("PRAGMA page_count").fetchone()[0]
        return source_pages
    finally:
        target.close()
        source.close()


def prune_backups(library_path: Path, *, keep: int, root: Path | None = None) -> list[Path]:
    """Delete all but the newest ``keep`` backups (backups only: copies this module made), never the one
    waiting to be restored."""
    removed = []
    waiting = pending_restore(library_path)
    for old in list_backups(library_path, root)[max(1, keep) :]:
        if waiting is not None and old.path.resolve() == waiting:
            continue
        old.path.unlink()
        removed.append(old.path)
    return removed


def quick_check(path: Path) -> str | None:
    """None when SQLite's ``PRAGMA quick_check`` finds ``path`` sound, else what is wrong, in words."""
    if not Path(path).is_file():
        return "the file does not exist"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=15)
        try:
            rows = [row[0] for row in conn.execute("PRAGMA quick_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"SQLite cannot read it: {exc}"
    if rows == ["ok"]:
        return None
    return "; ".join(str(r) for r in rows[:3]) + (
        f" (and {len(rows) - 3} more problems)" if len(rows) > 3 else ""
    )


def newest_good_backup(library_path: Path, root: Path | None = None) -> BackupInfo | None:
    """The newest backup that passes ``quick_check``."""
    return next((b for b in list_backups(library_path, root) if quick_check(b.path) is None), None)


def restore(library_path: Path, backup: Path, *, now: float | None = None) -> Path | None:
    """Put ``backup`` in place of the library.  The current library file and its ``-wal``/``-shm``
    are renamed aside (``<name>.damaged-<time>``), never deleted; returns the set-aside library path
    (None when there was no library).  No connection to the library may be open."""
    library_path = Path(library_path).expanduser()
    backup = Path(backup)
    problem = quick_check(backup)
    if problem is not None:
        raise BackupError(f"the backup {backup} cannot be used: {problem}")
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    staged = library_path.with_name(library_path.name + ".restoring")
    try:
        shutil.copyfile(backup, staged)
        aside = None
        if library_path.exists():
            aside = _free_aside(library_path, stamp)
            os.replace(library_path, aside)
            for suffix in ("-wal", "-shm"):
                extra = Path(str(library_path) + suffix)
                if extra.exists():
                    os.replace(extra, Path(str(aside) + suffix))
        os.replace(staged, library_path)
    except OSError as exc:
        raise BackupError(f"cannot restore {library_path}: {exc.strerror or exc}") from exc
    finally:
        if staged.exists():
            staged.unlink()  # our own copy of the backup
    return aside


def _free_aside(library_path: Path, stamp: str) -> Path:
    candidate = library_path.with_name(f"{library_path.name}.damaged-{stamp}")
    counter = 1
    while candidate.exists():
        candidate = library_path.with_name(f"{library_path.name}.damaged-{stamp}-{counter}")
        counter += 1
    return candidate


class SessionMarker:
    """A file beside the library that exists while Crate has it open; found at start-up, it means the
    last session did not end cleanly (a crash, a kill, a power cut)."""

    def __init__(self, library_path: Path) -> None:
        self.path = Path(str(Path(library_path).expanduser()) + ".open")

    def unclean(self) -> bool:
        """Whether the previous session left the marker behind."""
        return self.path.exists()

    def begin(self) -> None:
        try:
            self.path.write_text(f"{os.getpid()}\n")
        except OSError:
            pass  # a read-only folder: no crash detection, everything else works

    def end(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass


def damage_after_unclean_exit(library_path: Path) -> str | None:
    """What is wrong with the library when the last session did not end cleanly (``quick_check``),
    else None (also after a clean exit: no check is needed then)."""
    library_path = Path(library_path).expanduser()
    if not SessionMarker(library_path).unclean() or not library_path.exists():
        return None
    return quick_check(library_path)


def _pending_path(library_path: Path) -> Path:
    return Path(str(Path(library_path).expanduser()) + ".restore-pending")


def schedule_restore(library_path: Path, backup_path: Path) -> None:
    """Ask for ``backup_path`` to be restored the next time the library is opened (while it is open,
    connections of other threads still use the file)."""
    problem = quick_check(backup_path)
    if problem is not None:
        raise BackupError(f"the backup {backup_path} cannot be used: {problem}")
    _pending_path(library_path).write_text(str(Path(backup_path).resolve()), encoding="utf-8")


def pending_restore(library_path: Path) -> Path | None:
    """The backup waiting to be restored before the library is opened, if any."""
    pending = _pending_path(library_path)
    if not pending.is_file():
        return None
    return Path(pending.read_text(encoding="utf-8").strip())


def restore_pending(library_path: Path) -> Path | None:
    """Restore the scheduled backup (see ``schedule_restore``) before the library is opened; returns the
    set-aside library file.  The request is dropped either way: a failure is raised once."""
    chosen = pending_restore(library_path)
    if chosen is None:
        return None
    _pending_path(library_path).unlink()
    return restore(library_path, chosen)
