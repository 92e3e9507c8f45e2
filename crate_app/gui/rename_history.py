"""Rename History (past batches: resume, undo) and the start-up question about an interrupted batch."""

from __future__ import annotations

import datetime
from collections.abc import Collection

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crate_app.gui.rename_progress import BatchProgressDialog, BatchProgressPanel
from crate_app.services.rename_service import BatchOutcome, RenameService
from crate_app.store.journal import UNFINISHED_STATUSES, BatchInfo

_UNDOABLE_STATUSES = ("done", "cancelled", *UNFINISHED_STATUSES)


def status_text(info: BatchInfo, running_batch: int | None = None, elsewhere: Collection[int] = ()) -> str:
    """The status in words: a batch marked running that no job runs was interrupted (crash, kill);
    ``elsewhere``: batches another Crate process (window, crate-cli) is running now."""
    if info.id in elsewhere:
        return "running in another Crate window or crate-cli"
    if info.status in ("running", "pending") and info.id != running_batch:
        return "interrupted"
    return info.status


def can_resume(info: BatchInfo, running_batch: int | None = None, elsewhere: Collection[int] = ()) -> bool:
    return info.status in UNFINISHED_STATUSES and info.id != running_batch and info.id not in elsewhere


def can_undo(info: BatchInfo, running_batch: int | None = None, elsewhere: Collection[int] = ()) -> bool:
    """Rename batches that moved something and are not running (finished, cancelled or interrupted)."""
    return (
        info.kind == "rename"
        and info.status in _UNDOABLE_STATUSES
        and info.done > 0
        and info.id != running_batch
        and info.id not in elsewhere
    )


class RenameHistoryDialog(QDialog):
    """The latest batches with their status and counts; Resume and Undo run with progress below."""

    COLUMNS = ("Batch", "Started", "Kind", "Status", "Done", "Failed", "Left", "Description")

    def __init__(self, service: RenameService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.elsewhere: frozenset[int] = frozenset()  # batches another Crate process is running
        self.setWindowTitle("Rename History")
        self.resize(980, 520)
        self.service = service
        self.batches: list[BatchInfo] = []

        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_table_item_selection_changed)
        self.empty_label = QLabel("No rename batches yet.")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Finish a paused or interrupted batch")
        self.resume_button.clicked.connect(self._on_resume_button_clicked)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Move the files this batch renamed back (itself resumable)")
        self.undo_button.clicked.connect(self._on_undo_button_clicked)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.close_button)

        self.panel = BatchProgressPanel(service, self)
        self.panel.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.panel, 1)
        layout.addLayout(buttons)

        service.batch_ended.connect(self._on_service_batch_ended)
        service.running_changed.connect(self._on_service_running_changed)
        self.reload()

    # -- public API ----------------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the batches again, keeping the selected one selected."""
        selected = self.selected_batch()
        self.batches = self.service.batches()
        running = self.service.current_batch
        self.elsewhere = self.service.running_elsewhere(self.batches)
        self.table.setRowCount(len(self.batches))
        for row, info in enumerate(self.batches):
            started = datetime.datetime.fromtimestamp(info.created_at).strftime("%Y-%m-%d %H:%M")
            values = (
                str(info.id),
                started,
                info.kind,
                status_text(info, running, self.elsewhere),
                f"{info.done:,} / {info.total:,}",
                f"{info.failed:,}" if info.failed else "",
                f"{info.pending:,}" if info.pending else "",
                info.description,
            )
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if column in (0, 4, 5, 6):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 7:
                    item.setToolTip(value)
                self.table.setItem(row, column, item)
        self.empty_label.setVisible(not self.batches)
        self.table.setVisible(bool(self.batches))
        if selected is not None:
            self.select_batch(selected.id)
        elif self.batches:
            self.table.selectRow(0)
        self._update_buttons()

    def selected_batch(self) -> BatchInfo | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or not 0 <= rows[0].row() < len(self.batches):
            return None
        return self.batches[rows[0].row()]

    def select_batch(self, batch_id: int) -> bool:
        for row, info in enumerate(self.batches):
            if info.id == batch_id:
                self.table.selectRow(row)
                return True
        return False

    def resume_selected(self) -> None:
        info = self.selected_batch()
        if (
            info is not None
            and can_resume(info, self.service.current_batch, self.elsewhere)
            and not self.service.is_running
        ):
            self.panel.show()
            self.panel.resume(info.id, info.kind)
            self._update_buttons()

    def undo_selected(self) -> None:
        info = self.selected_batch()
        if (
            info is not None
            and can_undo(info, self.service.current_batch, self.elsewhere)
            and not self.service.is_running
        ):
            self.panel.show()
            self.panel.undo(info.id)
            self._update_buttons()

    # -- slots ---------------------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        info = self.selected_batch()
        running = self.service.current_batch
        idle = not self.service.is_running
        self.resume_button.setEnabled(idle and info is not None and can_resume(info, running, self.elsewhere))
        self.undo_button.setEnabled(idle and info is not None and can_undo(info, running, self.elsewhere))
        self.close_button.setEnabled(not self.panel.is_busy)

    def _on_table_item_selection_changed(self) -> None:
        self._update_buttons()

    def _on_resume_button_clicked(self) -> None:
        self.resume_selected()

    def _on_undo_button_clicked(self) -> None:
        self.undo_selected()

    def _on_service_batch_ended(self, _outcome: BatchOutcome) -> None:
        self.reload()

    def _on_service_running_changed(self, _running: bool) -> None:
        self.reload()

    def reject(self) -> None:  # Qt override: a running batch keeps its controls on screen
        if self.panel.is_busy:
            self.panel.detail_label.setText("Pause or cancel the batch before closing this window.")
            return
        super().reject()


class UnfinishedBatchQuestion(QMessageBox):
    """'A rename batch was interrupted (N of M files left)': Resume / Undo What Was Done / Later.

    Not modal to the application: ``open()`` shows it without blocking, and ``answer(choice)`` gives
    the answer programmatically ("resume", "undo", "later"), as clicking its buttons does.
    """

    answered = Signal(str, int)  # choice, batch id

    def __init__(self, info: BatchInfo, others: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle("Unfinished rename batch")
        what = "paused" if info.status == "paused" else "interrupted"
        noun = "an undo" if info.kind == "undo" else "a rename batch"
        self.setText(
            f"{noun[0].upper()}{noun[1:]} was {what} ({info.pending:,} of {info.total:,} files left)."
        )
        details = [f"Batch {info.id}: {info.description}"]
        if info.failed:
            details.append(f"{info.failed:,} files could not be moved.")
        details.append(
            "Resume it to finish, or undo to move back what was done. Later keeps it in Rename History."
        )
        if others:
            details.append(f"{others} more unfinished batch{'es' if others > 1 else ''} in Rename History.")
        self.setInformativeText("\n".join(details))
        self.resume_button = self.addButton("Resume", QMessageBox.ButtonRole.AcceptRole)
        self.undo_button = self.addButton("Undo What Was Done", QMessageBox.ButtonRole.DestructiveRole)
        self.later_button = self.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        self.undo_button.setEnabled(info.kind == "rename" and info.done > 0)
        self.setDefaultButton(self.resume_button)
        self.setEscapeButton(self.later_button)
        self.buttonClicked.connect(self._on_button_clicked)

    def answer(self, choice: str) -> None:
        button = {"resume": self.resume_button, "undo": self.undo_button, "later": self.later_button}[choice]
        button.click()

    def _on_button_clicked(self, button: object) -> None:
        if button is self.resume_button:
            choice = "resume"
        elif button is self.undo_button:
            choice = "undo"
        else:
            choice = "later"
        self.answered.emit(choice, self.info.id)


def ask_about_unfinished(service: RenameService, parent: QWidget) -> UnfinishedBatchQuestion | None:
    """If a batch was left unfinished, open the question (non-blocking) and return it; else None."""
    if service.is_running:
        return None
    unfinished = service.unfinished_batches()
    if not unfinished:
        return None
    question = UnfinishedBatchQuestion(unfinished[-1], len(unfinished) - 1, parent)
    question.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    question.open()
    return question


def run_answer(
    service: RenameService, choice: str, batch_id: int, parent: QWidget
) -> BatchProgressDialog | None:
    """Carry out an answer to the question: resume the batch or undo it, in a progress window."""
    info = service.batch_info(batch_id)
    if choice == "later" or info is None or service.is_running:
        return None
    dialog = BatchProgressDialog(service, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if choice == "resume":
        dialog.panel.resume(batch_id, info.kind)
    else:
        dialog.panel.undo(batch_id)
    dialog.show()
    return dialog
