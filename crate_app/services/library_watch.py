"""Noticing commits made to the open library by other processes (a CLI scan, a second window).

SQLite's ``PRAGMA data_version`` on the GUI thread's connection changes whenever another connection
commits; polling it costs a few microseconds, so a 500 ms timer adds no measurable idle CPU (see
``tests/benchmarks/watch_idle_cpu.py``).  This process's own commits (crate edits, analysis results,
scans: made on worker threads, whose connections count as "another connection" too) already drive their
own refreshes, so they must not be reported: when data_version changed, the library's commit sequence
(bumped by every Crate writer in each transaction, ``Library.commit_seq``) tells whether any of the
commits since the last poll was not this process's own (``Library.others_committed``).  A change that
bumped no sequence (a program other than Crate) is reported unless this process made one itself
(a checkpoint) meanwhile.
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
        self._remember_now()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.setTimerType(Qt.TimerType.CoarseTimer)
        self._timer.timeout.connect(self._on_timer_timeout)

    def _remember_now(self) -> None:
        self._version = self.library.data_version()
        self._seq = self.library.commit_seq()
        self._uncounted = self.library.uncounted_commits

    def start(self) -> None:
        self._remember_now()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def is_active(self) -> bool:
        return self._timer.isActive()

    def poll(self) -> bool:
        """Check now; True (and the signal emitted) when another process's commit is to be shown."""
        version = self.library.data_version()
        if version == self._version:
            return False
        seq, uncounted = self.library.commit_seq(), self.library.uncounted_commits
        seen_seq, seen_uncounted = self._seq, self._uncounted
        self._version, self._seq, self._uncounted = version, seq, uncounted
        if seq != seen_seq:
            external = self.library.others_committed(seen_seq, seq)
        else:  # changed without a commit number: not Crate's writer, unless this process did it
            external = uncounted == seen_uncounted
        if external:
            self.library_changed_externally.emit()
        return external

    def _on_timer_timeout(self) -> None:
        self.poll()
