"""Find Moved Files in Folder…: missing tracks matched to files by content; the ones with several
candidates are for the user to choose (or leave missing), never guessed."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.track import display_path
from crate_app.hygiene.relink import RelinkPlan
from crate_app.services.hygiene_service import HygieneService

LEAVE_MISSING = "(leave missing)"


class RelinkDialog(QDialog):
    """Shows a relink plan; Relink applies the sure matches and the user's choices in one transaction."""

    def __init__(self, service: HygieneService, folder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Find Moved Files")
        self.resize(1000, 480)
        self.service = service
        self.plan: RelinkPlan | None = None
        self.summary = QLabel(f"Looking for the missing tracks' files in {display_path(folder)}\u2026", self)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["Missing track", "Found at"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.relink_button = self.buttons.addButton("Relink", QDialogButtonBox.ButtonRole.AcceptRole)
        self.relink_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)
        self.buttons.rejected.connect(self._on_buttons_rejected)
        self.relink_button.clicked.connect(self._on_relink_button_clicked)
        self.service.relink_planned.connect(self._on_service_relink_planned)
        self.service.relinked.connect(self._on_service_relinked)
        self.service.failed.connect(self.summary.setText)
        self.service.plan_relink(folder)

    def show_plan(self, plan: RelinkPlan) -> None:
        self.plan = plan
        rows = len(plan.relinked) + len(plan.ambiguous)
        self.table.setRowCount(rows)
        for row, (_id, old, new) in enumerate(plan.relinked):
            self.table.setItem(row, 0, QTableWidgetItem(display_path(old)))
            self.table.setItem(row, 1, QTableWidgetItem(display_path(new)))
        for offset, (_id, old, candidates) in enumerate(plan.ambiguous):
            row = len(plan.relinked) + offset
            self.table.setItem(row, 0, QTableWidgetItem(display_path(old)))
            choice = QComboBox(self.table)
            choice.addItem(LEAVE_MISSING, None)
            for candidate in candidates:
                choice.addItem(display_path(candidate), candidate)
            self.table.setCellWidget(row, 1, choice)
        self.summary.setText(
            f"{len(plan.relinked):,} found, {len(plan.ambiguous):,} with several candidates (choose below), "
            f"{len(plan.not_found):,} not found ({plan.seconds:.1f} s)."
        )
        self.relink_button.setEnabled(rows > 0)

    def chosen_moves(self) -> list[tuple[int, str, str]]:
        """The sure matches, and the candidates the user chose for the ambiguous tracks."""
        if self.plan is None:
            return []
        moves = list(self.plan.relinked)
        for offset, (track_id, old, _candidates) in enumerate(self.plan.ambiguous):
            widget = self.table.cellWidget(len(self.plan.relinked) + offset, 1)
            if isinstance(widget, QComboBox) and widget.currentData() is not None:
                moves.append((track_id, old, widget.currentData()))
        return moves

    def _on_service_relink_planned(self, plan: object) -> None:
        self.show_plan(plan)  # type: ignore[arg-type]

    def _on_relink_button_clicked(self) -> None:
        moves = self.chosen_moves()
        targets = [new for _i, _o, new in moves]
        if len(set(targets)) != len(targets):
            self.summary.setText("Two tracks cannot have one file: choose different files.")
            return
        self.relink_button.setEnabled(False)
        self.service.apply_relink(moves)

    def _on_service_relinked(self, count: int) -> None:
        self.summary.setText(f"{count:,} track(s) relinked.")
        self.accept()

    def _on_buttons_rejected(self) -> None:
        self.service.cancel()
        self.reject()
