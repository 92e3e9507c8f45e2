"""The Duplicates view: sets of the same track at one level (tags, audio, recording), the copy to keep
suggested and changeable, and what to do with the others (remove from the library, move to a folder,
send to the trash).  Each action is a command on the window's undo stack (Ctrl+Z / Ctrl+Shift+Z);
the view's Undo button goes through the same stack.  A page of the window's central stack, shown
while the sidebar's Duplicates row is selected (the track table comes back with any other row)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.progress import Progress
from crate_app.domain.track import TrackRecord, display_path
from crate_app.hygiene.duplicates import DuplicateSet
from crate_app.services.hygiene_service import HygieneService
from crate_app.store.library import Library

LEVELS = (("tags", "Same tags (artist, title, duration)"), ("audio", "Same audio (any tags)"),
          ("fingerprint", "Same recording (acoustic fingerprint)"))  # fmt: skip
COLUMNS = ("Keep", "Artist", "Title", "Format", "Bitrate", "Duration", "Analysed", "Path")
TrackIdRole = Qt.ItemDataRole.UserRole + 1
MAX_SHOWN_SETS = 1000  # sets shown at once (about 3,000 tree items: a fraction of a second to build)
_CHECKED, _UNCHECKED = Qt.CheckState.Checked, Qt.CheckState.Unchecked


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


class DuplicatesView(QWidget):
    """Find duplicate sets, choose the copy to keep in each, act on the others, undo."""

    def __init__(self, service: HygieneService, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("duplicates_view")
        self.service = service
        self.library = library

        self.level = QComboBox(self)
        for value, label in LEVELS:
            self.level.addItem(label, value)
        self.find_button = QPushButton("Find", self)
        self.pause_button = QPushButton("Pause", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.status = QLabel("Choose how tracks are compared, then Find.", self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Compare by:", self))
        top.addWidget(self.level)
        top.addWidget(self.find_button)
        top.addWidget(self.pause_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.status, 1)

        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)

        self.remove_button = QPushButton("Remove Others from Library", self)
        self.move_button = QPushButton("Move Others to Folder\u2026", self)
        self.trash_button = QPushButton("Send Others to Trash", self)
        self.undo_button = QPushButton("Undo", self)
        bottom = QHBoxLayout()
        for button in (self.remove_button, self.move_button, self.trash_button, self.undo_button):
            bottom.addWidget(button)
        bottom.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        hint = (
            "Keep is suggested: lossless over lossy, higher bitrate, analysed, in more crates, added "
            "earlier. Checked sets are handled; the kept copy gets the others' crates, cues and "
            "analysis. Every action can be undone; files are never deleted."
        )
        hint_label = QLabel(hint, self)
        hint_label.setWordWrap(True)
        layout.addWidget(hint_label)
        layout.addLayout(bottom)

        self.find_button.clicked.connect(self._on_find_button_clicked)
        self.pause_button.clicked.connect(self._on_pause_button_clicked)
        self.cancel_button.clicked.connect(self.service.cancel)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.move_button.clicked.connect(self._on_move_button_clicked)
        self.trash_button.clicked.connect(self._on_trash_button_clicked)
        self.undo_button.clicked.connect(self._on_undo_button_clicked)
        self.tree.itemChanged.connect(self._on_tree_item_changed)
        self.service.progress.connect(self._on_service_progress)
        self.service.duplicates_found.connect(self._on_service_duplicates_found)
        self.service.resolved.connect(self._on_service_resolved)
        self.service.undone.connect(self._on_service_undone)
        self.service.failed.connect(self._on_service_failed)
        self.service.running_changed.connect(self._on_service_running_changed)
        self.service.undo_stack.indexChanged.connect(self._on_undo_stack_index_changed)
        self._on_service_running_changed(self.service.is_running)

    # -- the sets ------------------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget the sets (another library was opened)."""
        self.tree.clear()
        self.status.setText("Choose how tracks are compared, then Find.")
        self._update_buttons()

    def show_sets(self, sets: Sequence[DuplicateSet]) -> None:
        """Show the first MAX_SHOWN_SETS sets (a tree item per track costs the GUI thread about 0.1 ms:
        10,000 sets took seconds); the status line says how many there are in all."""
        shown = list(sets[:MAX_SHOWN_SETS])
        records = {t.id: t for t in self.library.tracks_by_ids([i for s in shown for i in s.track_ids])}
        heads = []
        for number, found in enumerate(shown, 1):
            tracks = [records[i] for i in found.track_ids if i in records]
            if len(tracks) < 2:
                continue
            head = QTreeWidgetItem([f"Set {number}", tracks[0].artist or "", tracks[0].title or ""])
            head.setCheckState(0, Qt.CheckState.Checked)
            head.addChildren([self._track_item(track, track.id == found.keep) for track in tracks])
            heads.append(head)
        self.tree.blockSignals(True)
        self.tree.setUpdatesEnabled(False)
        try:
            self.tree.clear()
            self.tree.addTopLevelItems(heads)
            self.tree.expandAll()
            for column in range(len(COLUMNS) - 1):
                self.tree.resizeColumnToContents(column)
        finally:
            self.tree.setUpdatesEnabled(True)
            self.tree.blockSignals(False)
        count = len(heads)
        if len(sets) > len(shown):
            self.status.setText(
                f"{len(sets):,} sets of duplicates: the first {count:,} are shown (handle them, then Find "
                "again for the next)."
            )
        else:
            self.status.setText(f"{count:,} set(s) of duplicates." if count else "No duplicates found.")
        self._update_buttons()

    def _track_item(self, track: TrackRecord, keep: bool) -> QTreeWidgetItem:
        item = QTreeWidgetItem(
            ["", track.artist or "", track.title or "", track.format or "",
             f"{track.bitrate} kbit/s" if track.bitrate else "", _duration(track.duration),
             "yes" if track.analyzed_at is not None else "", display_path(track.path)]
        )  # fmt: skip
        item.setData(0, TrackIdRole, track.id)
        item.setCheckState(0, _CHECKED if keep else _UNCHECKED)  # items are user-checkable by default
        return item

    def choices(self) -> list[tuple[int, list[int]]]:
        """(kept id, other ids) for every checked set."""
        chosen = []
        for index in range(self.tree.topLevelItemCount()):
            head = self.tree.topLevelItem(index)
            if head.checkState(0) != Qt.CheckState.Checked:
                continue
            ids = [head.child(i).data(0, TrackIdRole) for i in range(head.childCount())]
            kept = [head.child(i).data(0, TrackIdRole) for i in range(head.childCount())
                    if head.child(i).checkState(0) == Qt.CheckState.Checked]  # fmt: skip
            if len(kept) == 1:
                chosen.append((kept[0], [i for i in ids if i != kept[0]]))
        return chosen

    def _on_tree_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        parent = item.parent()
        if parent is None or column != 0 or item.checkState(0) != Qt.CheckState.Checked:
            return
        self.tree.blockSignals(True)  # one kept copy per set
        for i in range(parent.childCount()):
            if parent.child(i) is not item:
                parent.child(i).setCheckState(0, Qt.CheckState.Unchecked)
        self.tree.blockSignals(False)

    # -- actions ---------------------------------------------------------------------------------------
    def _on_find_button_clicked(self) -> None:
        self.status.setText("Looking\u2026")
        self.service.find_duplicates(self.level.currentData())

    def _on_pause_button_clicked(self) -> None:
        job = self.service.job
        if job is not None and job.is_paused:
            self.service.resume()
            self.pause_button.setText("Pause")
        else:
            self.service.pause()
            self.pause_button.setText("Resume")

    def _resolve(self, action: str, folder: str | None = None) -> None:
        choices = self.choices()
        if not choices:
            self.status.setText("Check at least one set, with one copy to keep.")
            return
        self.service.resolve(choices, action, folder)

    def _on_remove_button_clicked(self) -> None:
        self._resolve("remove")

    def _on_move_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Move the other copies to")
        if folder:
            self._resolve("move", folder)

    def _on_trash_button_clicked(self) -> None:
        self._resolve("trash")

    def _on_undo_button_clicked(self) -> None:
        self.service.undo_last_removal()

    # -- service events ----------------------------------------------------------------------------------
    def _on_service_progress(self, progress: Progress) -> None:
        self.status.setText(f"Hashing: {progress.describe()}")

    def _on_service_duplicates_found(self, sets: object) -> None:
        self.show_sets(sets)  # type: ignore[arg-type]

    def _on_service_resolved(self, outcomes: object) -> None:
        outcomes = list(outcomes)  # type: ignore[call-overload]
        removed = sum(len(o.removed) for o in outcomes)
        problems = [p for o in outcomes for p in o.problems]
        gone = {i for o in outcomes for i in o.removed}
        for index in reversed(range(self.tree.topLevelItemCount())):
            head = self.tree.topLevelItem(index)
            if any(head.child(i).data(0, TrackIdRole) in gone for i in range(head.childCount())):
                self.tree.takeTopLevelItem(index)
        self.status.setText(f"{removed:,} copies removed from the library (Undo or Ctrl+Z puts them back).")
        if problems:
            QMessageBox.warning(self, "Some files stayed where they were", "\n".join(problems[:20]))
        self._update_buttons()

    def _on_service_undone(self, outcomes: object) -> None:
        restored = sum(len(o.removed) for o in outcomes)  # type: ignore[attr-defined]
        self.status.setText(f"{restored:,} copies are back in the library. Find again to see the sets.")
        problems = [p for o in outcomes for p in o.problems]  # type: ignore[attr-defined]
        if problems:
            QMessageBox.warning(self, "Not everything could be put back", "\n".join(problems[:20]))
        self._update_buttons()

    def _on_service_failed(self, message: str) -> None:
        self.status.setText(message)

    def _on_service_running_changed(self, running: bool) -> None:
        self.find_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        self.pause_button.setText("Pause")
        self._update_buttons(running)

    def _update_buttons(self, running: bool | None = None) -> None:
        busy = self.service.is_running if running is None else running
        has_sets = self.tree.topLevelItemCount() > 0
        for button in (self.remove_button, self.move_button, self.trash_button):
            button.setEnabled(has_sets and not busy)
        undoable = self.service.next_undo()
        self.undo_button.setEnabled(undoable is not None and not busy)
        self.undo_button.setToolTip(f"Undo: {undoable} (Ctrl+Z)" if undoable else "Nothing to undo here")

    def _on_undo_stack_index_changed(self, _index: int) -> None:
        self._update_buttons()
