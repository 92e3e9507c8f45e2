"""One runner per rename batch across processes: an OS lock on a small file beside the library.

Two windows, or a window and ``crate-cli rename --resume``, must never move the files of one batch at
the same time.  The lock is the operating system's (``flock`` on Linux and macOS, ``msvcrt.locking``
on Windows): it goes away with the process that held it, even when that process is killed, so there
is no stale lock to clean up and no pid to check for liveness.  The holder writes its pid into the
file, for the message the others get.  Within one process the lock is re-entrant for the thread that
holds it (``create_undo`` reconciles the batch it is undoing under the same lock).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from types import TracebackType

from crate_app.domain.errors import RenameBusy

_held: dict[str, tuple[int, int, int]] = {}  # lock path -> (fd, owning thread id, depth)
_held_guard = threading.Lock()


def lock_path(library_path: Path, batch_id: int) -> Path:
    """``<library>.locks/rename-<batch>.lock``."""
    return library_path.with_name(f"{library_path.name}.locks") / f"rename-{batch_id}.lock"


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class BatchLock:
    """``with BatchLock(library.path, batch_id):`` runs the body as the batch's only runner, or raises
    ``RenameBusy`` with a sentence saying who has it."""

    def __init__(self, library_path: Path, batch_id: int) -> None:
        self.batch_id = batch_id
        self.path = lock_path(Path(library_path), batch_id)

    def acquire(self) -> None:
        key = str(self.path)
        me = threading.get_ident()
        with _held_guard:
            if key in _held:
                fd, owner, depth = _held[key]
                if owner != me:
                    raise RenameBusy(f"rename batch {self.batch_id} is already running in this window")
                _held[key] = (fd, owner, depth + 1)
                return
            fd = self._lock_file()
            _held[key] = (fd, me, 1)

    def _lock_file(self) -> int:
        try:
            self.path.parent.mkdir(exist_ok=True)
        except OSError as exc:
            message = f"cannot lock rename batch {self.batch_id}: {exc.strerror} ({self.path.parent})"
            raise RenameBusy(message) from exc
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                os.close(fd)
                pid = _holder_pid(self.path)
                who = f"another Crate process (pid {pid})" if pid else "another Crate process"
                raise RenameBusy(
                    f"rename batch {self.batch_id} is being run by {who}: "
                    "let it finish there, or pause it there first"
                )
            try:  # the file may have been removed by a holder that just finished: lock the one in place
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same or sys.platform == "win32":
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode("ascii"))
                return fd
            os.close(fd)

    def release(self) -> None:
        key = str(self.path)
        with _held_guard:
            fd, owner, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, owner, depth - 1)
                return
            del _held[key]
            if sys.platform != "win32":
                try:
                    self.path.unlink()  # while still locked, so nobody else holds this inode
                except OSError:
                    pass
            os.close(fd)  # releases the lock

    def __enter__(self) -> BatchLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()


def running_elsewhere(library_path: Path, batch_id: int) -> int | None:
    """The pid of another process running this batch right now, else None (0 if its pid is unknown)."""
    path = lock_path(Path(library_path), batch_id)
    if not path.exists() or str(path) in _held:
        return None
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        if _try_lock(fd):
            return None  # nobody holds it (closing the descriptor releases our probe)
        return _holder_pid(path) or 0
    finally:
        os.close(fd)
