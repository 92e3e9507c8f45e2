"""Automatic backups of the open library: daily in the background, and once at quit when due.

The copy runs on a pool thread through ``hygiene.backup.create_backup`` (SQLite's online backup API in
steps; SQLite releases the GIL, so the window keeps painting while it copies).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from crate_app.hygiene import backup
from crate_app.services.jobs import FunctionJob, Job, JobRunner

CHECK_INTERVAL_MS = 60 * 60 * 1000  # is the daily backup due? asked every hour


class BackupService(QObject):
    """Makes the rotating backups of one library file."""

    backup_finished = Signal(object)  # backup.BackupInfo
    backup_failed = Signal(str)

    def __init__(
        self, library_path: Path, *, keep: int = backup.DEFAULT_KEEP, root: Path | None = None,
        parent: QObject | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.library_path = Path(library_path)
        self.keep = keep
        self.root = root
        self.runner = JobRunner(max_threads=1, parent=self)
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_INTERVAL_MS)
        self.timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        """Check now and every hour whether the daily backup is due."""
        self.timer.start()
        self.backup_if_due()

    def backup_if_due(self) -> Job | None:
        if self.runner.is_busy or not backup.backup_due(self.library_path, root=self.root):
            return None
        return self.backup_now()

    def backup_now(self) -> Job:
        """Start a backup on a pool thread; ``backup_finished`` or ``backup_failed`` follows."""
        job = FunctionJob(self._make_backup, "Backing up the library")
        job.signals.finished.connect(self._on_job_finished)
        job.signals.failed.connect(self._on_job_failed)
        return self.runner.start(job)

    def backup_at_quit(self) -> backup.BackupInfo | None:
        """At quit (the window is gone): wait for a running backup, then back up if due.  Never raises."""
        self.timer.stop()
        self.runner.wait()
        if not backup.backup_due(self.library_path, root=self.root):
            return None
        try:
            return backup.create_backup(self.library_path, keep=self.keep, root=self.root)
        except backup.BackupError:
            return None

    def _make_backup(self, _job: Job) -> backup.BackupInfo:
        return backup.create_backup(self.library_path, keep=self.keep, root=self.root)

    def _on_timer_timeout(self) -> None:
        self.backup_if_due()

    def _on_job_finished(self, info: object) -> None:
        self.backup_finished.emit(info)

    def _on_job_failed(self, message: str) -> None:
        self.backup_failed.emit(message)
