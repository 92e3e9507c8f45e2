"""Noticing commits made to the open library by other processes (a CLI scan, a second window).

SQLite's ``PRAGMA data_version`` on the GUI thread's connection changes whenever another connection
commits; polling it costs a few microseconds, so a 500 ms timer adds no measurable idle CPU (see
``tests/benchmarks/watch_idle_cpu.py``).  Commits this process made itself through ``Library.write``
already drive their own refreshes (scan, analysis, rename signals): a change seen while this process
was committing is reported once this process has gone quiet, so external changes are never lost.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from crate_app.store.library import Library

POLL_INTERVAL_MS = 500


class LibraryWatcher(QObject):
    """Emits ``library_changed_externally`` after another process committed to ``library``."""

    library_changed_externally = Signal()

    def __init__(self, library: Library, parent: QObject | None = None, interval_ms: int = POLL_INTERVAL_MS):
        super().__init__(parent)
        self.library = library
        self._version = library.data_version()
        self._commits = library.commits
        self._unreported = False  # a change seen while this process was committing too
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.setTimerType(Qt.TimerType.CoarseTimer)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        self._version = self.library.data_version()
        self._commits = self.library.commits
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def is_active(self) -> bool:
        return self._timer.isActive()

    def poll(self) -> bool:
        """Check now; True (and the signal emitted) when another process's commit is to be shown."""
        version, commits = self.library.data_version(), self.library.commits
        changed, own = version != self._version, commits != self._commits
        self._version, self._commits = version, commits
        if changed and own:
            self._unreported = True
            return False
        if changed or (self._unreported and not own):
            self._unreported = False
            self.library_changed_externally.emit()
            return True
        return False

    def _on_timer_timeout(self) -> None:
        self.poll()
