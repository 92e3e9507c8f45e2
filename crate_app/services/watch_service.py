"""Watched library folders in the window: changes become scans of just those paths.

Checks the watcher's batch twice a second; a due batch is expanded into files (on a pool thread:
it may walk a folder that was copied in) and handed to the ScanService, which adds, updates, marks
missing and recognises moves as any scan does, with its progress in the status bar.  When the OS
watch limit is hit, ``limited`` carries a sentence for the user and the library is rescanned every
``FALLBACK_RESCAN_MS`` instead (a rescan of unchanged files is only a stat per file).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from crate_app.hygiene.watch import FolderWatcher, paths_to_scan
from crate_app.services.jobs import FunctionJob, JobRunner
from crate_app.services.scan_service import ScanService
from crate_app.store.library import Library

POLL_MS = 500
FALLBACK_RESCAN_MS = 10 * 60 * 1000


class WatchService(QObject):
    """Watches the library's root folders while enabled."""

    watching = Signal(object)  # the folders watched now (after start)
    limited = Signal(str)  # the OS watch limit was hit: what Crate does instead, in words
    changes_queued = Signal(int)  # files handed to a scan

    def __init__(self, scan_service: ScanService, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scan_service = scan_service
        self.library = library
        self.runner = JobRunner(max_threads=1, parent=self)
        self.watcher: FolderWatcher | None = None
        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self._on_poll_timeout)
        self.fallback = QTimer(self)
        self.fallback.setInterval(FALLBACK_RESCAN_MS)
        self.fallback.timeout.connect(self._on_fallback_timeout)

    @property
    def is_watching(self) -> bool:
        return self.watcher is not None

    def start(self) -> None:
        """Watch every library root (again after roots were added).  Setting the watches walks every
        folder (inotify watches each one), so it runs on a pool thread."""
        if self.watcher is None:
            self.watcher = FolderWatcher()
        watcher, roots = self.watcher, self.library.roots()
        job = FunctionJob(lambda _job: watcher.start(roots), "Watching the library folders")
        job.signals.finished.connect(self._on_watch_started)
        self.runner.start(job)
        self.poll.start()

    def _on_watch_started(self, _failed: object) -> None:
        if self.watcher is None:
            return
        if self.watcher.limited and not self.fallback.isActive():
            self.fallback.start()
            self.limited.emit(self.watcher.limited)
        self.watching.emit(self.watcher.watched)

    def stop(self) -> None:
        self.poll.stop()
        self.fallback.stop()
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        self.runner.shutdown()

    def set_library(self, library: Library) -> None:
        watching = self.is_watching
        self.stop()
        self.library = library
        if watching:
            self.start()

    def _on_poll_timeout(self) -> None:
        if self.watcher is None or self.runner.is_busy:
            return
        changed = self.watcher.batcher.take()
        if changed:
            job = FunctionJob(lambda _job: self._expand(changed), "Looking at changed files")
            job.signals.finished.connect(self._on_expand_finished)
            self.runner.start(job)

    def _expand(self, changed: list[str]) -> list[str]:
        try:
            return paths_to_scan(self.library, changed)
        finally:
            self.library.close()  # this pool thread's connection

    def _on_expand_finished(self, paths: object) -> None:
        if paths:
            self.scan_service.scan(list(paths))  # type: ignore[arg-type]
            self.changes_queued.emit(len(paths))  # type: ignore[arg-type]

    def _on_fallback_timeout(self) -> None:
        self.scan_service.rescan()
