"""Rename / Move Files: a template, a live preview of old -> new for the whole selection, then the batch.

The preview model serves rows on demand from the plan's tuples (moves, failures, unchanged): opening
100,000 rows costs nothing per row, and a row is only formatted when the view paints it.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSettings,
    Qt,
)
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.errors import TemplateError
from crate_app.domain.keys import KeyNotation
from crate_app.domain.rename import PlannedMove, StepKind
from crate_app.domain.track import display_path
from crate_app.gui.rename_progress import BatchProgressPanel
from crate_app.rename.batch import SIDECAR_EXTENSIONS, RenameRequest
from crate_app.rename.template import FIELD_NAMES, compile_template
from crate_app.services.rename_service import PlanPreview, RenameSelection, RenameService

PRESETS = (
    "{artist} - {title}",
    "{albumartist|artist}/{album}/{track:02} {title}",
    "{camelot} - {bpm:.0f} - {artist} - {title}",
    "{genre|Unsorted}/{artist|Unknown Artist} - {title}",
    "{albumartist|artist|Unknown Artist}/{year|0000} - {album|Singles}/{disc:01}-{track:02} {title}",
)
NOTATION_LABELS = {
    KeyNotation.CAMELOT: "Camelot (8A)",
    KeyNotation.OPEN_KEY: "Open Key (1m)",
    KeyNotation.MUSICAL: "Musical (Am)",
}
_FORMAT_CACHE_ROWS = 4000  # formatted rows kept (a few screens); the rest is formatted again on demand


class PreviewFilter:
    """Which rows the preview shows."""

    ALL = "all"
    CHANGES = "changes"
    COLLISIONS = "collisions"
    PROBLEMS = "problems"
    UNCHANGED = "unchanged"


_FILTER_LABELS = {
    PreviewFilter.ALL: "All files",
    PreviewFilter.CHANGES: "Changes",
    PreviewFilter.COLLISIONS: "Renamed to avoid a collision",
    PreviewFilter.PROBLEMS: "Cannot be renamed",
    PreviewFilter.UNCHANGED: "Unchanged",
}
_FAILURE_COLOUR = QColor("#c62828")
_COLLISION_COLOUR = QColor("#b85c00")
_UNCHANGED_COLOUR = QColor("#808080")


class PreviewModel(QAbstractTableModel):
    """Old path, new path, note: one row per moving file (by new path), file that cannot move, and
    unchanged track.

    Rows are segments over the plan's own tuples (no list of rows is built); ``rows_formatted`` counts
    the rows turned into text so far (tests check that opening a big preview formats none).
    """

    HEADERS = ("Old path", "New path", "Note")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preview: PlanPreview | None = None
        self.filter = PreviewFilter.ALL
        self._segments: list[tuple[str, int]] = []  # (kind, row count)
        self._count = 0
        self._bases: list[str] = []  # folders paths are shown relative to, longest first
        self._texts: dict[int, tuple[str, str, str, str]] = {}
        self.rows_formatted = 0

    # -- content ---------------------------------------------------------------------------------------
    def set_preview(self, preview: PlanPreview | None, bases: Sequence[str] = ()) -> None:
        self.beginResetModel()
        self.preview = preview
        self._bases = sorted((b.rstrip(os.sep) + os.sep for b in bases if b), key=len, reverse=True)
        self._texts.clear()
        self._layout()
        self.endResetModel()

    def set_filter(self, which: str) -> None:
        self.beginResetModel()
        self.filter = which
        self._texts.clear()
        self._layout()
        self.endResetModel()

    def _layout(self) -> None:
        preview = self.preview
        segments: list[tuple[str, int]] = []
        if preview is not None:
            sizes = {
                "move": len(preview.moves),
                "collision": len(preview.conflict_rows),
                "failure": len(preview.failures),
                "unchanged": len(preview.unchanged_paths),
            }
            wanted = {
                PreviewFilter.ALL: ("move", "failure", "unchanged"),
                PreviewFilter.CHANGES: ("move",),
                PreviewFilter.COLLISIONS: ("collision",),
                PreviewFilter.PROBLEMS: ("failure",),
                PreviewFilter.UNCHANGED: ("unchanged",),
            }[self.filter]
            segments = [(kind, sizes[kind]) for kind in wanted if sizes[kind]]
        self._segments = segments
        self._count = sum(size for _, size in segments)

    def _locate(self, row: int) -> tuple[str, int]:
        for kind, size in self._segments:
            if row < size:
                return kind, row
            row -= size
        raise IndexError(row)

    def short(self, path: str) -> str:
        """``path`` relative to the library folder (or destination) it is in, else in full."""
        for base in self._bases:
            if path.startswith(base):
                return path[len(base) :]
        return display_path(path)

    def row_texts(self, row: int) -> tuple[str, str, str, str]:
        """(old, new, note, kind) of ``row``, formatted on first use."""
        texts = self._texts.get(row)
        if texts is not None:
            return texts
        assert self.preview is not None
        kind, index = self._locate(row)
        if kind in ("move", "collision"):
            move = self._move(kind, index)
            note = ""
            if move.renamed_on_collision:
                kind = "collision"
                note = "renamed to avoid a collision"
            elif move.kind is StepKind.SIDECAR:
                note = "sidecar file, moves with its track"
            texts = (self.short(move.src), self.short(move.dst), note, kind)
        elif kind == "failure":
            failure = self.preview.failures[index]
            texts = (self.short(failure.src), "", failure.reason, kind)
        else:
            path = self.preview.unchanged_paths[index]
            texts = (self.short(path), self.short(path), "unchanged (already named so)", kind)
        if len(self._texts) >= _FORMAT_CACHE_ROWS:
            self._texts.clear()
        self._texts[row] = texts
        self.rows_formatted += 1
        return texts

    def _move(self, kind: str, index: int) -> PlannedMove:
        assert self.preview is not None
        order = self.preview.conflict_rows if kind == "collision" else self.preview.move_order
        return self.preview.moves[order[index]]

    def full_paths(self, row: int) -> tuple[str, str]:
        """The full old and new paths of ``row`` (tooltips)."""
        assert self.preview is not None
        kind, index = self._locate(row)
        if kind in ("move", "collision"):
            move = self._move(kind, index)
            return move.src, move.dst
        if kind == "failure":
            return self.preview.failures[index].src, ""
        path = self.preview.unchanged_paths[index]
        return path, path

    # -- Qt model API ------------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < self._count:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.row_texts(index.row())[index.column()]
        if role == Qt.ItemDataRole.ForegroundRole:
            kind = self.row_texts(index.row())[3]
            if kind == "failure":
                return _FAILURE_COLOUR
            if kind == "collision" and index.column() > 0:
                return _COLLISION_COLOUR
            if kind == "unchanged":
                return _UNCHANGED_COLOUR
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            old, new = self.full_paths(index.row())
            if index.column() == 0:
                return display_path(old)
            if index.column() == 1:
                return display_path(new) or None
            note = self.row_texts(index.row())[2]
            return self._note_tooltip(index.row(), note)
        return None

    def _note_tooltip(self, row: int, note: str) -> str | None:
        kind, index = self._locate(row)
        if kind in ("move", "collision"):
            move = self._move(kind, index)
            if move.renamed_on_collision:
                return f"{note}: {display_path(move.wanted)} is taken (by another file or another track)"
        return note or None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


def error_html(template: str, error: TemplateError) -> str:
    """The template with the character at the error's position marked, and the message under it."""
    position = max(0, min(error.position, len(template)))
    before, at, after = template[:position], template[position : position + 1], template[position + 1 :]
    mark = (
        f'<span style="background:#c62828; color:white;">{html.escape(at) if at.strip() else "&nbsp;"}</span>'
    )
    code = f"<code>{html.escape(before)}{mark}{html.escape(after)}</code>"
    return f'{code}<br><span style="color:#c62828;">{html.escape(str(error))}</span>'


class RenameDialog(QDialog):
    """The dialog: template, destination, options, preview with counts, then the batch's progress."""

    def __init__(
        self,
        service: RenameService,
        selection: RenameSelection,
        *,
        roots: Sequence[str] = (),
        key_notation: KeyNotation = KeyNotation.CAMELOT,
        settings_store: QSettings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Rename / Move Files")
        self.resize(1100, 680)
        self.service = service
        self.selection = selection
        self.roots = list(roots)
        self.settings_store = settings_store
        self.destination: str | None = None
        self.preview: PlanPreview | None = None
        self.template_error: TemplateError | None = None
        self._generation = 0

        self.scope_label = QLabel(f"Renaming <b>{html.escape(selection.description)}</b>")
        self.template_edit = QLineEdit()
        self.template_edit.setPlaceholderText("{artist} - {title}")
        self.template_edit.setClearButtonEnabled(True)
        self.template_edit.setFont(_monospace(self.template_edit.font()))
        self.presets_button = QToolButton()
        self.presets_button.setText("Presets")
        self.presets_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        presets = QMenu(self.presets_button)
        for preset in PRESETS:
            presets.addAction(preset).triggered.connect(lambda _=False, p=preset: self.set_template(p))
        self.presets_button.setMenu(presets)
        self.fields_button = QToolButton()
        self.fields_button.setText("Insert Field")
        self.fields_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        fields = QMenu(self.fields_button)
        for name in FIELD_NAMES:
            fields.addAction(f"{{{name}}}").triggered.connect(lambda _=False, n=name: self._insert_field(n))
        self.fields_button.setMenu(fields)
        template_row = QHBoxLayout()
        template_row.addWidget(self.template_edit, 1)
        template_row.addWidget(self.presets_button)
        template_row.addWidget(self.fields_button)
        self.error_label = QLabel("")
        self.error_label.setTextFormat(Qt.TextFormat.RichText)
        self.help_label = QLabel(
            "'/' makes folders. Fallbacks: {albumartist|artist|Unknown Artist}. Formats: {track:02}, "
            "{bpm:.0f}. The file's extension is kept."
        )
        self.help_label.setStyleSheet("color: palette(placeholder-text);")

        self.destination_combo = QComboBox()
        self.destination_combo.addItem("Each file's own library folder", None)
        self.destination_combo.addItem("Choose a folder\u2026", "choose")
        self.destination_combo.activated.connect(self._on_destination_combo_activated)
        self.notation_combo = QComboBox()
        for notation, label in NOTATION_LABELS.items():
            self.notation_combo.addItem(label, notation.value)
        self.notation_combo.setCurrentIndex(list(NOTATION_LABELS).index(key_notation))
        self.notation_combo.setToolTip("How {key} is written ({camelot} is always Camelot)")
        self.notation_combo.currentIndexChanged.connect(self._on_option_changed)
        extensions = "/".join(SIDECAR_EXTENSIONS)
        self.sidecars_check = QCheckBox(f"Carry {extensions} files with the same name")
        self.sidecars_check.toggled.connect(self._on_option_changed)
        self.remove_empty_check = QCheckBox("Remove folders left empty (inside the library folders)")
        self.remove_empty_check.toggled.connect(self._on_option_changed)
        options_row = QHBoxLayout()
        options_row.addWidget(self.sidecars_check)
        options_row.addWidget(self.remove_empty_check)
        options_row.addStretch(1)

        form = QFormLayout()
        form.addRow("Template:", template_row)
        form.addRow("", self.error_label)
        form.addRow("", self.help_label)
        form.addRow("Destination:", self.destination_combo)
        notation_row = QHBoxLayout()
        notation_row.addWidget(self.notation_combo)
        notation_row.addStretch(1)
        form.addRow("Key notation:", notation_row)
        form.addRow("", options_row)

        self.counts_label = QLabel("")
        self.counts_label.setTextFormat(Qt.TextFormat.RichText)
        self.filter_combo = QComboBox()
        for value, label in _FILTER_LABELS.items():
            self.filter_combo.addItem(label, value)
        self.filter_combo.currentIndexChanged.connect(self._on_filter_combo_changed)
        counts_row = QHBoxLayout()
        counts_row.addWidget(self.counts_label, 1)
        counts_row.addWidget(QLabel("Show:"))
        counts_row.addWidget(self.filter_combo)

        self.preview_model = PreviewModel(self)
        self.preview_view = QTableView()
        self.preview_view.setModel(self.preview_model)
        self.preview_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.preview_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview_view.setAlternatingRowColors(True)
        self.preview_view.setShowGrid(False)
        self.preview_view.setWordWrap(False)
        self.preview_view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.preview_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)
        vertical = self.preview_view.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # never measures rows
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.preview_view.horizontalHeader()
        header.setStretchLastSection(True)
        header.resizeSection(0, 400)
        header.resizeSection(1, 440)
        self.bases_label = QLabel(
            "Paths are shown relative to their library folder; hover for the full path."
        )
        self.bases_label.setStyleSheet("color: palette(placeholder-text);")

        self.rename_button = QPushButton("Rename")
        self.rename_button.setAutoDefault(False)  # Return never starts a batch by surprise
        self.rename_button.clicked.connect(self._on_rename_button_clicked)
        self.close_button = QPushButton("Close")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.bases_label, 1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.rename_button)

        setup = QWidget()
        setup_layout = QVBoxLayout(setup)
        setup_layout.setContentsMargins(0, 0, 0, 0)
        setup_layout.addWidget(self.scope_label)
        setup_layout.addLayout(form)
        setup_layout.addLayout(counts_row)
        setup_layout.addWidget(self.preview_view, 1)
        setup_layout.addLayout(buttons)

        self.progress_panel = BatchProgressPanel(service)
        self.done_button = QPushButton("Close")
        self.done_button.clicked.connect(self.reject)
        progress_page = QWidget()
        progress_layout = QVBoxLayout(progress_page)
        progress_layout.setContentsMargins(0, 0, 0, 0)
        progress_layout.addWidget(self.progress_panel, 1)
        self.progress_panel.buttons_layout.addWidget(self.done_button)

        self.pages = QStackedWidget()
        self.pages.addWidget(setup)
        self.pages.addWidget(progress_page)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)

        self.template_edit.textChanged.connect(self._on_template_edit_text_changed)
        self.template_edit.returnPressed.connect(self._on_template_edit_return_pressed)
        service.planning_changed.connect(self._on_service_planning_changed)
        service.plan_ready.connect(self._on_service_plan_ready)
        service.plan_failed.connect(self._on_service_plan_failed)
        service.running_changed.connect(self._on_service_running_changed)
        self.progress_panel.status_changed.connect(self._on_progress_panel_status_changed)
        service.set_selection(selection)

        remembered = settings_store.value("rename/template", "") if settings_store is not None else ""
        self.set_template(str(remembered or PRESETS[0]))

    # -- public API (also what the tests drive) ------------------------------------------------------
    def set_template(self, text: str) -> None:
        self.template_edit.setText(text)
        self.template_edit.setFocus()

    def set_destination(self, folder: str | None) -> None:
        """Put files under ``folder`` (None: each file stays under its own library folder)."""
        self.destination = os.path.abspath(folder) if folder else None
        combo = self.destination_combo
        while combo.count() > 2:
            combo.removeItem(1)
        if self.destination:
            combo.insertItem(1, f"Into {display_path(self.destination)}", self.destination)
            combo.setCurrentIndex(1)
        else:
            combo.setCurrentIndex(0)
        self._replan()

    def request(self) -> RenameRequest:
        return RenameRequest(
            template=self.template_edit.text(),
            destination=self.destination,
            key_notation=KeyNotation(self.notation_combo.currentData()),
            carry_sidecars=self.sidecars_check.isChecked(),
            remove_empty_folders=self.remove_empty_check.isChecked(),
        )

    @property
    def is_up_to_date(self) -> bool:
        """The preview shown is the plan of what the dialog says now."""
        return (
            self.template_error is None
            and self.preview is not None
            and self.preview.generation == self._generation
            and not self.service.is_planning
        )

    def execute(self) -> None:
        """Run the batch of the preview shown (what the Rename button does)."""
        if not self.is_up_to_date or self.preview is None or not self.preview.can_execute:
            return
        if self.settings_store is not None:
            self.settings_store.setValue("rename/template", self.template_edit.text())
        self.pages.setCurrentIndex(1)
        self.progress_panel.execute(self.preview)

    # -- planning --------------------------------------------------------------------------------------
    def _replan(self) -> None:
        text = self.template_edit.text()
        try:
            compile_template(text)
        except TemplateError as error:
            self.template_error = error
            self.error_label.setText(error_html(text, error))
            self.error_label.show()
            self.template_edit.setStyleSheet("QLineEdit { border: 1px solid #c62828; }")
            self.service.cancel_planning()
            self._generation = -1
            self._update_counts()
            return
        self.template_error = None
        self.error_label.clear()
        self.error_label.hide()
        self.template_edit.setStyleSheet("")
        self._generation = self.service.request_plan(self.request())
        self._update_counts()

    def _update_counts(self) -> None:
        preview = self.preview
        if self.template_error is not None:
            status = '<span style="color:#c62828;">fix the template to see the preview</span>'
        elif not self.is_up_to_date:
            status = '<span style="color:palette(placeholder-text);">updating the preview\u2026</span>'
        else:
            status = ""
        parts: list[str] = []
        self.preview_view.setEnabled(self.template_error is None)  # greyed: it is not this template's
        if preview is not None and self.template_error is None:
            plan = preview.plan
            parts.append(f"<b>{preview.changed_tracks:,}</b> to rename")
            if preview.sidecar_files:
                parts.append(f"{preview.sidecar_files:,} sidecar files")
            parts.append(f"{plan.unchanged_count:,} unchanged")
            collision = f"{preview.collision_tracks:,} renamed to avoid a collision"
            parts.append(
                f'<span style="color:#b85c00;">{collision}</span>' if preview.collision_tracks else collision
            )
            failed = f"{len(plan.failures):,} cannot be renamed"
            parts.append(f'<span style="color:#c62828;">{failed}</span>' if plan.failures else failed)
            if plan.empty_fields:
                parts.append(f'<span style="color:#b85c00;">{html.escape(plan.empty_fields_note())}</span>')
            left_out = (self.selection.count or 0) - preview.track_count
            if left_out > 0:
                parts.append(f"{left_out:,} missing files left out")
        text = " \u00b7 ".join(parts)
        self.counts_label.setText(f"{text}&nbsp;&nbsp;{status}" if status else text)
        self.rename_button.setEnabled(
            self.is_up_to_date and preview is not None and preview.can_execute and not self.service.is_running
        )
        if preview is not None and self.is_up_to_date:
            files = preview.changed_tracks
            self.rename_button.setText(f"Rename {files:,} File{'s' if files != 1 else ''}")
        else:
            self.rename_button.setText("Rename")

    # -- slots -------------------------------------------------------------------------------------------
    def _on_template_edit_text_changed(self, _text: str) -> None:
        self._replan()

    def _on_template_edit_return_pressed(self) -> None:
        if self.template_error is not None:
            self.template_edit.setCursorPosition(self.template_error.position)

    def _on_option_changed(self, *_args: object) -> None:
        self._replan()

    def _on_destination_combo_activated(self, index: int) -> None:
        if self.destination_combo.itemData(index) != "choose":
            self.destination = self.destination_combo.itemData(index)
            self._replan()
            return
        start = self.destination or (self.roots[0] if self.roots else "")
        folder = QFileDialog.getExistingDirectory(self, "Move the files into", start)
        if folder:
            self.set_destination(folder)
        else:
            self.set_destination(self.destination)

    def _on_filter_combo_changed(self, _index: int) -> None:
        self.preview_model.set_filter(self.filter_combo.currentData())

    def _on_service_planning_changed(self, _planning: bool) -> None:
        self._update_counts()

    def _on_service_plan_ready(self, preview: PlanPreview) -> None:
        if preview.generation != self._generation:
            return
        self.preview = preview
        bases = [*self.roots, *([preview.request.destination] if preview.request.destination else [])]
        self.preview_model.set_preview(preview, bases)
        self._update_counts()

    def _on_service_running_changed(self, _running: bool) -> None:
        self._update_counts()  # one batch at a time: Rename waits for a running one

    def _on_service_plan_failed(self, message: str) -> None:
        self.counts_label.setText(
            f'<span style="color:#c62828;">Planning failed: {html.escape(message)}</span>'
        )
        self.rename_button.setEnabled(False)

    def _on_rename_button_clicked(self) -> None:
        self.execute()

    def _on_progress_panel_status_changed(self, status: str) -> None:
        self.done_button.setEnabled(status not in ("running", "pausing"))

    # -- closing -------------------------------------------------------------------------------------------
    def reject(self) -> None:  # Qt override: a running batch keeps its controls on screen
        if self.progress_panel.is_busy:
            self.progress_panel.detail_label.setText("Pause or cancel the batch before closing this window.")
            return
        super().reject()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()  # neither closes the dialog nor starts the batch: the buttons do
            return
        super().keyPressEvent(event)

    def done(self, result: int) -> None:  # Qt override
        self.service.end_planning()
        super().done(result)

    def _insert_field(self, name: str) -> None:
        self.template_edit.insert(f"{{{name}}}")
        self.template_edit.setFocus()


def _monospace(font: Any) -> Any:
    font.setStyleHint(font.StyleHint.Monospace)
    font.setFamily("monospace")
    return font


def selection_from_view(view: QTableView, model: Any) -> RenameSelection:
    """The selected rows' track ids, or every shown track (the model's query) if none or all are selected."""
    rows: set[int] = set()
    for selected in view.selectionModel().selection():
        rows.update(range(selected.top(), selected.bottom() + 1))
    total = model.rowCount()
    if not rows or len(rows) >= total:
        what = "selected" if rows else "shown"
        note = "" if rows else " (nothing is selected)"
        description = f"all {total:,} {what} tracks{note}"
        return RenameSelection(query=model.query, description=description, count=total)
    ids = []
    for row in sorted(rows):
        record = model.track_at(row)
        if record is not None:
            ids.append(record.id)
    noun = "track" if len(ids) == 1 else "tracks"
    return RenameSelection(ids=tuple(ids), description=f"{len(ids):,} selected {noun}", count=len(ids))
