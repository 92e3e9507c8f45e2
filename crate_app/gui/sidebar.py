"""The sidebar left of the track table: Collection, the crate tree (folders, crates and smart crates
with their counts), Problems.  It talks to the ``CrateService`` only; the window listens to its
``target_selected`` and ``message`` signals.

Drops: table rows on a crate add them (Ctrl or Alt: move them from the crate they came from); files
and folders from a file manager on a crate are scanned and added; crates and folders dragged in the
tree nest and reorder.  A drop that cannot be done (on a smart crate, a folder into itself, ...) is
refused and the reason goes to ``message``.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelectionModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QDragMoveEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QPainter,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHeaderView,
    QInputDialog,
    QMenu,
    QMessageBox,
    QStyle,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.crates import CrateNode
from crate_app.gui.track_drag import (
    NODES_MIME,
    TRACKS_MIME,
    local_paths,
    nodes_from_mime,
    nodes_mime,
    tracks_from_mime,
)
from crate_app.services.crate_service import CrateService, EditOutcome

COLLECTION, CRATES, PROBLEMS, DUPLICATES = "collection", "crates", "problems", "duplicates"
# The colours a crate or folder can be given (stored as the hex text; any other colour a file brought in
# is shown too).
CRATE_COLORS = (
    ("Red", "#e74c3c"),
    ("Orange", "#e67e22"),
    ("Yellow", "#f1c40f"),
    ("Green", "#2ecc71"),
    ("Aqua", "#1abc9c"),
    ("Blue", "#3498db"),
    ("Purple", "#9b59b6"),
    ("Pink", "#ff6eb4"),
)
_SPECIAL_ROWS = (COLLECTION, CRATES, PROBLEMS, DUPLICATES)
_SPECIAL_IDS = {COLLECTION: 1, CRATES: 2, PROBLEMS: 3, DUPLICATES: 4}
_NODE_BASE = 16  # a node's internal id is its id + _NODE_BASE; below are the three fixed rows
NodeRole = Qt.ItemDataRole.UserRole + 1  # the CrateNode of a row (None for the fixed rows)
TargetRole = Qt.ItemDataRole.UserRole + 2  # what selecting the row shows: a SidebarTarget

_NAME, _COUNT = 0, 1


@dataclass(frozen=True)
class SidebarTarget:
    """What the table shows: the whole collection, one crate (or folder, or smart crate), or problems."""

    kind: str  # COLLECTION, PROBLEMS, DUPLICATES (opens the Duplicates view) or "node"
    node: CrateNode | None = None


def _shown_by(target: SidebarTarget) -> tuple[object, ...]:
    """What decides the tracks a target shows (a change means the table must load again)."""
    node = target.node
    if node is None:
        return (target.kind,)
    return (node.id, node.kind, node.path, node.query, node.sort, node.descending, node.limit, node.error)


# What makes a change of the tree more than a change of counts (a node's id first); read in C, not by a
# Python function per node: comparing 5,556 nodes that way took 60 ms of the GUI thread per reload.
_structure = operator.attrgetter("id", "parent_id", "name", "kind", "position", "query", "error", "color")
_track_count = operator.attrgetter("track_count")


class SidebarModel(QAbstractItemModel):
    """The sidebar's tree: three fixed rows (Collection, Crates, Problems), the crate tree under Crates.

    Two columns: the name and the number of tracks.  ``set_nodes`` takes the whole tree (as
    ``list_nodes`` returns it); when only counts changed the rows are updated in place, otherwise
    the model is reset (the sidebar keeps its expanded folders and selection across that).

    Drops are not done here but announced: ``nodes_dropped(ids, parent_id, position)``,
    ``tracks_dropped(crate, track_ids, source_crate_id, move)``, ``paths_dropped(crate|None, paths)``;
    ``drop_refused(reason)`` for one that cannot be done.
    """

    nodes_dropped = Signal(object, object, object)
    tracks_dropped = Signal(object, object, object, bool)
    paths_dropped = Signal(object, object)
    drop_refused = Signal(str)
    rename_requested = Signal(object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._nodes: dict[int, CrateNode] = {}
        self._structures: list[tuple[object, ...]] = []  # _structure of the nodes, in the order given
        self._children: dict[int | None, list[int]] = {None: []}
        self._row: dict[int, int] = {}
        self._collection_count: int | None = None
        self.move_requested = False  # set by the view while a drop with Ctrl or Alt is handled
        self._icons: dict[str, QIcon] = {}  # made on first use (a QApplication exists by then)
        self._error_brush = QBrush(QColor(200, 60, 60))
        self._muted_brush = QBrush(QColor(128, 128, 128))

    # -- content ----------------------------------------------------------------------------------
    def set_nodes(self, nodes: Sequence[CrateNode]) -> None:
        """Show this tree (parents before children, siblings in order)."""
        by_id = {node.id: node for node in nodes}
        structures = list(map(_structure, nodes))
        if structures == self._structures:  # the same tree, in the same order: counts only
            old_counts = dict(zip(self._nodes, map(_track_count, self._nodes.values()), strict=True))
            changed = [node.id for node in nodes if node.track_count != old_counts[node.id]]
            self._nodes = by_id
            for node_id in changed:
                index = self.node_index(node_id, _COUNT)
                self.dataChanged.emit(index, index)
            return
        self.beginResetModel()
        self._structures = structures
        self._nodes = by_id
        self._children = {None: []}
        for node in sorted(nodes, key=lambda n: n.position):
            parent = node.parent_id if node.parent_id in by_id else None
            self._children.setdefault(parent, []).append(node.id)
        self._row = {
            node_id: row for siblings in self._children.values() for row, node_id in enumerate(siblings)
        }
        self.endResetModel()

    def set_collection_count(self, count: int | None) -> None:
        if count == self._collection_count:
            return  # after every load of the table: a change of the count column costs ~40 ms at 5,000
        self._collection_count = count
        index = self.special_index(COLLECTION, _COUNT)
        self.dataChanged.emit(index, index)

    def node(self, node_id: int | None) -> CrateNode | None:
        return self._nodes.get(node_id) if node_id is not None else None

    @property
    def nodes(self) -> list[CrateNode]:
        return list(self._nodes.values())

    def node_of(self, index: QModelIndex | QPersistentModelIndex) -> CrateNode | None:
        if not index.isValid():
            return None
        return self._nodes.get(index.internalId() - _NODE_BASE)

    def special_of(self, index: QModelIndex | QPersistentModelIndex) -> str | None:
        if not index.isValid() or index.internalId() >= _NODE_BASE:
            return None
        return _SPECIAL_ROWS[index.internalId() - 1]

    def special_index(self, name: str, column: int = _NAME) -> QModelIndex:
        return self.createIndex(_SPECIAL_ROWS.index(name), column, _SPECIAL_IDS[name])

    def node_index(self, node_id: int, column: int = _NAME) -> QModelIndex:
        if node_id not in self._nodes:
            return QModelIndex()
        return self.createIndex(self._row[node_id], column, node_id + _NODE_BASE)

    def children_of(self, node_id: int | None) -> list[CrateNode]:
        return [self._nodes[i] for i in self._children.get(node_id, [])]

    def descendants(self, node_id: int) -> set[int]:
        found, todo = set(), [node_id]
        while todo:
            for child in self._children.get(todo.pop(), []):
                found.add(child)
                todo.append(child)
        return found

    # -- Qt model API -----------------------------------------------------------------------------
    def index(
        self,
        row: int,
        column: int,
        parent: QModelIndex | QPersistentModelIndex = QModelIndex(),  # noqa: B008
    ) -> QModelIndex:
        if not 0 <= column < 2 or row < 0:
            return QModelIndex()
        if not parent.isValid():
            if row >= len(_SPECIAL_ROWS):
                return QModelIndex()
            return self.createIndex(row, column, row + 1)
        if parent.column() != 0:
            return QModelIndex()
        key = self._children_key(parent)
        siblings = self._children.get(key, []) if key is not False else []
        if row >= len(siblings):
            return QModelIndex()
        return self.createIndex(row, column, siblings[row] + _NODE_BASE)

    def _children_key(self, parent: QModelIndex | QPersistentModelIndex) -> int | bool | None:
        """The key of ``parent``'s children in ``_children`` (False: it has none)."""
        if self.special_of(parent) == CRATES:
            return None
        node = self.node_of(parent)
        return node.id if node is not None else False

    def parent(self, index: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        node = self.node_of(index)
        if node is None:
            return QModelIndex()
        if node.parent_id is None or node.parent_id not in self._nodes:
            return self.special_index(CRATES)
        return self.node_index(node.parent_id)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(_SPECIAL_ROWS)
        if parent.column() != 0:
            return 0
        key = self._children_key(parent)
        return len(self._children.get(key, [])) if key is not False else 0

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 2

    def hasChildren(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:  # noqa: B008
        return self.rowCount(parent) > 0

    def _icon(self, name: str) -> QIcon:
        icon = self._icons.get(name)
        if icon is None:
            from PySide6.QtWidgets import QApplication

            pixmap = {
                COLLECTION: QStyle.StandardPixmap.SP_DriveHDIcon,
                CRATES: QStyle.StandardPixmap.SP_DirOpenIcon,
                PROBLEMS: QStyle.StandardPixmap.SP_MessageBoxWarning,
                DUPLICATES: QStyle.StandardPixmap.SP_FileDialogDetailedView,
                "folder": QStyle.StandardPixmap.SP_DirIcon,
                "crate": QStyle.StandardPixmap.SP_FileDialogListView,
                "smart": QStyle.StandardPixmap.SP_FileDialogContentsView,
                "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
            }[name]
            style = QApplication.style()
            if style is None:  # no QApplication (a model used without widgets)
                return QIcon()
            icon = style.standardIcon(pixmap)
            self._icons[name] = icon
        return icon

    def _colored_icon(self, kind: str, color: str) -> QIcon:
        """The kind's icon with a dot of the node's colour in its lower right corner."""
        key = f"{kind} {color}"
        icon = self._icons.get(key)
        if icon is None:
            base = self._icon(kind)
            if base.isNull():
                return base
            pixmap = base.pixmap(16, 16)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor("white"), 1))
            painter.setBrush(QColor(color))
            painter.drawEllipse(7, 7, 8, 8)
            painter.end()
            icon = self._icons[key] = QIcon(pixmap)
        return icon

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        column = index.column()
        special = self.special_of(index)
        if special is not None:
            return self._special_data(special, column, role)
        node = self.node_of(index)
        if node is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == _NAME:
                return node.name
            if role == Qt.ItemDataRole.DisplayRole:
                if node.error:
                    return "!"
                return f"{node.track_count:,}" if node.track_count is not None else ""
            return None
        if role == Qt.ItemDataRole.DecorationRole and column == _NAME:
            if node.error:
                return self._icon("error")
            return self._colored_icon(node.kind, node.color) if node.color else self._icon(node.kind)
        if role == Qt.ItemDataRole.ToolTipRole:
            note = f"\n\n{node.note}" if node.note else ""
            if node.error:
                return f"{node.path}\nThis smart crate's rule does not work: {node.error}\nEdit it to fix it."
            if node.kind == "smart":
                return f"{node.path}\nSmart crate: {node.query}{note}"
            return node.path + note
        if role == Qt.ItemDataRole.ForegroundRole:
            if node.error:
                return self._error_brush
            return self._muted_brush if column == _COUNT else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == _COUNT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == NodeRole:
            return node
        if role == TargetRole:
            return SidebarTarget("node", node)
        return None

    def _special_data(self, special: str, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if column == _NAME:
                return {
                    COLLECTION: "Collection",
                    CRATES: "Crates",
                    PROBLEMS: "Problems",
                    DUPLICATES: "Duplicates",
                }[special]
            if special == COLLECTION and self._collection_count is not None:
                return f"{self._collection_count:,}"
            return None
        if role == Qt.ItemDataRole.DecorationRole and column == _NAME:
            return self._icon(special)
        if role == Qt.ItemDataRole.ForegroundRole and column == _COUNT:
            return self._muted_brush
        if role == Qt.ItemDataRole.TextAlignmentRole and column == _COUNT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return {
                COLLECTION: "Every track in the library",
                CRATES: "Folders, crates and smart crates (drop crates here to move them to the top)",
                PROBLEMS: "Files that could not be read or have gone missing",
                DUPLICATES: "The same track more than once: by tags, by audio or by recording",
            }[special]
        if role == TargetRole and special != CRATES:
            return SidebarTarget(special)
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        special = self.special_of(index)
        if special is not None:
            if special == CRATES:
                return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsDropEnabled
            if special == COLLECTION:
                return base | Qt.ItemFlag.ItemIsDropEnabled | Qt.ItemFlag.ItemNeverHasChildren
            return base | Qt.ItemFlag.ItemNeverHasChildren
        node = self.node_of(index)
        flags = base | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemIsDropEnabled
        if index.column() == _NAME:
            flags |= Qt.ItemFlag.ItemIsEditable
        if node is not None and node.kind != "folder":
            flags |= Qt.ItemFlag.ItemNeverHasChildren
        return flags

    def setData(
        self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole
    ) -> bool:
        node = self.node_of(index)
        if node is None or role != Qt.ItemDataRole.EditRole or index.column() != _NAME:
            return False
        name = str(value).strip()
        if not name:
            self.drop_refused.emit("A name cannot be empty: the old name was kept.")
            return False
        if name == node.name:
            return False
        renamed = dataclasses.replace(node, name=name)  # shown at once; the store follows
        self._nodes[node.id] = renamed
        self._structures = [_structure(renamed) if s[0] == node.id else s for s in self._structures]
        self.dataChanged.emit(index, index)
        self.rename_requested.emit(node, name)
        return True

    # -- drag and drop ----------------------------------------------------------------------------
    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [NODES_MIME, TRACKS_MIME, "text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        ids = list(dict.fromkeys(node.id for index in indexes if (node := self.node_of(index)) is not None))
        return nodes_mime(ids)

    def drop_problem(
        self, mime: QMimeData, row: int, parent: QModelIndex | QPersistentModelIndex
    ) -> str | None:
        """Why this drop cannot be done (in words), or None if it can."""
        special = self.special_of(parent)
        target = self.node_of(parent)
        node_ids = nodes_from_mime(mime)
        if node_ids:
            if special != CRATES and (target is None or target.kind != "folder"):
                return "Crates hold tracks, not other crates: drop it on a folder, or between crates."
            if target is not None:
                for node_id in node_ids:
                    if node_id == target.id or target.id in self.descendants(node_id):
                        return "A folder cannot go inside itself."
            return None
        tracks = tracks_from_mime(mime)
        paths = local_paths(mime)
        if tracks is None and not paths:
            return "Only tracks, crates, files and folders can be dropped here."
        if special == COLLECTION and paths:
            return None
        if target is None:
            return "Drop tracks on a crate."
        if target.kind == "smart":
            return (
                f"\u201c{target.name}\u201d is a smart crate: its tracks come from its rule, not from drops."
            )
        if target.kind == "folder":
            return f"\u201c{target.name}\u201d is a folder: drop tracks on a crate inside it."
        return None

    def canDropMimeData(
        self,
        data: QMimeData,
        action: Qt.DropAction,
        row: int,
        column: int,
        parent: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        return self.drop_problem(data, row, parent) is None

    def dropMimeData(
        self,
        data: QMimeData,
        action: Qt.DropAction,
        row: int,
        column: int,
        parent: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if parent.isValid() and parent.column() != _NAME:
            parent = parent.siblingAtColumn(_NAME)
        problem = self.drop_problem(data, row, parent)
        if problem is not None:
            self.drop_refused.emit(problem)
            return False
        target = self.node_of(parent)
        node_ids = nodes_from_mime(data)
        if node_ids:
            parent_id = target.id if target is not None else None
            self.nodes_dropped.emit(node_ids, parent_id, self._final_position(node_ids, parent_id, row))
            return True
        tracks = tracks_from_mime(data)
        if tracks is not None:
            track_ids, source = tracks
            move = source is not None and (self.move_requested or action == Qt.DropAction.MoveAction)
            self.tracks_dropped.emit(target, track_ids, source, move)
            return True
        self.paths_dropped.emit(target, local_paths(data))
        return True

    def _final_position(self, node_ids: list[int], parent_id: int | None, row: int) -> int | None:
        """Where the first dropped node ends up among its new siblings (None = at the end)."""
        if row < 0:
            return None
        siblings = self._children.get(parent_id, [])
        moved_above = sum(1 for i in siblings[:row] if i in node_ids)
        return row - moved_above


class SidebarView(QTreeView):
    """The tree: drops of rows and files land on the item under the pointer; crates move between."""

    hint = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setUniformRowHeights(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setAnimated(False)
        self.setExpandsOnDoubleClick(True)
        self._last_hint = ""

    def sidebar_model(self) -> SidebarModel:
        model = self.model()
        assert isinstance(model, SidebarModel)
        return model

    def setModel(self, model: QAbstractItemModel | None) -> None:  # Qt override
        super().setModel(model)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(_NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(_COUNT, QHeaderView.ResizeMode.ResizeToContents)

    def _is_item_drop(self, event: QDragMoveEvent | QDropEvent) -> bool:
        mime = event.mimeData()
        return mime.hasFormat(TRACKS_MIME) or (mime.hasUrls() and not mime.hasFormat(NODES_MIME))

    def dragEnterEvent(self, event) -> None:  # Qt override
        if self._is_item_drop(event):
            event.acceptProposedAction()
            return
        super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # Qt override
        if not self._is_item_drop(event):
            super().dragMoveEvent(event)
            if not event.isAccepted():
                self._say(self._node_drop_problem(event))
            return
        index = self.indexAt(event.position().toPoint()).siblingAtColumn(_NAME)
        problem = self.sidebar_model().drop_problem(event.mimeData(), -1, index)
        if problem is None:
            event.acceptProposedAction()
        else:
            event.ignore()
            self._say(problem)

    def _node_drop_problem(self, event: QDragMoveEvent) -> str:
        index = self.indexAt(event.position().toPoint()).siblingAtColumn(_NAME)
        return self.sidebar_model().drop_problem(event.mimeData(), -1, index) or ""

    def _say(self, text: str) -> None:
        if text and text != self._last_hint:
            self._last_hint = text
            self.hint.emit(text)

    def dropEvent(self, event: QDropEvent) -> None:  # Qt override
        self._last_hint = ""
        model = self.sidebar_model()
        model.move_requested = bool(
            event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        )
        try:
            if not self._is_item_drop(event):
                super().dropEvent(event)
                return
            index = self.indexAt(event.position().toPoint()).siblingAtColumn(_NAME)
            if model.dropMimeData(event.mimeData(), event.dropAction(), -1, -1, index):
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
            else:
                event.ignore()
        finally:
            model.move_requested = False


class Sidebar(QWidget):
    """Collection, the crate tree and Problems, with the crate commands (menus and shortcuts).

    ``target_selected(SidebarTarget)`` when the user picks what the table shows; ``message(str)`` for
    the status bar (refused drops, finished edits); ``paths_dropped_on_collection(list[str])``.
    ``smart_editor_requested(CrateNode | None, parent_id)`` asks the window for the smart crate editor
    (None: a new smart crate).
    """

    target_selected = Signal(object)
    duplicates_requested = Signal()  # the Duplicates row was chosen: the window shows that view
    table_requested = Signal()  # another row was chosen after it: the window shows the table again
    message = Signal(str)
    paths_dropped_on_collection = Signal(object)
    smart_editor_requested = Signal(object, object)
    export_requested = Signal(object)  # CrateNode: "Export…" on a crate or folder (File ▸ Export's dialog)

    def __init__(self, service: CrateService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.model = SidebarModel(self)
        self.view = SidebarView(self)
        self.view.setModel(self.model)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.setMinimumWidth(140)
        self._expanded_ids: set[int] = set()
        self._expanded_paths: set[str] | None = None  # from the settings, until the first tree arrives
        self._current: SidebarTarget = SidebarTarget(COLLECTION)  # what the track table shows
        self.showing_duplicates = False  # the Duplicates row is selected (the table keeps _current)
        self._select_after_load: int | None = None
        self._edit_after_load = False
        self._build_actions()

        self.view.selectionModel().currentChanged.connect(self._on_view_current_changed)
        self.view.expanded.connect(self._on_view_expanded)
        self.view.collapsed.connect(self._on_view_collapsed)
        self.view.doubleClicked.connect(self._on_view_double_clicked)
        self.view.customContextMenuRequested.connect(self._on_view_context_menu_requested)
        self.view.hint.connect(self.message)
        self.model.drop_refused.connect(self.message)
        self.model.nodes_dropped.connect(self._on_model_nodes_dropped)
        self.model.tracks_dropped.connect(self._on_model_tracks_dropped)
        self.model.paths_dropped.connect(self._on_model_paths_dropped)
        self.model.rename_requested.connect(self._on_model_rename_requested)
        self.model.modelAboutToBeReset.connect(self._on_model_about_to_be_reset)
        self.model.modelReset.connect(self._on_model_reset)
        service.nodes_loaded.connect(self._on_service_nodes_loaded)
        service.edited.connect(self._on_service_edited)
        service.failed.connect(self._on_service_failed)
        self.view.expand(self.model.special_index(CRATES))
        self.view.setCurrentIndex(self.model.special_index(COLLECTION))

    # -- actions ------------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        window_wide = Qt.ShortcutContext.WindowShortcut
        here = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self.new_crate_action = self._action("New &Crate", "Ctrl+N", self.new_crate, window_wide)
        self.new_folder_action = self._action("New &Folder", "Ctrl+Shift+N", self.new_folder, window_wide)
        self.new_smart_action = self._action(
            "New &Smart Crate\u2026", "Ctrl+Alt+N", self.new_smart_crate, window_wide
        )
        self.rename_action = self._action("&Rename", "F2", self.rename_current, here)
        self.duplicate_action = self._action("D&uplicate", "Ctrl+D", self.duplicate_current, here)
        self.delete_action = self._action(
            "&Delete", QKeySequence.StandardKey.Delete, self.delete_current, here
        )
        self.edit_smart_action = self._action("&Edit Smart Crate\u2026", "", self.edit_current_smart, here)
        self.crates_from_folders_action = self._action(
            "Create Crates from &Folders\u2026", "", self.crates_from_folders, window_wide
        )
        self.export_action = self._action("E&xport\u2026", "", self.export_current, here)
        self.note_action = self._action("&Note\u2026", "", self.edit_current_note, here)

    def _action(self, text: str, shortcut: object, slot: object, context: Qt.ShortcutContext) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))  # type: ignore[arg-type]
        action.setShortcutContext(context)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def window_actions(self) -> list[QAction]:
        """The actions for the window's menu (their shortcuts work anywhere in the window)."""
        return [
            self.new_crate_action,
            self.new_folder_action,
            self.new_smart_action,
            self.crates_from_folders_action,
        ]

    # -- what is selected -----------------------------------------------------------------------------
    @property
    def current_target(self) -> SidebarTarget:
        return self._current

    def current_node(self) -> CrateNode | None:
        return self.model.node_of(self.view.currentIndex())

    def select_node(self, node_id: int) -> bool:
        index = self.model.node_index(node_id)
        if not index.isValid():
            return False
        parent = index.parent()
        while parent.isValid():
            if not self.view.isExpanded(parent):  # expanding lays out the tree again (~20 ms at 5,000)
                self.view.expand(parent)
            parent = parent.parent()
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)
        return True

    def select_collection(self) -> None:
        self.view.setCurrentIndex(self.model.special_index(COLLECTION))

    def select_duplicates(self) -> None:
        self.view.setCurrentIndex(self.model.special_index(DUPLICATES))

    def _insertion_parent(self) -> int | None:
        """Where a new node goes: into the selected folder, else beside the selected crate."""
        node = self.current_node()
        if node is None:
            return None
        return node.id if node.kind == "folder" else node.parent_id

    def unique_name(self, parent_id: int | None, base: str) -> str:
        taken = {child.name.casefold() for child in self.model.children_of(parent_id)}
        if base.casefold() not in taken:
            return base
        number = 2
        while f"{base} {number}".casefold() in taken:
            number += 1
        return f"{base} {number}"

    # -- commands -------------------------------------------------------------------------------------
    def new_crate(self) -> None:
        self._create("crate", "New crate")

    def new_folder(self) -> None:
        self._create("folder", "New folder")

    def _create(self, kind: str, base: str) -> None:
        parent_id = self._insertion_parent()
        self._edit_after_load = True
        self.service.create(parent_id, self.unique_name(parent_id, base), kind)

    def new_smart_crate(self) -> None:
        self.smart_editor_requested.emit(None, self._insertion_parent())

    def edit_current_smart(self) -> None:
        node = self.current_node()
        if node is not None and node.kind == "smart":
            self.smart_editor_requested.emit(node, node.parent_id)

    def rename_current(self) -> None:
        index = self.view.currentIndex()
        if self.model.node_of(index) is not None:
            self.view.edit(index.siblingAtColumn(_NAME))

    def export_current(self) -> None:
        node = self.current_node()
        if node is not None:
            self.export_requested.emit(node)

    def duplicate_current(self) -> None:
        node = self.current_node()
        if node is not None:
            self.service.duplicate(node)

    def delete_current(self) -> None:
        node = self.current_node()
        if node is None:
            return
        inside = self.model.descendants(node.id)
        question = ""
        if node.kind == "crate" and node.track_count:
            question = (
                f"Delete the crate \u201c{node.name}\u201d and its list of {node.track_count:,} tracks?"
            )
        elif inside:
            question = (
                f"Delete the folder \u201c{node.name}\u201d and the {len(inside):,} crates and folders in it?"
            )
        if question:
            answer = QMessageBox.question(
                self,
                "Delete",
                question + "\nThe files stay where they are; Edit \u25b8 Undo brings the crate back.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.service.delete(node)

    def crates_from_folders(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Make a crate of each subfolder of")
        if folder:
            self.service.crates_from_folders(self._insertion_parent(), folder)
            self.message.emit("Scanning the folder; its crates follow when the scan is done\u2026")

    # -- settings -------------------------------------------------------------------------------------
    def color_menu(self, node: CrateNode, parent: QWidget | None = None) -> QMenu:
        """Colour \u25b8: the palette (the node's colour checked) and None."""
        menu = QMenu("&Colour", parent)
        choices = [("None", None), *CRATE_COLORS]
        if node.color and node.color.casefold() not in {hex_.casefold() for _, hex_ in CRATE_COLORS}:
            choices.append((node.color, node.color))  # a colour another program gave it
        for name, color in choices:
            action = menu.addAction(name)
            action.setCheckable(True)
            action.setChecked((node.color or None) == color)
            if color is not None:
                swatch = QPixmap(12, 12)
                swatch.fill(QColor(color))
                action.setIcon(QIcon(swatch))
            action.triggered.connect(lambda _checked=False, c=color, n=node: self.service.set_color(n, c))
        return menu

    def edit_current_note(self) -> None:
        """Ask for the current crate's or folder's note (several lines; empty: none)."""
        node = self.current_node()
        if node is None:
            return
        text, accepted = QInputDialog.getMultiLineText(
            self,
            "Note",
            f"A note for \u201c{node.name}\u201d (shown when the pointer rests on it):",
            node.note,
        )
        if accepted:
            self.service.set_note(node, text)

    def expanded_paths(self) -> list[str]:
        """Paths of the expanded folders (kept in the settings)."""
        return sorted(node.path for i in self._expanded_ids if (node := self.model.node(i)) is not None)

    def restore_expanded_paths(self, paths: Sequence[str]) -> None:
        """Expand these folders when the tree has loaded (or now, if it has)."""
        self._expanded_paths = set(paths)
        if self.model.nodes:
            self._apply_expanded_paths()

    def _apply_expanded_paths(self) -> None:
        paths, self._expanded_paths = self._expanded_paths or set(), None
        for node in self.model.nodes:
            if node.path in paths:
                self._expanded_ids.add(node.id)
                self.view.expand(self.model.node_index(node.id))

    # -- slots ----------------------------------------------------------------------------------------
    def _on_service_nodes_loaded(self, nodes: list[CrateNode]) -> None:
        self.model.set_nodes(nodes)
        if self._expanded_paths is not None:
            self._apply_expanded_paths()
        current = self._current.node
        if self._select_after_load is not None:
            node_id, self._select_after_load = self._select_after_load, None
            if self.select_node(node_id) and self._edit_after_load:
                self.view.setFocus()
                self.view.edit(self.model.node_index(node_id))
            self._edit_after_load = False
        elif current is not None:
            fresh = self.model.node(current.id)
            if fresh is None:
                self.select_collection()
            elif fresh != current:
                previous, self._current = self._current, SidebarTarget("node", fresh)
                if _shown_by(self._current) != _shown_by(previous):
                    self.target_selected.emit(self._current)  # e.g. a smart crate's rule changed

    def _on_service_edited(self, outcome: EditOutcome) -> None:
        if outcome.select_node is not None:
            self._select_after_load = outcome.select_node
        if outcome.message:
            self.message.emit(outcome.message)

    def _on_service_failed(self, message: str) -> None:
        self._edit_after_load = False
        self.message.emit(message)

    def _on_model_about_to_be_reset(self) -> None:
        self._reset_current = self.model.node_of(self.view.currentIndex())
        self._reset_special = self.model.special_of(self.view.currentIndex())

    def _on_model_reset(self) -> None:
        self.view.expand(self.model.special_index(CRATES))
        for node_id in list(self._expanded_ids):
            index = self.model.node_index(node_id)
            if index.isValid():
                self.view.expand(index)
            else:
                self._expanded_ids.discard(node_id)
        selection = self.view.selectionModel()
        blocker = selection.blockSignals(True)
        try:
            node = getattr(self, "_reset_current", None)
            index = self.model.node_index(node.id) if node is not None else QModelIndex()
            if not index.isValid():
                special = getattr(self, "_reset_special", None) or COLLECTION
                index = self.model.special_index(special if special != CRATES else COLLECTION)
            selection.setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
            )
        finally:
            selection.blockSignals(blocker)
        self.view.viewport().update()
        target = index.siblingAtColumn(_NAME).data(TargetRole)
        if target is None or target.kind == DUPLICATES:
            return
        if _shown_by(target) != _shown_by(self._current):
            self._current = target  # the crate shown is gone (deleted here or in another window)
            self.target_selected.emit(target)

    def _on_view_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        target = current.siblingAtColumn(_NAME).data(TargetRole)
        if target is not None and target.kind == DUPLICATES:
            # A view of its own in place of the table; the table keeps what it showed (_current).
            self.showing_duplicates = True
            self.duplicates_requested.emit()
            return
        if target is not None and self.showing_duplicates:
            self.showing_duplicates = False
            self.table_requested.emit()
        if target is None or target == self._current:
            return
        self._current = target
        self.target_selected.emit(target)

    def _on_view_expanded(self, index: QModelIndex) -> None:
        node = self.model.node_of(index)
        if node is not None:
            self._expanded_ids.add(node.id)

    def _on_view_collapsed(self, index: QModelIndex) -> None:
        node = self.model.node_of(index)
        if node is not None:
            self._expanded_ids.discard(node.id)

    def _on_view_double_clicked(self, index: QModelIndex) -> None:
        node = self.model.node_of(index)
        if node is not None and node.kind == "smart":
            self.smart_editor_requested.emit(node, node.parent_id)

    def _on_model_nodes_dropped(
        self, node_ids: list[int], parent_id: int | None, position: int | None
    ) -> None:
        for offset, node_id in enumerate(node_ids):
            node = self.model.node(node_id)
            if node is not None:
                self.service.move(node, parent_id, None if position is None else position + offset)

    def _on_model_tracks_dropped(
        self, crate: CrateNode, track_ids: list[int], source_id: int | None, move: bool
    ) -> None:
        source = self.model.node(source_id)
        if move and source is not None and source.kind == "crate" and source.id != crate.id:
            self.service.move_tracks(source, crate, track_ids)
        else:
            self.service.add_tracks(crate, track_ids)

    def _on_model_paths_dropped(self, crate: CrateNode | None, paths: list[str]) -> None:
        if crate is None:
            self.paths_dropped_on_collection.emit(paths)
            return
        self.service.add_paths(crate, paths)
        self.message.emit(
            f"Scanning what was dropped; it goes into \u201c{crate.name}\u201d when the scan is done\u2026"
        )

    def _on_model_rename_requested(self, node: CrateNode, name: str) -> None:
        self.service.rename(node, name)

    def _on_view_context_menu_requested(self, position: QPoint) -> None:
        self.context_menu(self.view.indexAt(position)).exec(self.view.viewport().mapToGlobal(position))

    def context_menu(self, index: QModelIndex) -> QMenu:
        """The menu for a row (or for empty space, ``index`` invalid)."""
        if index.isValid():
            self.view.setCurrentIndex(index.siblingAtColumn(_NAME))
        node = self.model.node_of(index)
        menu = QMenu(self)
        for action in (self.new_crate_action, self.new_folder_action, self.new_smart_action):
            menu.addAction(action)
        menu.addAction(self.crates_from_folders_action)
        if node is not None:
            menu.addSeparator()
            if node.kind == "smart":
                menu.addAction(self.edit_smart_action)
            for action in (self.rename_action, self.duplicate_action, self.delete_action):
                menu.addAction(action)
            menu.addSeparator()
            menu.addMenu(self.color_menu(node, menu))
            menu.addAction(self.note_action)
            menu.addSeparator()
            menu.addAction(self.export_action)
        return menu
