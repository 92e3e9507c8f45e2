"""The window's crate side: the sidebar, its service, undo/redo, and what crates add to the track table
(the ``#`` column, "Add to crate", "Show in crates", removing and reordering a crate's rows).

The window makes one ``CratesController``, which docks the sidebar left of the table; everything else
about crates happens here, so that the window's own module stays about the window.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QTableView, QWidget

from crate_app.domain.crates import CrateNode
from crate_app.domain.search import ParsedQuery
from crate_app.gui.settings import SidebarSettings, load_sidebar_settings, save_sidebar_settings
from crate_app.gui.sidebar import COLLECTION, PROBLEMS, Sidebar, SidebarTarget
from crate_app.gui.track_model import COLUMN_NAMES, POSITION_COLUMN, TrackIdRole, TrackTableModel, merge_runs
from crate_app.services.crate_service import CrateService
from crate_app.store.library import Library
from crate_app.store.view import SortOrder

MAX_MENU_CRATES = 400  # "Add to crate" lists this many crates at most (the rest: drag onto the sidebar)


class CratesController(QObject):
    """Wires the sidebar and the crate service to the window's table model and view.

    ``message(str)`` carries lines for the status bar; ``scope_changed()`` after the table was pointed
    at another crate (the window updates its count line).
    """

    message = Signal(str)
    scope_changed = Signal()

    def __init__(
        self,
        window: QMainWindow,
        library: Library,
        model: TrackTableModel,
        table: QTableView,
        scan_service: object,
        settings_store: QSettings,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.model = model
        self.table = table
        self.settings_store = settings_store
        self.service = CrateService(library, scan_service, self)
        self.sidebar = Sidebar(self.service, window)
        self.sidebar.setObjectName("sidebar")
        self._library_order = model.order  # the collection's sort, given back when leaving a crate
        self._settings = load_sidebar_settings(settings_store)
        self.sidebar.restore_expanded_paths(self._settings.expanded)

        stack = self.service.undo_stack
        self.undo_action = stack.createUndoAction(window, "&Undo")
        self.undo_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Undo))
        self.redo_action = stack.createRedoAction(window, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.remove_action = QAction("&Remove from Crate", window)
        self.remove_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.remove_action.triggered.connect(self.remove_selected_from_crate)
        table.addAction(self.remove_action)
        self.dock = QDockWidget("Crates", window)
        self.dock.setObjectName("sidebar_dock")  # its place and width are kept in the window state
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.dock.setTitleBarWidget(QWidget(self.dock))  # no title bar: a sidebar, not a panel
        self.dock.setWidget(self.sidebar)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        window.installEventFilter(self)  # the sidebar's width is set when the window is first shown
        self.toggle_sidebar_action = self.dock.toggleViewAction()
        self.toggle_sidebar_action.setText("&Sidebar")
        self.toggle_sidebar_action.setShortcut(QKeySequence("Ctrl+Alt+B"))
        self.dock.setVisible(self._settings.visible)
        for action in (self.undo_action, self.redo_action, self.toggle_sidebar_action):
            window.addAction(action)
        for action in self.sidebar.window_actions():
            window.addAction(action)

        table.setDragEnabled(True)
        table.setAcceptDrops(True)
        table.setDropIndicatorShown(True)
        table.setDragDropMode(QTableView.DragDropMode.DragDrop)
        table.setDefaultDropAction(Qt.DropAction.CopyAction)

        self.sidebar.target_selected.connect(self._on_sidebar_target_selected)
        self.sidebar.message.connect(self.message)
        self.sidebar.smart_editor_requested.connect(self._on_sidebar_smart_editor_requested)
        self.service.entries_changed.connect(self._on_service_entries_changed)
        self.service.nodes_loaded.connect(self._on_service_nodes_loaded)
        self.model.reorder_requested.connect(self._on_model_reorder_requested)
        self.model.view_applied.connect(self._on_model_view_applied)
        self._update_position_column()
        self.service.reload()

    # -- the window -----------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt override
        if watched is self.window and event.type() == QEvent.Type.Show:
            self.window.removeEventFilter(self)
            QTimer.singleShot(0, self._on_window_first_shown)
        return False

    def _on_window_first_shown(self) -> None:
        self.window.resizeDocks([self.dock], [self._settings.width], Qt.Orientation.Horizontal)

    def fill_menus(self, edit_menu: QMenu, view_menu: QMenu, crates_menu: QMenu) -> None:
        edit_menu.insertAction(edit_menu.actions()[0] if edit_menu.actions() else None, self.undo_action)
        edit_menu.insertAction(
            edit_menu.actions()[1] if len(edit_menu.actions()) > 1 else None, self.redo_action
        )
        view_menu.addAction(self.toggle_sidebar_action)
        for action in self.sidebar.window_actions():
            crates_menu.addAction(action)
        crates_menu.addSeparator()
        for action in (
            self.sidebar.rename_action,
            self.sidebar.duplicate_action,
            self.sidebar.delete_action,
            self.sidebar.edit_smart_action,
        ):
            crates_menu.addAction(action)

    def table_menu_actions(self, menu: QMenu) -> None:
        """Add "Add to crate ▸", "Remove from crate" and "Show in crates ▸" to the table's menu."""
        menu.addSeparator()
        menu.addMenu(self.add_to_crate_menu(menu))
        if self.model.crate_kind == "crate":
            menu.addAction(self.remove_action)
        menu.addMenu(self.show_in_crates_menu(menu))

    def add_to_crate_menu(self, parent: QMenu) -> QMenu:
        """The crates as a menu tree (folders as submenus); picking one adds the selected tracks."""
        menu = QMenu("Add to Crate", parent)
        new_action = menu.addAction("New Crate with These Tracks\u2026")
        new_action.triggered.connect(self.new_crate_from_selection)
        menu.addSeparator()
        submenus: dict[int | None, QMenu] = {None: menu}
        shown = 0
        for node in self.service.nodes:  # parents come before their children
            holder = submenus.get(node.parent_id)
            if holder is None or shown >= MAX_MENU_CRATES:
                continue
            if node.kind == "folder":
                submenus[node.id] = holder.addMenu(node.name)
                continue
            action = holder.addAction(node.name)
            shown += 1
            if node.kind == "smart":
                action.setEnabled(False)
                action.setToolTip("A smart crate's tracks come from its rule")
            else:
                action.triggered.connect(self._add_selected_to(node))
        if shown == 0:
            menu.addAction("(no crates yet)").setEnabled(False)
        return menu

    def show_in_crates_menu(self, parent: QMenu) -> QMenu:
        """The crates the current track is in; picking one shows it in the sidebar."""
        menu = QMenu("Show in Crates", parent)
        track_id = self.table.currentIndex().data(TrackIdRole)
        found = self.service.crates_of_track(track_id) if track_id is not None else []
        for node in found:
            action = menu.addAction(node.path)
            action.triggered.connect(lambda _checked=False, n=node.id: self.sidebar.select_node(n))
        if not found:
            menu.addAction("(in no crate)").setEnabled(False)
        return menu

    def _add_selected_to(self, crate: CrateNode) -> Callable[[], None]:
        return lambda: self.add_selected_to(crate)

    # -- commands -------------------------------------------------------------------------------------
    def selected_runs(self) -> list[tuple[int, int]]:
        """The selected rows as runs (first, last), sorted and merged: a selection of 100,000 rows is
        a few ranges, never 100,000 indexes (nor 1.3M cells)."""
        return merge_runs((r.top(), r.bottom()) for r in self.table.selectionModel().selection())

    def selected_track_ids(self) -> list[int]:
        """The selected rows' track ids in row order (read by runs of rows: fast for 100,000)."""
        return self.model.ids_reader(self.selected_runs())()

    def _selected_reader(self) -> tuple[Callable[[], list[int]], int]:
        """A reader of the selected rows' ids (to run on the writer thread) and how many rows."""
        runs = self.selected_runs()
        return self.model.ids_reader(runs), sum(last - first + 1 for first, last in runs)

    def add_selected_to(self, crate: CrateNode) -> None:
        read_ids, count = self._selected_reader()
        if count:
            self.message.emit(f"Adding {count:,} tracks to \u201c{crate.name}\u201d\u2026")
            self.service.add_tracks(crate, read_ids, count=count)

    def new_crate_from_selection(self) -> None:
        ids = self.selected_track_ids()
        parent_id = None
        name = self.sidebar.unique_name(parent_id, "New crate")
        self.service.submit_new_crate_with(parent_id, name, ids)

    def remove_selected_from_crate(self) -> None:
        crate = self.service.node(self.model.crate_id)
        if crate is None or crate.kind != "crate":
            self.message.emit("Only a crate's own tracks can be removed from it (select a crate first).")
            return
        read_ids, count = self._selected_reader()
        if count:
            self.service.remove_tracks(crate, read_ids, count)

    # -- settings -------------------------------------------------------------------------------------
    def current_settings(self) -> SidebarSettings:
        return SidebarSettings(
            visible=self.toggle_sidebar_action.isChecked(),
            width=self.dock.width() if self.dock.isVisible() else self._settings.width,
            expanded=tuple(self.sidebar.expanded_paths()),
        )

    def save_settings(self) -> None:
        save_sidebar_settings(self.settings_store, self.current_settings())

    def set_library(self, library: Library) -> None:
        self.service.set_library(library)
        self.sidebar.select_collection()

    def shutdown(self) -> None:
        self.service.shutdown()

    # -- slots ----------------------------------------------------------------------------------------
    def _on_sidebar_target_selected(self, target: SidebarTarget) -> None:
        self.show_target(target)

    def show_target(self, target: SidebarTarget) -> None:
        """Point the table at the collection, a crate, a folder's crates or the problem tracks."""
        leaving_library = self.model.crate_id is None and self.model.base_query is None
        if leaving_library:
            self._library_order = self.model.order
        node = target.node
        if node is not None and node.kind == "crate":
            self.model.set_scope(node.id, "crate", SortOrder("position"), None)
        elif node is not None and node.kind == "smart":
            order = SortOrder(node.sort, node.descending) if node.sort else SortOrder("artist")
            self.model.set_scope(node.id, "smart", order, None)
        elif node is not None:  # a folder: the tracks of every crate in it
            self.model.set_scope(None, None, self._library_order, folder_query(node))
        elif target.kind == PROBLEMS:
            self.model.set_scope(None, None, self._library_order, problems_query())
        else:
            assert target.kind == COLLECTION
            self.model.set_scope(None, None, self._library_order, None)
        self._update_position_column()
        if node is not None and node.error:
            self.message.emit(f"\u201c{node.name}\u201d: {node.error} (double-click it to edit its rule)")
        self.scope_changed.emit()

    def _update_position_column(self) -> None:
        in_crate = self.model.crate_kind == "crate"
        header = self.table.horizontalHeader()
        header.setSectionHidden(POSITION_COLUMN, not in_crate)
        if in_crate and header.visualIndex(POSITION_COLUMN) != 0:
            header.moveSection(header.visualIndex(POSITION_COLUMN), 0)
        order = self.model.order
        if order.column in COLUMN_NAMES:
            blocker = header.blockSignals(True)
            header.setSortIndicator(
                COLUMN_NAMES.index(order.column),
                Qt.SortOrder.DescendingOrder if order.descending else Qt.SortOrder.AscendingOrder,
            )
            header.blockSignals(blocker)
        self.table.setDragDropMode(
            QTableView.DragDropMode.DragDrop if in_crate else QTableView.DragDropMode.DragOnly
        )

    def _on_model_view_applied(self) -> None:
        self.sidebar.model.set_collection_count(self.model.library_count)
        self.table.setDragDropMode(
            QTableView.DragDropMode.DragDrop
            if self.model.in_crate_order
            else QTableView.DragDropMode.DragOnly
        )

    def _on_service_entries_changed(self, crate_ids: set[int]) -> None:
        if self.model.crate_id in crate_ids or self.model.base_query is not None:
            self.model.refresh(pin_row=self.table.verticalScrollBar().value())

    def _on_service_nodes_loaded(self, _nodes: list[CrateNode]) -> None:
        crate_id = self.model.crate_id
        node = self.service.node(crate_id)
        if crate_id is not None and node is None:
            self.sidebar.select_collection()  # the crate shown was deleted (here or in another window)
        elif (
            node is not None
            and node.kind == "smart"
            and node.track_count is not None
            and not self.model.is_loading
            and node.track_count != self.model.scope_count
        ):  # the smart crate shown was counted again and matches other tracks now (analysis, tags)
            self.model.refresh(pin_row=self.table.verticalScrollBar().value())

    def _on_model_reorder_requested(self, track_ids: list[int], position: int) -> None:
        crate = self.service.node(self.model.crate_id)
        if crate is not None and crate.kind == "crate":
            self.service.reorder(crate, track_ids, position)

    def _on_sidebar_smart_editor_requested(self, node: CrateNode | None, parent_id: int | None) -> None:
        from crate_app.gui.smart_editor import SmartCrateEditor

        editor = SmartCrateEditor(self.service, node, parent_id, self.sidebar)
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.open()


def folder_query(folder: CrateNode) -> ParsedQuery:
    """The tracks of every crate under ``folder`` (the search language's ``crate:`` filter)."""
    from crate_app.domain.search import CrateFilter

    return ParsedQuery(CrateFilter(folder.path))


def problems_query() -> ParsedQuery:
    """Tracks whose file is missing or could not be read."""
    from crate_app.domain.search import FlagFilter, Or

    return ParsedQuery(Or((FlagFilter("missing", True), FlagFilter("error", True))))
