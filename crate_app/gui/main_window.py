"""The library window: search box, track table, status bar with background work, menus, drag and drop."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPoint, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QDrag,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.errors import LibraryError
from crate_app.domain.keys import KeyNotation
from crate_app.domain.progress import Progress
from crate_app.domain.track import display_path
from crate_app.gui.analysis_panel import AnalysisController
from crate_app.gui.crates_controller import CratesController
from crate_app.gui.exchange_dialog import ExchangeController
from crate_app.gui.hygiene_actions import HygieneController
from crate_app.gui.player_area import PlayerArea
from crate_app.gui.problems import ProblemsDialog
from crate_app.gui.rename_dialog import RenameDialog, selection_from_view
from crate_app.gui.rename_history import RenameHistoryDialog, ask_about_unfinished, run_answer
from crate_app.gui.search_box import SearchBox
from crate_app.gui.settings import WindowSettings, load_settings, save_settings
from crate_app.gui.track_model import COLUMN_NAMES, COLUMNS, TrackRole, TrackTableModel, column_order_to_show
from crate_app.services.jobs import JobRunner
from crate_app.services.library_watch import LibraryWatcher
from crate_app.services.rename_service import RenameService
from crate_app.services.scan_service import ScanService
from crate_app.store.library import Library, open_library
from crate_app.store.view import SortOrder

# While a scan or a rename changes tracks, the table is refreshed at most every REFRESH_INTERVAL_MS, and
# less often in a big library: each refresh counts the library again and drops what the view knew of
# its sort order (it is warmed again in ~0.2 s), so 1M tracks refresh every 2 s.
REFRESH_INTERVAL_MS = 400
REFRESH_INTERVAL_MAX_MS = 2_000


def refresh_interval_ms(tracks: int) -> int:
    """How long to gather changes before refreshing a table of ``tracks`` rows."""
    return max(REFRESH_INTERVAL_MS, min(REFRESH_INTERVAL_MAX_MS, tracks // 500))


_NOTATION_LABELS = {
    KeyNotation.CAMELOT: "Camelot (8A)",
    KeyNotation.OPEN_KEY: "Open Key (1m)",
    KeyNotation.MUSICAL: "Musical (Am)",
}


class EmptyLibraryPanel(QWidget):
    """What an empty library shows instead of an empty table."""

    add_folder_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Your library is empty")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setStyleSheet("font-size: 22px; font-weight: 600;")
        text = QLabel(
            "Drop folders or audio files anywhere on this window to add them,\n"
            "or choose File \u25b8 Add Folder\u2026 (Ctrl+Shift+A)."
        )
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setStyleSheet("font-size: 14px; color: palette(placeholder-text);")
        button = QPushButton("Add Folder\u2026")
        button.clicked.connect(self.add_folder_requested)
        box = QWidget(self)
        box.setObjectName("drop_zone")
        box.setStyleSheet("#drop_zone { border: 2px dashed palette(mid); border-radius: 12px; }")
        inner = QVBoxLayout(box)
        inner.setContentsMargins(60, 40, 60, 40)
        inner.setSpacing(14)
        inner.addWidget(title)
        inner.addWidget(text)
        inner.addWidget(button, 0, Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(box, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(2)


class TrackTable(QTableView):
    """The table: one line per track, sortable by header click, columns movable and hideable."""

    def __init__(self, model: TrackTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        # Every paint of a header asks its selection model, column by column, whether the whole column
        # is selected: Qt walks the selected rows calling index() and flags() per cell (1.3M Python
        # calls for 100,000 selected rows, seconds per paint), even with highlighting off.  The headers
        # show no selection, so they get a selection model of their own that stays empty.
        for section_header in (header, vertical):
            section_header.setSelectionModel(QItemSelectionModel(model, section_header))
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSortIndicatorShown(True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._on_header_context_menu_requested)
        for number, column in enumerate(COLUMNS):
            self.setColumnWidth(number, column.width)

    def track_model(self) -> TrackTableModel:
        model = self.model()
        assert isinstance(model, TrackTableModel)
        return model

    def top_row(self) -> int:
        return self.verticalScrollBar().value()  # per-item scrolling: the value is the top row

    def startDrag(self, supportedActions: Qt.DropAction) -> None:  # Qt override
        # Qt's own would list every selected cell (1.2M indexes for 100,000 rows): rows go by ranges.
        rows = [r for sel in self.selectionModel().selection() for r in range(sel.top(), sel.bottom() + 1)]
        if rows:
            drag = QDrag(self)
            drag.setMimeData(self.track_model().mime_for_rows(rows))
            drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)

    def column_menu(self) -> QMenu:
        """Check boxes to show and hide columns (at least one stays visible)."""
        menu = QMenu("Columns", self)
        header = self.horizontalHeader()
        visible = sum(not header.isSectionHidden(i) for i in range(len(COLUMNS)))
        for number, column in enumerate(COLUMNS):
            action = menu.addAction(column.title)
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(number))
            action.setEnabled(header.isSectionHidden(number) or visible > 1)
            action.toggled.connect(lambda checked, n=number: self.setColumnHidden(n, not checked))
        return menu

    def _on_header_context_menu_requested(self, position: QPoint) -> None:
        self.column_menu().exec(self.horizontalHeader().mapToGlobal(position))

    # -- settings -------------------------------------------------------------------------------------
    def apply_settings(self, settings: WindowSettings) -> None:
        header = self.horizontalHeader()
        for visual, name in enumerate(column_order_to_show(settings.column_order)):
            header.moveSection(header.visualIndex(COLUMN_NAMES.index(name)), visual)
        for number, name in enumerate(COLUMN_NAMES):
            header.setSectionHidden(number, name in settings.hidden_columns)
            if name in settings.column_widths and settings.column_widths[name] > 10:
                header.resizeSection(number, settings.column_widths[name])
        if all(header.isSectionHidden(i) for i in range(len(COLUMNS))):
            header.setSectionHidden(0, False)
        column = settings.sort_column if settings.sort_column in COLUMN_NAMES else "artist"
        order = Qt.SortOrder.DescendingOrder if settings.sort_descending else Qt.SortOrder.AscendingOrder
        header.setSortIndicator(COLUMN_NAMES.index(column), order)

    def column_settings(self) -> dict[str, object]:
        header = self.horizontalHeader()
        order = tuple(COLUMN_NAMES[header.logicalIndex(visual)] for visual in range(len(COLUMNS)))
        return {
            "column_order": order,
            "hidden_columns": tuple(n for i, n in enumerate(COLUMN_NAMES) if header.isSectionHidden(i)),
            "column_widths": {
                n: header.sectionSize(i) for i, n in enumerate(COLUMN_NAMES) if header.sectionSize(i)
            },
            "sort_column": COLUMN_NAMES[header.sortIndicatorSection()]
            if 0 <= header.sortIndicatorSection() < len(COLUMNS)
            else "artist",
            "sort_descending": header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder,
        }


class MainWindow(QMainWindow):
    """The library window.  ``settings_store`` is where the preferences are kept (an ini QSettings)."""

    def __init__(self, library: Library, settings_store: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.settings_store = settings_store
        self.settings = load_settings(settings_store)
        self.setAcceptDrops(True)
        self.resize(1280, 760)

        self.runner = JobRunner(max_threads=2, parent=self)
        self.scan_service = ScanService(self.runner, library, self)
        self.rename_service = RenameService(library, self)
        self.rename_question = None  # the start-up question about an unfinished rename batch
        self.is_shut_down = False  # set by shutdown(): timers still pending must not start new work
        self.rename_progress_dialog = None
        sort_column = self.settings.sort_column if self.settings.sort_column in COLUMN_NAMES else "artist"
        self.model = TrackTableModel(library, SortOrder(sort_column, self.settings.sort_descending), self)
        self.model.set_key_notation(self.settings.key_notation)

        self.search = SearchBox(self)
        self.table = TrackTable(self.model, self)
        self.table.apply_settings(self.settings)
        self.table.setSortingEnabled(True)
        self.empty_panel = EmptyLibraryPanel(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty_panel)
        self.stack.addWidget(self.table)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 0)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        # The sidebar is a dock left of the table (its width and visibility are in the window state).
        self.crates = CratesController(
            self, library, self.model, self.table, self.scan_service, settings_store
        )
        self._build_status_bar()
        self._build_menus()
        self.hygiene = HygieneController(self)  # duplicates, moved files, backups, watched folders
        self.hygiene.install_menus(self.file_menu, self.view_menu, before_in_file=self.quit_action)
        self.exchange = ExchangeController(self)  # File ▸ Export / Import (rekordbox, Traktor, ...)
        self.exchange.install_menus(self.file_menu, before=self.hygiene.relink_action)
        self.crates.sidebar.export_requested.connect(self.exchange.export_node)
        self.analysis = AnalysisController(self, library, self.model, self.table, settings_store)
        layout.addWidget(self.analysis.panel)
        self.player_area = PlayerArea(self)  # the player strip above the table, the track panel beside it
        # Smart crates follow what analysis, tag edits and renames change (after a scan: the service).
        for values_changed in (
            self.analysis.service.tracks_saved,
            self.player_area.tag_edits.tracks_changed,
            self.rename_service.paths_changed,
        ):
            values_changed.connect(self.crates.service.tracks_changed)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_INTERVAL_MS)
        self._refresh_timer.timeout.connect(self._on_refresh_timer_timeout)
        self.library_watcher = LibraryWatcher(library, self)  # commits by other processes
        self.library_watcher.library_changed_externally.connect(self._on_library_watcher_changed_externally)
        self.library_watcher.library_changed_externally.connect(self.crates.service.reload)
        self.library_watcher.start()
        self._external_refresh_at = 0.0

        self.search.query_changed.connect(self._on_search_query_changed)
        self.model.view_applied.connect(self._on_model_view_applied)
        self.model.loading_changed.connect(self._on_model_loading_changed)
        self.model.pinned_row_moved.connect(self._on_model_pinned_row_moved)
        self.model.failed.connect(self._on_model_failed)
        self.crates.message.connect(self.show_message)
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        self.empty_panel.add_folder_requested.connect(self.add_folder)
        self.scan_service.started.connect(self._on_scan_started)
        self.scan_service.progress.connect(self._on_scan_progress)
        self.scan_service.tracks_committed.connect(self._on_scan_tracks_committed)
        self.scan_service.finished.connect(self._on_scan_finished)
        self.scan_service.failed.connect(self._on_scan_failed)
        self.scan_service.running_changed.connect(self._on_scan_running_changed)
        self.rename_service.batch_progress.connect(self._on_rename_service_batch_progress)
        self.rename_service.paths_changed.connect(self._on_rename_service_paths_changed)
        # A scan while files move would see them vanish and reappear: one or the other at a time.
        self.scan_service.running_changed.connect(self._on_background_work_running_changed)
        self.rename_service.running_changed.connect(self._on_background_work_running_changed)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._on_table_context_menu_requested)

        if self.settings.geometry:
            self.restoreGeometry(self.settings.geometry)
        if self.settings.window_state:
            self.restoreState(self.settings.window_state)
        self._update_title()
        self.stack.setCurrentWidget(self.table)
        QTimer.singleShot(0, self.ask_about_unfinished_renames)  # after the first paint
        # Watch the library folders once the window is up; a timer of the window's own, so that
        # shutdown() can stop it (a watch started after shutdown would outlive the window's threads).
        self._watch_start_timer = QTimer(self)
        self._watch_start_timer.setSingleShot(True)
        self._watch_start_timer.setInterval(2000)
        self._watch_start_timer.timeout.connect(self.hygiene.start)
        self._watch_start_timer.start()

    # -- building ---------------------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self._count_text = "Loading\u2026"
        self.count_label = QLabel(self._count_text)
        self.work_label = QLabel("")
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        bar.addWidget(self.count_label)
        bar.addPermanentWidget(self.work_label)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)
        self._message_timer = QTimer(self)  # clears a finished job's summary after a while
        self._message_timer.setSingleShot(True)
        self._message_timer.setInterval(15_000)
        self._message_timer.timeout.connect(self._on_message_timer_timeout)
        self._show_scan_widgets(False)

    def _build_menus(self) -> None:
        file_menu = self.file_menu = self.menuBar().addMenu("&File")
        self.add_folder_action = self._action(file_menu, "&Add Folder\u2026", "Ctrl+Shift+A", self.add_folder)
        self._action(file_menu, "Add &Files\u2026", "Ctrl+Shift+F", self.add_files)
        self.rescan_action = self._action(file_menu, "&Rescan Library", "F5", self.rescan)
        file_menu.addSeparator()
        self._action(file_menu, "&Open Library\u2026", QKeySequence.StandardKey.Open, self.choose_library)
        self._action(file_menu, "&New Library\u2026", "", self.new_library)  # Ctrl+N: a new crate
        file_menu.addSeparator()
        quit_action = self.quit_action = self._action(
            file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close
        )
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        edit_menu = self.menuBar().addMenu("&Edit")
        self._action(edit_menu, "&Find", QKeySequence.StandardKey.Find, self.search.focus)
        edit_menu.addSeparator()
        self.rename_action = self._action(
            edit_menu, "&Rename / Move Files\u2026", "Ctrl+Shift+R", self.show_rename_dialog
        )
        self._action(edit_menu, "Rename &History\u2026", "Ctrl+Shift+H", self.show_rename_history)

        view_menu = self.view_menu = self.menuBar().addMenu("&View")
        self.columns_menu = view_menu.addMenu("&Columns")
        self.columns_menu.aboutToShow.connect(self._on_columns_menu_about_to_show)
        key_menu = view_menu.addMenu("&Key Notation")
        self.key_actions = QActionGroup(self)
        for notation, label in _NOTATION_LABELS.items():
            action = key_menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(notation is self.settings.key_notation)
            action.setData(notation.value)
            self.key_actions.addAction(action)
        self.key_actions.triggered.connect(self._on_key_actions_triggered)
        view_menu.addSeparator()
        self._action(view_menu, "&Problems\u2026", "Ctrl+Shift+P", self.show_problems)
        self.crates.fill_menus(edit_menu, view_menu, self.menuBar().addMenu("&Crates"))

    def _action(self, menu: QMenu, text: str, shortcut: object, slot: object) -> QAction:
        action = menu.addAction(text)
        action.setShortcut(QKeySequence(shortcut))  # type: ignore[arg-type]
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # -- commands -----------------------------------------------------------------------------------------
    def add_paths(self, paths: list[str]) -> None:
        """Add folders or files to the library (scanned in the background)."""
        paths = [os.path.abspath(p) for p in paths if p]
        if paths:
            self.scan_service.scan(paths)

    def add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to the library")
        if folder:
            self.add_paths([folder])

    def add_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add audio files to the library")
        self.add_paths(files)

    def rescan(self) -> None:
        self.scan_service.rescan()

    def choose_library(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open a library",
            str(self.library.path.parent),
            "Crate libraries (*.sqlite *.crate);;All files (*)",
        )
        if path:
            self.open_library_file(path, create=False)

    def new_library(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "New library",
            str(self.library.path.parent / "library.crate.sqlite"),
            "Crate libraries (*.sqlite)",
        )
        if path:
            self.open_library_file(path, create=True)

    def open_library_file(self, path: str, *, create: bool) -> bool:
        """Switch to another library; on a LibraryError say why and keep the current one."""
        if Path(path).resolve() == self.library.path.resolve():
            return True
        try:
            library = open_library(path, create=create)
        except LibraryError as exc:
            QMessageBox.warning(self, "Cannot open the library", str(exc))
            return False
        self.scan_service.cancel()
        self.runner.wait()
        self.rename_service.shutdown()  # a running batch pauses at a safe point (resumable)
        old = self.library
        self.library = library
        self.scan_service.set_library(library)
        self.rename_service.set_library(library)
        self.analysis.set_library(library)
        self.crates.set_library(library)
        self.player_area.set_library(library)
        self.hygiene.set_library(library)
        self.exchange.set_library(library)
        self.search.set_text("")
        self.search.flush()
        self.model.set_library(library)
        old.close()
        self._update_title()
        QTimer.singleShot(0, self.ask_about_unfinished_renames)
        return True

    def show_problems(self) -> None:
        ProblemsDialog(self.library, self).exec()

    def show_rename_dialog(self) -> RenameDialog:
        """Rename / Move Files for the selected tracks (all shown tracks if none is selected)."""
        dialog = RenameDialog(
            self.rename_service,
            selection_from_view(self.table, self.model),
            roots=self.library.roots(),
            key_notation=self.model.key_notation,
            settings_store=self.settings_store,
            parent=self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_rename_history(self) -> RenameHistoryDialog:
        dialog = RenameHistoryDialog(self.rename_service, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def ask_about_unfinished_renames(self) -> None:
        """Offer to resume or undo a rename batch a crash or kill left unfinished (non-blocking)."""
        if self.is_shut_down:
            return
        if self.rename_question is None:
            self.rename_question = ask_about_unfinished(self.rename_service, self)
            if self.rename_question is not None:
                self.rename_question.answered.connect(self._on_rename_question_answered)

    def reveal_track(self, path: str) -> None:
        """Show a file in the system file manager (its folder, where selecting is not possible)."""
        folder = os.path.dirname(path)
        try:
            if sys.platform == "darwin":
                subprocess.Popen(["open", "-R", path])
                return
            if sys.platform == "win32":
                subprocess.Popen(["explorer", "/select,", os.path.normpath(path)])
                return
        except OSError:
            pass
        QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    # -- drag and drop ------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # Qt override
        if _local_paths(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # Qt override
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # Qt override
        paths = _local_paths(event.mimeData().urls())
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # -- slots ------------------------------------------------------------------------------------------
    def _on_search_query_changed(self, query: object) -> None:
        self.model.set_query(query)  # type: ignore[arg-type]

    def _on_model_loading_changed(self, loading: bool) -> None:
        self.count_label.setText(self._count_text + ("  \u00b7  updating\u2026" if loading else ""))

    def _on_model_view_applied(self) -> None:
        shown, total = self.model.rowCount(), self.model.scope_count or 0
        if self.model.query is None:
            self._count_text = f"{total:,} tracks"
        else:
            self._count_text = f"{shown:,} of {total:,} tracks"
        self.count_label.setText(self._count_text)
        if self.stack.currentWidget() in (self.empty_panel, self.table):  # not over another page
            self.show_table_page()

    def show_table_page(self) -> None:
        """Show the track table, or the empty library's panel in its place."""
        empty = (self.model.library_count or 0) == 0 and self.model.query is None
        self.stack.setCurrentWidget(self.empty_panel if empty else self.table)

    def _on_model_pinned_row_moved(self, row: int) -> None:
        self.table.verticalScrollBar().setValue(row)

    def _on_model_failed(self, message: str) -> None:
        self.show_message(f"Search failed: {message}")

    def _on_table_double_clicked(self, index) -> None:
        record = self.model.data(index, TrackRole)
        if record is not None:
            self.reveal_track(record.path)

    def _on_columns_menu_about_to_show(self) -> None:
        self.columns_menu.clear()
        for action in self.table.column_menu().actions():
            self.columns_menu.addAction(action)

    def _on_key_actions_triggered(self, action: QAction) -> None:
        self.model.set_key_notation(KeyNotation(action.data()))

    def _on_scan_started(self, name: str) -> None:
        self.work_label.setText(f"{name}\u2026")
        self.progress_bar.setRange(0, 0)

    def _on_scan_running_changed(self, running: bool) -> None:
        self._show_scan_widgets(running)
        self.rescan_action.setEnabled(not running)

    def _on_scan_progress(self, progress: Progress) -> None:
        if progress.total:
            self.progress_bar.setRange(0, progress.total)
            self.progress_bar.setValue(min(progress.done, progress.total))
        else:
            self.progress_bar.setRange(0, 0)
        self.work_label.setText(self.scan_service.progress_text(progress))
        self.work_label.setToolTip(display_path(progress.current))

    def _on_rename_question_answered(self, choice: str, batch_id: int) -> None:
        self.rename_question = None
        self.rename_progress_dialog = run_answer(self.rename_service, choice, batch_id, self)

    def _on_rename_service_batch_progress(self, _progress: Progress) -> None:
        self._refresh_soon()  # the table follows the files while the batch runs

    def _on_background_work_running_changed(self, _running: bool) -> None:
        scanning, renaming = self.scan_service.is_running, self.rename_service.is_running
        self.rename_action.setEnabled(not scanning)
        self.rescan_action.setEnabled(not scanning and not renaming)

    def _on_rename_service_paths_changed(self, _track_ids: object) -> None:
        self._refresh_timer.stop()
        self.model.refresh(pin_row=self.table.top_row())

    def _on_table_context_menu_requested(self, position: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction(self.rename_action)
        menu.addAction(self.analysis.analyze_selected_action)
        self.crates.table_menu_actions(menu)
        menu.exec(self.table.viewport().mapToGlobal(position))

    def _on_scan_tracks_committed(self, _added: int, _updated: int) -> None:
        self._refresh_soon()

    def _refresh_soon(self) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.setInterval(refresh_interval_ms(self.model.library_count or 0))
            self._refresh_timer.start()

    def _on_refresh_timer_timeout(self) -> None:
        self.model.refresh(pin_row=self.table.top_row())

    def _on_library_watcher_changed_externally(self) -> None:
        # The first change another process makes shows at once; a stream of them (a CLI scan) at the
        # pace of a scan's refreshes, which a 1M-track library keeps to one every 2 s.
        if self._refresh_timer.isActive():
            return
        now = time.monotonic()
        if now - self._external_refresh_at >= refresh_interval_ms(self.model.library_count or 0) / 1000:
            self._external_refresh_at = now
            self.model.refresh(pin_row=self.table.top_row())
        else:
            self._refresh_soon()

    def _on_scan_finished(self, summary: object) -> None:
        self._refresh_timer.stop()
        self.model.refresh(pin_row=self.table.top_row())
        parts = [f"{getattr(summary, name):,} {name}" for name in ("added", "updated", "missing", "errors")]
        verb = "Scan cancelled" if getattr(summary, "cancelled", False) else "Scan finished"
        self.show_message(f"{verb}: " + ", ".join(parts))

    def _on_scan_failed(self, message: str) -> None:
        QMessageBox.warning(self, "The scan stopped", message)

    def _on_cancel_button_clicked(self) -> None:
        self.scan_service.cancel()
        self.work_label.setText("Cancelling\u2026")

    def _show_scan_widgets(self, visible: bool) -> None:
        if visible:
            self._message_timer.stop()
        for widget in (self.progress_bar, self.cancel_button):
            widget.setVisible(visible)
        self.work_label.setVisible(visible or self._message_timer.isActive())

    def show_message(self, text: str) -> None:
        """A line about finished background work, next to the track count (cleared after a while)."""
        self.work_label.setText(text)
        self.work_label.setToolTip("")
        self.work_label.show()
        self._message_timer.start()

    def _on_message_timer_timeout(self) -> None:
        if not self.scan_service.is_running:
            self.work_label.clear()
            self.work_label.hide()

    def _update_title(self) -> None:
        self.setWindowTitle(f"Crate \u2014 {display_path(str(self.library.path))}")

    # -- closing ----------------------------------------------------------------------------------------
    def current_settings(self) -> WindowSettings:
        columns = self.table.column_settings()
        return WindowSettings(
            library_path=str(self.library.path),
            key_notation=self.model.key_notation,
            geometry=bytes(self.saveGeometry().data()),
            window_state=bytes(self.saveState().data()),
            **columns,  # type: ignore[arg-type]
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # Qt override
        save_settings(self.settings_store, self.current_settings())
        self.crates.save_settings()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop background work and wait for it (before the library is closed)."""
        self.is_shut_down = True
        self._refresh_timer.stop()
        self._watch_start_timer.stop()
        self.player_area.shutdown()
        self.library_watcher.stop()
        self.scan_service.cancel()
        self.rename_service.shutdown()  # a running batch pauses at a safe point, resumable next time
        self.hygiene.shutdown()
        self.exchange.service.cancel()  # an export leaves the previous file, an import writes nothing
        self.analysis_stopped = self.analysis.shutdown()  # False: a thread is stuck in a hostile file
        self.runner.shutdown()
        self.crates.shutdown()
        self.model.shutdown()
        # Every runner of the window and its services was cancelled and waited for above; closing
        # them makes any later start (a timer or a queued signal) a no-op, so no job outlives its pool.
        for runner in self.findChildren(JobRunner):
            runner.close(0)


def _local_paths(urls: list[QUrl]) -> list[str]:
    return [url.toLocalFile() for url in urls if url.isLocalFile() and url.toLocalFile()]
