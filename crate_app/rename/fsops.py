"""File moves that never overwrite: the only place in Crate that moves a user's file.

``move_file`` renames within a filesystem with an atomic no-replace rename where the OS has one
(``renameat2(RENAME_NOREPLACE)`` on Linux, ``renamex_np(RENAME_EXCL)`` on macOS; Windows' rename
never replaces), and across filesystems copies to a hidden part file, verifies size and hash,
renames the part file into place (no-replace again) and only then deletes the source.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import os
import shutil
import sys
from pathlib import Path

PART_SUFFIX = ".crate-part"
_CHUNK = 1 << 20


class TargetExistsError(FileExistsError):
    """The target path is taken: Crate never moves a file onto an existing one."""


def _load_libc():  # type: ignore[no-untyped-def]
    if sys.platform not in ("linux", "darwin"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1  # linux/fs.h
_RENAME_EXCL = 0x4  # macOS stdio.h


def _native_rename_noreplace(src: str, dst: str) -> bool:
    """Try the OS's atomic no-replace rename; False when it is not available for these paths."""
    if _LIBC is None:
        return False
    source, target = os.fsencode(src), os.fsencode(dst)
    if sys.platform == "linux":
        function = getattr(_LIBC, "renameat2", None)
        if function is None:
            return False
        result = function(_AT_FDCWD, source, _AT_FDCWD, target, _RENAME_NOREPLACE)
    else:
        function = getattr(_LIBC, "renamex_np", None)
        if function is None:
            return False
        result = function(source, target, _RENAME_EXCL)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # this filesystem cannot do it: fall back to check-then-rename
    if code == errno.EEXIST:
        raise TargetExistsError(code, "a file already exists at the target", dst)
    raise OSError(code, os.strerror(code), src)


def rename_no_replace(src: str, dst: str) -> None:
    """Rename within one filesystem; raises TargetExistsError rather than replace anything."""
    if _native_rename_noreplace(src, dst):
        return
    if os.path.lexists(dst) and not _is_case_alias(src, dst):
        raise TargetExistsError(errno.EEXIST, "a file already exists at the target", dst)
    os.rename(src, dst)  # (on Windows, rename itself never replaces)


def _is_case_alias(src: str, dst: str) -> bool:
    """True when ``dst`` names ``src`` itself on a case-insensitive filesystem (a case-only rename)."""
    try:
        return src.lower() == dst.lower() and os.path.samefile(src, dst)
    except OSError:
        return False


def same_filesystem(src: str, dst: str) -> bool:
    """Whether ``dst`` (which may not exist yet) is on the filesystem of ``src``."""
    probe = Path(dst).parent
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    try:
        return os.stat(src).st_dev == os.stat(probe).st_dev
    except OSError:
        return True


def file_digest(path: str) -> tuple[int, str]:
    """(size, blake2b hex digest) of a file's content."""
    digest = hashlib.blake2b(digest_size=20)
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def part_path(dst: str) -> str:
    folder, name = os.path.split(dst)
    return os.path.join(folder, f".{name}{PART_SUFFIX}")


def copy_verify_move(src: str, dst: str) -> None:
    """Move across filesystems: copy to a part file, verify, put in place, then delete the source."""
    if os.path.lexists(dst):
        raise TargetExistsError(errno.EEXIST, "a file already exists at the target", dst)
    part = part_path(dst)
    digest = hashlib.blake2b(digest_size=20)
    try:
        with open(src, "rb") as source, open(part, "xb") as target:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                target.write(chunk)
            target.flush()
            os.fsync(target.fileno())
        copied_size, copied_digest = file_digest(part)
        if (copied_size, copied_digest) != (os.path.getsize(src), digest.hexdigest()):
            raise OSError(errno.EIO, "the copy does not match the original (verification failed)", dst)
        with contextlib.suppress(OSError):  # timestamps are nice to keep, not essential
            shutil.copystat(src, part)
        rename_no_replace(part, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise
    _fsync_folder(os.path.dirname(dst))
    os.unlink(src)


def move_file(src: str, dst: str) -> None:
    """Move ``src`` to ``dst``, creating folders; never onto an existing path, never losing the source."""
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    if same_filesystem(src, dst):
        try:
            rename_no_replace(src, dst)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
    copy_verify_move(src, dst)


def _fsync_folder(folder: str) -> None:
    if sys.platform == "win32":
        return
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
