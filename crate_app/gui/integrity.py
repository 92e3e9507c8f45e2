"""At start-up, after an unclean exit: a damaged library is reported with the choice to restore the
newest good backup (the damaged file is kept aside, never deleted)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from crate_app.hygiene import backup


def restore_scheduled_backup(library_path: Path, parent: QWidget | None = None) -> bool:
    """Restore the backup chosen in File ▸ Restore Library Backup… (before the library is opened)."""
    try:
        return backup.restore_pending(library_path) is not None
    except backup.BackupError as exc:
        QMessageBox.critical(parent, "Cannot restore the backup", str(exc))
        return False


def offer_restore_if_damaged(
    library_path: Path, parent: QWidget | None = None, root: Path | None = None
) -> bool:
    """Check the library if the last session crashed; if it is damaged, ask whether to restore the newest
    good backup and do it.  True when a backup was restored."""
    problem = backup.damage_after_unclean_exit(library_path)
    if problem is None:
        return False
    good = backup.newest_good_backup(library_path, root)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("The library is damaged")
    text = f"Crate did not quit properly last time, and the library {library_path} is damaged:\n{problem}"
    if good is None:
        box.setText(text + "\n\nThere is no backup to restore. Crate opens it as it is.")
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.exec()
        return False
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(good.created))
    box.setText(
        text + f"\n\nRestore the newest good backup, made {made}? The damaged file is kept beside it "
        "(named .damaged-…), never deleted."
    )
    restore_button = box.addButton("Restore the Backup", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Open the Damaged Library", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(restore_button)
    box.exec()
    if box.clickedButton() is not restore_button:
        return False
    try:
        backup.restore(library_path, good.path)
    except backup.BackupError as exc:
        QMessageBox.critical(parent, "Cannot restore the backup", str(exc))
        return False
    return True
