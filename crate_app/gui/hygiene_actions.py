"""The window's hygiene commands, installed by one call so that ``main_window`` stays small: the
Duplicates view (the sidebar's Duplicates row, or View ▸ Duplicates), File ▸ Find Moved Files in
Folder…, File ▸ Back Up Library Now, and watched library folders (View ▸ Watch Library Folders)."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMainWindow, QMenu, QMessageBox

from crate_app.gui.duplicates import DuplicatesView
from crate_app.gui.hashing_status import HashingStatus
from crate_app.gui.relink_dialog import RelinkDialog
from crate_app.gui.settings import load_hygiene_preferences, save_hygiene_preferences
from crate_app.hygiene import backup
from crate_app.services.hash_service import HashService
from crate_app.services.hygiene_service import HygieneService
from crate_app.services.watch_service import WatchService


class HygieneController(QObject):
    """Owns the hygiene and watch services of a window and the menu actions that use them."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        # Duplicate removals are commands on the window's undo stack (Edit ▸ Undo, Ctrl+Z).
        self.service = HygieneService(window.library, self, window.crates.service.undo_stack)
        self.watch = WatchService(window.scan_service, window.library, self)
        self.preferences = load_hygiene_preferences(window.settings_store)
        self.service.library_changed.connect(self._on_service_library_changed)
        self.watch.limited.connect(window.show_message)
        window.scan_service.finished.connect(self._on_scan_finished)
        # The Duplicates view is a page beside the track table, shown while the sidebar's Duplicates
        # row is selected (made when first shown).
        self.view: DuplicatesView | None = None
        self.sidebar = window.crates.sidebar
        self.sidebar.duplicates_requested.connect(self._on_sidebar_duplicates_requested)
        self.sidebar.table_requested.connect(self._on_sidebar_table_requested)
        self.is_shut_down = False
        # Audio hashes in the background (after start-up and after each scan), waiting while a scan
        # reads the disk or a duplicate search hashes the same files; Pause in the status bar.
        self.hashing = HashService(window.library, self)
        self.hashing_status = HashingStatus(self.hashing, window)
        window.statusBar().addPermanentWidget(self.hashing_status)
        window.scan_service.running_changed.connect(self._on_scan_running_changed)
        self.service.running_changed.connect(self._on_service_running_changed)

    def install_menus(
        self, file_menu: QMenu, view_menu: QMenu, before_in_file: QAction | None = None
    ) -> None:
        """Add the commands to the window's File menu (before ``before_in_file``) and View menu."""
        self.relink_action = self._action(
            file_menu, "Find &Moved Files in Folder\u2026", "", self.find_moved_files, before_in_file
        )
        self.backup_action = self._action(
            file_menu, "&Back Up Library Now", "", self.back_up_now, before_in_file
        )
        if before_in_file is not None:
            file_menu.insertSeparator(before_in_file)
        view_menu.addSeparator()
        self.duplicates_action = self._action(view_menu, "&Duplicates", "Ctrl+Shift+D", self.show_duplicates)
        self.watch_action = self._action(view_menu, "&Watch Library Folders", "", self.set_watching)
        self.watch_action.setCheckable(True)
        self.watch_action.setChecked(self.preferences.watch_folders)

    def start(self) -> None:
        """Watch the library folders if the preference says so, and hash the audio not hashed yet
        (never after ``shutdown``)."""
        if self.is_shut_down:
            return
        if self.preferences.watch_folders:
            self.watch.start()
        self.hashing.start()  # (refuses after shutdown)

    def _action(
        self, menu: QMenu, text: str, shortcut: str, slot: object, before: QAction | None = None
    ) -> QAction:
        action = QAction(text, menu)
        if before is None:
            menu.addAction(action)
        else:
            menu.insertAction(before, action)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.window.addAction(action)
        return action

    # -- commands -----------------------------------------------------------------------------------
    def show_duplicates(self) -> DuplicatesView:
        """Select the sidebar's Duplicates row (showing the sidebar if it was hidden): the view
        takes the table's place until another row is selected."""
        self.window.crates.dock.setVisible(True)
        self.sidebar.select_duplicates()
        return self._show_view()

    def _show_view(self) -> DuplicatesView:
        if self.view is None:
            self.view = DuplicatesView(self.service, self.window.library, self.window.stack)
            self.window.stack.addWidget(self.view)
        self.view.library = self.window.library
        self.window.stack.setCurrentWidget(self.view)
        self.window.search.setEnabled(False)  # the search filters the table, which is not shown
        return self.view

    def find_moved_files(self, folder: str | None = None) -> RelinkDialog | None:
        if not isinstance(folder, str) or not folder:
            folder = QFileDialog.getExistingDirectory(self.window, "Find moved files in folder")
        if not folder:
            return None
        dialog = RelinkDialog(self.service, folder, self.window)
        dialog.open()
        return dialog

    def back_up_now(self) -> None:
        try:
            made = backup.create_backup(self.window.library.path, keep=self.preferences.backups_kept)
        except backup.BackupError as exc:
            self.window.show_message(str(exc))
            return
        self.window.show_message(f"Backed up to {made.path}")

    def choose_backup_to_restore(self) -> str | None:
        """List the backups; the chosen one is restored when Crate next starts (the library is open now)."""
        path = self.window.library.path
        backups = backup.list_backups(path)
        if not backups:
            QMessageBox.information(
                self.window, "Restore Library Backup", "There are no backups of this library yet."
            )
            return None
        labels = [
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(b.created))}  ({b.size / 1e6:,.1f} MB)"
            for b in backups
        ]
        label, chosen = QInputDialog.getItem(
            self.window, "Restore Library Backup",
            "Restore this backup the next time Crate starts (the current library file is kept beside it):",
            labels, 0, False,
        )  # fmt: skip
        if not chosen:
            return None
        picked = backups[labels.index(label)]
        try:
            backup.schedule_restore(path, picked.path)
        except backup.BackupError as exc:
            QMessageBox.warning(self.window, "Cannot restore this backup", str(exc))
            return None
        answer = QMessageBox.question(
            self.window, "Restore Library Backup", "The backup is restored when Crate starts again. Quit now?"
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.window.close()
        return str(picked.path)

    def set_watching(self, on: bool) -> None:
        self.preferences = type(self.preferences)(self.preferences.backups_kept, bool(on))
        save_hygiene_preferences(self.window.settings_store, self.preferences)
        if on:
            self.watch.start()
        else:
            self.watch.stop()

    def set_library(self, library) -> None:  # type: ignore[no-untyped-def]
        self.service.set_library(library)
        self.watch.set_library(library)
        self.hashing.set_library(library)
        self.hashing.start()
        if self.view is not None:
            self.view.library = library
            self.view.clear()

    def shutdown(self) -> None:
        self.is_shut_down = True
        self.watch.stop()
        self.hashing.shutdown()
        self.service.shutdown()

    # -- events -------------------------------------------------------------------------------------
    def _on_sidebar_duplicates_requested(self) -> None:
        self._show_view()

    def _on_sidebar_table_requested(self) -> None:
        self.window.search.setEnabled(True)
        self.window.show_table_page()

    def _on_service_library_changed(self) -> None:
        self.window.model.refresh(pin_row=self.window.table.top_row())
        self.window.crates.service.reload()  # memberships moved to the kept tracks (and back)

    def _on_scan_running_changed(self, running: bool) -> None:
        (self.hashing.hold if running else self.hashing.release)("scan")

    def _on_service_running_changed(self, running: bool) -> None:
        (self.hashing.hold if running else self.hashing.release)("duplicates")

    def _on_scan_finished(self, _summary: object) -> None:
        self.hashing.start()  # the new and changed files
        if self.watch.is_watching:
            self.watch.start()  # a folder added by the scan is watched from now on
