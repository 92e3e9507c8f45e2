"""Puts the player strip above the table and the track panel at its right, and wires them to the
table's selection, the keyboard and the Edit menu.  The window calls ``PlayerArea(window)`` once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QSplitter

from crate_app import paths
from crate_app.domain.keys import KeyNotation
from crate_app.gui.player_strip import PlayerStrip
from crate_app.gui.tag_editor import TagEditorDialog
from crate_app.gui.track_model import COLUMN_NAMES, WAVEFORM_COLUMN, TrackRole
from crate_app.gui.track_panel import TrackPanel
from crate_app.gui.waveform_column import WaveformColumnDelegate
from crate_app.services.player_service import PlayerService
from crate_app.services.tag_edit_service import EditOutcome, TagEditService
from crate_app.services.track_service import TrackService
from crate_app.store.library import Library

if TYPE_CHECKING:
    from crate_app.gui.main_window import MainWindow

MAX_EDITED_TRACKS = 100_000


class PlayerArea(QObject):
    """The player, the track panel and the tag editor of one window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.player = PlayerService(self)
        # One undo history for the window: corrections and tag edits go on the crates' stack, so that
        # Ctrl+Z / Ctrl+Shift+Z (the crates' Undo and Redo actions) undo the last edit whatever it was.
        undo_stack = window.crates.service.undo_stack
        self.tracks = TrackService(
            window.library, window.runner, paths.cache_dir() / "covers", self._tag_notation, self, undo_stack
        )
        self.tag_edits = TagEditService(window.runner, window.library, self, undo_stack)
        self.strip = PlayerStrip(self.player, self.tracks, window.settings_store, window)
        self.panel = TrackPanel(self.tracks, self._position_of_shown_track, window)
        self.panel.set_key_notation(window.settings.key_notation)

        # The table and the panel share a splitter; the strip goes above them.
        layout = window.centralWidget().layout()
        index = layout.indexOf(window.stack)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, window)
        layout.replaceWidget(window.stack, self.splitter)
        self.splitter.addWidget(window.stack)
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([900, 300])
        layout.insertWidget(index, self.strip)

        table = window.table
        self.waveform_column = WaveformColumnDelegate(table, lambda: self.window.library, self)
        table.setItemDelegateForColumn(WAVEFORM_COLUMN, self.waveform_column)
        table.horizontalHeader().sortIndicatorChanged.connect(self._on_header_sort_indicator_changed)
        table.selectionModel().currentRowChanged.connect(self._on_table_current_row_changed)
        window.model.modelReset.connect(self._on_model_reset)
        for keys, slot in (
            ("Space", self.strip.play_pause),
            ("Left", lambda: self.strip.jump(-1)),
            ("Right", lambda: self.strip.jump(+1)),
            ("M", self.strip._on_memory_button_clicked),
            ("I", self.strip._on_loop_in_button_clicked),
            ("O", self.strip._on_loop_out_button_clicked),
            *((str(n + 1), lambda n=n: self.strip.hot_cue_pressed(n)) for n in range(8)),
            *((f"Ctrl+{n + 1}", lambda n=n: self.strip.set_hot_cue(n)) for n in range(8)),
        ):
            for widget in (table, self.strip):
                shortcut = QShortcut(QKeySequence(keys), widget)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(slot)
        edit_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
        edit_menu.addSeparator()
        self.edit_action = window._action(edit_menu, "Edit &Tags\u2026", "Ctrl+E", self.edit_tags)
        self.edit_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        window.removeAction(self.edit_action)
        window.table.addAction(self.edit_action)
        self.panel.edit_tags_requested.connect(self.edit_tags)
        self.panel.reveal_requested.connect(window.reveal_track)
        self.tracks.tracks_updated.connect(self._on_values_changed)
        self.tag_edits.tracks_changed.connect(self._on_values_changed)
        self.tag_edits.finished.connect(self._on_tag_edits_finished)
        window.key_actions.triggered.connect(self._on_key_actions_triggered)
        window.analysis.service.tracks_saved.connect(self._on_analysis_tracks_saved)

    # -- helpers -----------------------------------------------------------------------------------------
    def _tag_notation(self) -> KeyNotation | None:
        """Write corrected BPM/key into the files when the analysis option says so, in the shown notation."""
        if not self.window.analysis.preferences.write_tags:
            return None
        action = self.window.key_actions.checkedAction()
        return KeyNotation(action.data()) if action is not None else KeyNotation.CAMELOT

    def _position_of_shown_track(self) -> float:
        shown, playing = self.tracks.track, self.player.track
        return self.player.position if shown and playing and shown.id == playing.id else 0.0

    def set_library(self, library: Library) -> None:
        self.player.stop()
        self.tracks.library = library
        self.tag_edits.library = library  # the shared undo stack is cleared by the crates' set_library
        self.tracks.select(None)
        self.waveform_column.forget()

    def shutdown(self) -> None:
        self.player.release()

    def selected_tracks(self) -> list:
        rows = sorted({index.row() for index in self.window.table.selectionModel().selectedRows()})
        records = [self.window.model.track_at(row) for row in rows[:MAX_EDITED_TRACKS]]
        return [record for record in records if record is not None]

    # -- commands ----------------------------------------------------------------------------------------
    def edit_tags(self) -> TagEditorDialog | None:
        tracks = self.selected_tracks()
        if not tracks:
            return None
        dialog = TagEditorDialog(tracks, self.tag_edits, self.window)
        dialog.setModal(True)
        dialog.show()
        return dialog

    # -- slots ---------------------------------------------------------------------------------------------
    def _on_table_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        record = current.data(TrackRole) if current.isValid() else None
        self.tracks.select(record.id if record is not None else None)
        self.strip.selection_changed()
        if record is not None:
            model = self.window.model
            around = (
                model.track_at(row, load=False)
                for row in (current.row() + 1, current.row() + 2, current.row() - 1)
            )
            self.tracks.prefetch_covers([track for track in around if track is not None])

    def _on_model_reset(self) -> None:
        index = self.window.table.currentIndex()
        if not index.isValid():
            self.tracks.select(None)

    def _on_values_changed(self, ids: list) -> None:
        self.window.model.refresh_tracks(ids)
        if self.tracks.track is not None and self.tracks.track.id in ids:
            self.tracks.reload()

    def _on_analysis_tracks_saved(self, ids: list) -> None:
        self.waveform_column.forget(ids)  # their new overviews
        if self.tracks.track is not None and self.tracks.track.id in ids:
            self.tracks.select(self.tracks.track.id)  # its new waveform and grid

    def _on_tag_edits_finished(self, outcome: EditOutcome) -> None:
        if outcome.failures and not self.window.isActiveWindow():
            return
        done = len(outcome.done)
        self.window.statusBar().showMessage(
            f"{outcome.step.description}: {done:,} changed"
            + (f", {len(outcome.failures):,} failed" if outcome.failures else ""),
            15_000,
        )

    def _on_header_sort_indicator_changed(self, section: int, _order: Qt.SortOrder) -> None:
        if section != WAVEFORM_COLUMN:
            return
        order = self.window.model.order  # the waveform sorts nothing: the arrow stays where the sort is
        header = self.window.table.horizontalHeader()
        column = COLUMN_NAMES.index(order.column) if order.column in COLUMN_NAMES else 0
        blocker = header.blockSignals(True)
        header.setSortIndicator(
            column, Qt.SortOrder.DescendingOrder if order.descending else Qt.SortOrder.AscendingOrder
        )
        header.blockSignals(blocker)

    def _on_key_actions_triggered(self, action) -> None:
        self.panel.set_key_notation(KeyNotation(action.data()))
