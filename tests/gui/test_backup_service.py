"""The backup service in the window's process, and the start-up offer to restore a damaged library."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.gui.integrity import offer_restore_if_damaged
from crate_app.hygiene import backup
from crate_app.services.backup_service import BackupService
from crate_app.store import writer
from crate_app.store.library import open_library


def _make_library(path: Path, rows: int) -> None:
    library = open_library(path)
    writer.upsert_scanned(
        library, [ScannedFile(f"/m/{i}.mp3", i, 1.0, TagInfo(title=f"t{i}")) for i in range(rows)]
    )
    library.close()


def test_service_backs_up_when_due_and_not_again(qtbot, tmp_path: Path) -> None:
    lib = tmp_path / "lib.sqlite"
    _make_library(lib, 200)
    service = BackupService(lib, keep=3, root=tmp_path / "b")
    with qtbot.waitSignal(service.backup_finished, timeout=10_000) as blocker:
        assert service.backup_if_due() is not None
    assert isinstance(blocker.args[0], backup.BackupInfo) and blocker.args[0].path.is_file()
    assert service.backup_if_due() is None  # a backup from today exists
    assert service.backup_at_quit() is None
    assert len(backup.list_backups(lib, tmp_path / "b")) == 1


def test_damaged_library_after_crash_offers_the_newest_good_backup(qtbot, tmp_path: Path) -> None:
    lib = tmp_path / "lib.sqlite"
    _make_library(lib, 3000)
    root = tmp_path / "b"
    backup.create_backup(lib, root=root)
    backup.SessionMarker(lib).begin()  # the last session never ended
    with open(lib, "r+b") as handle:
        handle.seek(lib.stat().st_size // 2)
        handle.write(os.urandom(8192))

    def click_restore() -> None:
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        assert "damaged" in box.text()
        next(b for b in box.buttons() if b.text() == "Restore the Backup").click()

    QTimer.singleShot(200, click_restore)
    assert offer_restore_if_damaged(lib, root=root)
    assert backup.quick_check(lib) is None
    assert list(tmp_path.glob("lib.sqlite.damaged-*"))  # kept aside
