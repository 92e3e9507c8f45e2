"""Watching library folders (watchdog: inotify, FSEvents, ReadDirectoryChangesW) and batching what
happens into scans.

``FolderWatcher`` collects the paths that changed (created, modified, deleted, moved: both ends) and
hands them out as one batch once the folders have been quiet for ``quiet`` seconds (or ``longest``
seconds after the first change, for a copy that never pauses): a record pool dropping 2,000 files is
one scan.  A scan of those paths does the rest: new files are added, deleted ones marked missing, and
a move (a vanished file and its identical reappearance) keeps its track.

When the OS refuses more watches (inotify's per-user limit with hundreds of thousands of folders),
``limited`` says so in words and the caller falls back to periodic cheap rescans.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from crate_app.library.scanner import AUDIO_EXTENSIONS
from crate_app.library.walk import has_extension, walk_audio
from crate_app.store.library import Library

QUIET_SECONDS = 1.0
LONGEST_SECONDS = 3.0  # a long copy is scanned as it goes (a half-written file is read again when it changes)
LIMIT_MESSAGE = (
    "the system's limit on watched folders was reached ({detail}); Crate rescans the library "
    "folders every few minutes instead (raise fs.inotify.max_user_watches to watch them all)"
)


class ChangeBatcher:
    """Paths that changed, handed out in batches after a quiet moment (thread-safe, no I/O)."""

    def __init__(
        self, quiet: float = QUIET_SECONDS, longest: float = LONGEST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.quiet = quiet
        self.longest = longest
        self.clock = clock
        self._lock = threading.Lock()
        self._paths: dict[str, None] = {}
        self._first = 0.0
        self._last = 0.0

    def add(self, *paths: str) -> None:
        now = self.clock()
        with self._lock:
            if not self._paths:
                self._first = now
            self._last = now
            for path in paths:
                if path:
                    self._paths[path] = None

    def take(self) -> list[str]:
        """The batch when it is due (quiet long enough, or pending too long), else []."""
        now = self.clock()
        with self._lock:
            if not self._paths or (now - self._last < self.quiet and now - self._first < self.longest):
                return []
            paths, self._paths = list(self._paths), {}
        return paths

    def pending(self) -> int:
        with self._lock:
            return len(self._paths)


class FolderWatcher:
    """Watches folders recursively; changes go into ``batcher``.  ``start`` returns the folders it
    could not watch; ``limited`` is a sentence when the OS watch limit was hit, else None."""

    def __init__(self, batcher: ChangeBatcher | None = None) -> None:
        self.batcher = batcher or ChangeBatcher()
        self.limited: str | None = None
        self._observer = None
        self._watched: dict[str, object] = {}
        # ``start`` runs on a worker thread (setting the watches walks every folder) while ``stop``
        # comes from the window, e.g. closing while the watch is still being set up.
        self._lock = threading.Lock()
        self._stopped = False

    def start(self, folders: Iterable[str]) -> list[str]:
        from watchdog.observers import Observer

        with self._lock:
            if self._stopped:
                return []
            if self._observer is None:
                observer = Observer()
                observer.daemon = True
                observer.start()
                self._observer = observer
            observer = self._observer
        handler = _Handler(self.batcher)
        failed = []
        for folder in folders:
            if self._stopped:
                break
            if folder in self._watched or not os.path.isdir(folder):
                continue
            try:
                watch = observer.schedule(handler, folder, recursive=True)
            except OSError as exc:
                failed.append(folder)
                if exc.errno in (errno.ENOSPC, errno.EMFILE) or "limit" in str(exc):
                    self.limited = LIMIT_MESSAGE.format(detail=exc.strerror or exc)
                continue
            with self._lock:
                if not self._stopped:
                    self._watched[folder] = watch
        if self._stopped:
            observer.unschedule_all()  # a watch scheduled while stop() ran must not stay behind
        return failed

    @property
    def watched(self) -> list[str]:
        with self._lock:
            return sorted(self._watched)

    def stop(self) -> None:
        """Stop watching for good (safe while ``start`` is still setting watches on another thread)."""
        with self._lock:
            self._stopped = True
            observer, self._observer = self._observer, None
            self._watched.clear()
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)


class _Handler:
    """watchdog's handler protocol, without subclassing (keeps watchdog's import lazy)."""

    def __init__(self, batcher: ChangeBatcher) -> None:
        self.batcher = batcher

    def dispatch(self, event) -> None:  # watchdog calls this for every event
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type == "modified":
            return  # a file inside changed: that file has its own event (never walk a whole root)
        paths = [os.fsdecode(event.src_path)]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(os.fsdecode(dest))
        self.batcher.add(*paths)


def paths_to_scan(library: Library, changed: Sequence[str]) -> list[str]:
    """Files a scan should look at for a batch of changed paths: audio files that exist (folders are
    walked: a folder copied in, or moved), and the library's tracks at or below paths that are gone
    (so they are marked missing, or recognised as moved).  Never a folder: a scan would make it a root."""
    wanted: dict[str, None] = {}
    for path in changed:
        if os.path.isdir(path):
            for listing in walk_audio(path, AUDIO_EXTENSIONS):
                wanted.update((p, None) for p, _size, _mtime in listing.files)
            wanted.update((p, None) for p in library.file_states_under(path))
        elif os.path.exists(path):
            if has_extension(path, AUDIO_EXTENSIONS):
                wanted[path] = None
        else:
            wanted.update((p, None) for p in library.file_states_of([path]))
            wanted.update((p, None) for p in library.file_states_under(path))
    return list(wanted)
