"""The Problems dialog: files that could not be read (with the reason) and files that have gone missing."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.track import TrackStatus, display_path
from crate_app.store.library import Library

_KIND = {TrackStatus.MISSING.value: "Missing", TrackStatus.ERROR.value: "Unreadable"}


def problem_rows(library: Library, limit: int = 10_000) -> list[tuple[str, str, str]]:
    """(kind, path, reason) for tracks with a problem and for folders/files that could not be read."""
    rows = [
        (_KIND.get(track.status, track.status), display_path(track.path), track.error or "file not found")
        for track in library.problems(limit)
    ]
    rows += [("Not scanned", display_path(path), reason) for path, reason in library.scan_errors()]
    rows += [
        ("Not analysed", display_path(track.path), track.analysis_error or "")
        for track in library.analysis_failures(limit)
    ]
    return rows


class ProblemsDialog(QDialog):
    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Problems")
        self.resize(900, 420)
        rows = problem_rows(library)
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Problem", "Path", "Reason"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        summary = QLabel(
            "No problems: every file in the library could be read." if not rows
            else f"{len(rows):,} file(s) or folder(s) with a problem."
        )  # fmt: skip
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
