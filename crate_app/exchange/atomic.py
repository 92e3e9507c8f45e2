"""Writing an export so that the DJ program never sees half a file and the previous one survives."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from crate_app.domain.errors import ExchangeError


@contextlib.contextmanager
def atomic_output(dest: Path, buffering: int = 1 << 20, *, fsync: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write ``dest`` through: a temporary file beside it, flushed to disk and renamed
    over ``dest`` only when the block ends without an exception.  On any error (a full disk, a cancel)
    the temporary file is removed and ``dest`` is left as it was.  Writers of thousands of small files
    pass ``fsync=False`` and call ``flush_to_disk()`` once at the end."""
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise ExchangeError(f"cannot write to {dest.parent}: {exc.strerror or exc}") from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb", buffering=buffering) as stream:
            yield stream
            stream.flush()
            if fsync:
                os.fsync(stream.fileno())
        if dest.exists():
            with contextlib.suppress(OSError):
                os.chmod(temp, dest.stat().st_mode & 0o777)
        else:
            with contextlib.suppress(OSError):
                os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, dest)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ExchangeError(f"cannot write {dest}: {exc.strerror or exc}") from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def flush_to_disk() -> None:
    """Write everything the system still holds in memory to disk (after many ``fsync=False`` files)."""
    if hasattr(os, "sync"):
        os.sync()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
