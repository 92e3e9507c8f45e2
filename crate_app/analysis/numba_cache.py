"""numba's on-disk cache of librosa's compiled kernels, safe to share between processes.  No Qt.

How concurrent first runs poisoned it (numba 0.68, reproduced with two processes calling ``warm_up()``
at once on an empty folder): a librosa ``guvectorize`` kernel is cached as *two* entries, the kernel
(``beat.__last_beat_selector-662.py311.2.nbc``) and its ufunc wrapper
(``guf-beat.__last_beat_selector-662.py311.2.nbc``), and the wrapper calls the kernel by a symbol name
holding a per-process counter (``…__last_beat_selectorB4v173…``).  Each entry is written atomically on
its own, but two processes compiling at the same time each write both, so the folder can end up with one
process's wrapper beside the other's kernel (``v173`` calling a ``v174`` that is not there): every
later process that loads them crashes (SIGSEGV).  numba's index/data pair has the same weakness (an
index read, a free number picked, the index then the data written, not together).  The two files
per kernel (``.1.nbc``, ``.2.nbc``) seen in poisoned folders are normal: one per signature
(float32 and float64).

So the cache is written by one process at a time, whole: ``warming()`` holds an exclusive lock on the
folder while a process compiles and saves, and only a process holding it saves anything.  A folder a
warm-up completed carries a marker (numba, librosa and Python versions); later warm-ups only load it,
together, under a shared lock (a writer waits for them, they wait for a writer).  A process that
would have to compile something after that (a signature the warm-up did not meet) compiles it in
memory without saving, and removes the marker so that the next warm-up completes the cache under the
exclusive lock.

A damaged entry (cut short by a power cut or a full disk) raises ``DamagedCache``: it is not compiled
again on its own, because a kernel compiled again would not match its ufunc wrapper loaded from the
cache.  Such a cache, or one that crashes its loader (a process dies by a signal while starting), is
moved aside whole and rebuilt by ``processes.ProcessAnalyzer``.
``configure(folder, enabled=False)`` runs without the cache (everything compiled in memory): the last
resort when even a rebuilt cache crashes its loader.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crate_app import paths

log = logging.getLogger(__name__)

LOCK_FILE = ".crate-cache.lock"
COMPLETE_FILE = ".crate-cache-complete"
CACHE_ENV = "CRATE_NUMBA_CACHE"  # "off": run without the cache (set for processes started after it)


class DamagedCache(Exception):
    """An entry of numba's cache cannot be read: the whole cache must be rebuilt."""


_state = threading.local()
_configured: dict[str, Any] = {}  # folder, enabled, skipped (saves refused outside a locked warm-up)


def cache_folder() -> str:
    """Where numba keeps librosa's compiled kernels: $NUMBA_CACHE_DIR if set, else Crate's cache folder."""
    return os.environ.get("NUMBA_CACHE_DIR") or str(paths.numba_cache_dir())


def cache_enabled() -> bool:
    """False when this process (and the analysis processes it starts) run without numba's cache."""
    return os.environ.get(CACHE_ENV, "").lower() != "off"


def is_cold(folder: str | os.PathLike[str]) -> bool:
    """True when no warm-up completed the cache in ``folder`` yet (the next one compiles, ~30 s)."""
    return not (Path(folder) / COMPLETE_FILE).is_file()


def configure(folder: str | os.PathLike[str], *, enabled: bool | None = None) -> bool:
    """Make numba cache its compiled code (librosa's) in ``folder``, written only under ``warming()``.

    Must run before librosa's numba functions are first imported; returns False when that already
    happened in this process (the setting then only applies to worker processes started later).
    ``enabled=False`` (default: ``cache_enabled()``): nothing is loaded from or saved to the cache.
    """
    path = os.fspath(folder)
    enabled = cache_enabled() if enabled is None else enabled
    os.makedirs(path, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = path
    if not enabled:
        os.environ[CACHE_ENV] = "off"
    from numba import config
    from numba.core import caching

    config.CACHE_DIR = path
    if not getattr(caching.IndexDataCacheFile, "crate_guarded", False):
        caching.IndexDataCacheFile = _guarded(caching.IndexDataCacheFile)
    _configured.update(folder=path, enabled=enabled, skipped=set())
    # numba picks the cache folder when a jitted function is defined, i.e. when librosa's submodules
    # are imported (``import librosa`` alone is lazy and defines none).
    return not any(name.startswith("librosa.") and name != "librosa.version" for name in sys.modules)


@contextlib.contextmanager
def warming() -> Iterator[None]:
    """Around a warm-up (librosa imported, its kernels run once): the only time this process may write
    the cache.  Configures the cache first if nobody did (``cache_folder()``)."""
    if not _configured:
        configure(cache_folder())
    folder = _configured["folder"]
    if not _configured["enabled"]:
        yield
        return
    exclusive = is_cold(folder)
    with _locked(folder, exclusive=exclusive):
        _state.writing = exclusive
        try:
            yield
        finally:
            _state.writing = False
        if exclusive:
            _write_marker(folder)
    if _configured["skipped"] and not exclusive:
        with contextlib.suppress(OSError):
            os.remove(Path(folder) / COMPLETE_FILE)  # the next warm-up completes (or mends) the cache


def skipped_saves() -> set[str]:
    """Kernels this process compiled but did not save (outside a warm-up holding the lock, or whose
    cache entry was damaged)."""
    return set(_configured.get("skipped", ()))


def move_aside(folder: str | os.PathLike[str]) -> Path | None:
    """Move a cache that crashes its loader out of the way (kept, for a bug report); None if there was
    none.  The next warm-up builds a new one."""
    source = Path(folder)
    if not source.exists():
        return None
    target = source.with_name(f"{source.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        n += 1
        target = source.with_name(f"{source.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    with _locked(str(source), exclusive=True):  # not while another process writes or loads it
        os.replace(source, target)
    return target


def _marker_text() -> str:
    import librosa
    import numba

    return f"numba {numba.__version__}, librosa {librosa.__version__}, Python {sys.version.split()[0]}\n"


def _write_marker(folder: str) -> None:
    marker = Path(folder) / COMPLETE_FILE
    temporary = marker.with_suffix(f".tmp{os.getpid()}")
    temporary.write_text(_marker_text(), encoding="utf-8")
    os.replace(temporary, marker)


@contextlib.contextmanager
def _locked(folder: str, *, exclusive: bool) -> Iterator[None]:
    """A lock on the folder shared with every Crate process (a shared one lets loaders run together)."""
    os.makedirs(folder, exist_ok=True)
    fd = os.open(os.path.join(folder, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _lock_fd(fd, exclusive)
        yield
    finally:
        os.close(fd)  # releases the lock


def _lock_fd(fd: int, exclusive: bool) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: one kind of lock (exclusive), retried until it is free
        import msvcrt

        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:
                continue
    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)


def _guarded(base: type) -> type:
    """numba's ``IndexDataCacheFile``, but saving only inside a warm-up holding the exclusive lock,
    raising ``DamagedCache`` for an entry that cannot be read, and with the cache turned off neither
    loading nor saving."""

    def save(self: Any, key: Any, data: Any) -> None:
        if not _configured.get("enabled", True):
            return
        if getattr(_state, "writing", False):
            base.save(self, key, data)
            return
        name = getattr(self, "_index_name", "?")
        if name not in _configured.setdefault("skipped", set()):
            _configured["skipped"].add(name)
            log.info("numba compiled %s outside the warm-up: kept in memory, not cached", name)

    def load(self: Any, key: Any) -> Any:
        if not _configured.get("enabled", True):
            return None
        try:
            return base.load(self, key)
        except Exception as error:  # cut short by a power cut or a full disk
            raise DamagedCache(
                f"numba's cache entry {getattr(self, '_index_name', '?')} is damaged ({error})"
            ) from error

    return type("GuardedIndexDataCacheFile", (base,), {"save": save, "load": load, "crate_guarded": True})
