"""Progress of a rename batch: bar, counts, rate, ETA, Pause/Resume/Cancel, and the final summary."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.progress import Progress, format_duration
from crate_app.domain.track import display_path
from crate_app.services.rename_service import BatchOutcome, RenameService, progress_text

_MAX_LISTED_ERRORS = 2000


class BatchProgressPanel(QWidget):
    """Follows the batch this panel started (new, resumed or undo) through the service's signals.

    ``status`` is "" before anything ran, then running, pausing, paused, done, cancelled or failed.
    """

    status_changed = Signal(str)

    def __init__(self, service: RenameService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.batch_id: int | None = None
        self.kind = "rename"
        self.status = ""
        self.outcome: BatchOutcome | None = None
        self._active = False  # this panel started the running batch

        self.title_label = QLabel("")
        self.title_label.setStyleSheet("font-weight: 600;")
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.detail_label = QLabel("")
        self.current_label = QLabel("")
        self.current_label.setStyleSheet("color: palette(placeholder-text);")
        self.current_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.errors_view = QPlainTextEdit()
        self.errors_view.setReadOnly(True)
        self.errors_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.errors_view.hide()
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self._on_pause_button_clicked)
        self.cancel_button = QPushButton("Cancel Batch")
        self.cancel_button.setToolTip("Stop at a safe point; files already renamed stay renamed (undoable)")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.undo_button = QPushButton("Undo This Batch")
        self.undo_button.setToolTip("Move every file this batch renamed back to where it was")
        self.undo_button.clicked.connect(self._on_undo_button_clicked)
        self.undo_button.hide()

        self.buttons_layout = QHBoxLayout()  # the owner may add its own buttons (Close)
        self.buttons_layout.addStretch(1)
        self.buttons_layout.addWidget(self.undo_button)
        self.buttons_layout.addWidget(self.pause_button)
        self.buttons_layout.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.title_label, self.progress_bar, self.detail_label, self.current_label):
            widget.setSizePolicy(widget.sizePolicy().horizontalPolicy(), QSizePolicy.Policy.Fixed)
            layout.addWidget(widget)
        self.summary_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout.addSpacing(6)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.errors_view, 3)
        layout.addStretch(1)
        layout.addLayout(self.buttons_layout)
        self._last_progress: Progress | None = None

        service.batch_started.connect(self._on_service_batch_started)
        service.batch_progress.connect(self._on_service_batch_progress)
        service.batch_pausing.connect(self._on_service_batch_pausing)
        service.batch_ended.connect(self._on_service_batch_ended)
        self._update_buttons()

    # -- commands --------------------------------------------------------------------------------------
    def execute(self, preview: object) -> None:
        """Run a planned batch (a ``PlanPreview``)."""
        self._begin("rename", None, "Renaming files\u2026")
        self.service.execute(preview)  # type: ignore[arg-type]

    def resume(self, batch_id: int, kind: str = "rename") -> None:
        self._begin(kind, batch_id, f"{'Undoing' if kind == 'undo' else 'Renaming'}: batch {batch_id}\u2026")
        self.service.resume(batch_id)

    def undo(self, batch_id: int) -> None:
        self._begin("undo", None, f"Undoing batch {batch_id}\u2026")
        self.service.undo(batch_id)

    def pause(self) -> None:
        if self.status == "running":
            self.service.pause()

    def cancel(self) -> None:
        if self.status in ("running", "pausing"):
            self.service.cancel()
        elif self.status == "paused" and self.batch_id is not None:
            self._active = True
            self.service.cancel(self.batch_id)

    @property
    def is_busy(self) -> bool:
        return self.status in ("running", "pausing")

    # -- internals -------------------------------------------------------------------------------------
    def _begin(self, kind: str, batch_id: int | None, title: str) -> None:
        self._active = True
        self.kind, self.batch_id, self.outcome = kind, batch_id, None
        self._last_progress = None
        self.title_label.setText(title)
        self.progress_bar.setRange(0, 0)
        self.detail_label.setText("Writing the journal\u2026" if batch_id is None else "Starting\u2026")
        self.current_label.clear()
        self.summary_label.clear()
        self.errors_view.clear()
        self.errors_view.hide()
        self._set_status("running")

    def _set_status(self, status: str) -> None:
        self.status = status
        self._update_buttons()
        self.status_changed.emit(status)

    def _update_buttons(self) -> None:
        running = self.status == "running"
        self.pause_button.setText("Resume" if self.status == "paused" else "Pause")
        self.pause_button.setEnabled(running or self.status == "paused")
        self.pause_button.setVisible(self.status in ("running", "pausing", "paused"))
        self.cancel_button.setEnabled(running or self.status in ("paused", "pausing"))
        self.cancel_button.setVisible(self.status in ("running", "pausing", "paused"))
        can_undo = (
            self.kind == "rename"
            and self.status in ("done", "cancelled")
            and self.outcome is not None
            and bool(self.outcome.moved_ids)
        )
        self.undo_button.setVisible(can_undo)

    def _on_pause_button_clicked(self) -> None:
        if self.status == "paused" and self.batch_id is not None:
            self.resume(self.batch_id, self.kind)
        else:
            self.pause()

    def _on_cancel_button_clicked(self) -> None:
        self.cancel()

    def _on_undo_button_clicked(self) -> None:
        if self.batch_id is not None:
            self.undo(self.batch_id)

    def _on_service_batch_started(self, batch_id: int, kind: str) -> None:
        if self._active:
            self.batch_id, self.kind = batch_id, kind
            verb = "Undoing" if kind == "undo" else "Renaming"
            self.title_label.setText(f"{verb} files (batch {batch_id})\u2026")

    def _on_service_batch_progress(self, progress: Progress) -> None:
        if not self._active:
            return
        self._last_progress = progress
        if progress.total:
            self.progress_bar.setRange(0, progress.total)
            self.progress_bar.setValue(min(progress.done, progress.total))
        self.detail_label.setText(progress_text(self.kind, progress))
        path = display_path(progress.current)
        width = max(120, self.current_label.width())
        self.current_label.setText(
            self.current_label.fontMetrics().elidedText(path, Qt.TextElideMode.ElideMiddle, width)
        )
        self.current_label.setToolTip(path)

    def _on_service_batch_pausing(self) -> None:
        if self._active and self.status == "running":
            self.detail_label.setText(self.detail_label.text() + "  \u00b7  stopping at a safe point\u2026")
            self._set_status("pausing")

    def _on_service_batch_ended(self, outcome: BatchOutcome) -> None:
        if not self._active:
            return
        self._active = False
        self.outcome = outcome
        if outcome.batch_id is not None:
            self.batch_id = outcome.batch_id
        self.current_label.clear()
        if self._last_progress is not None:  # the final figures, without an ETA
            self.detail_label.setText(progress_text(outcome.kind, replace(self._last_progress, eta=None)))
        self.summary_label.setText(self._summary(outcome))
        lines = [f"{display_path(path)}\n    {reason}" for path, reason in self._errors(outcome)]
        if lines:
            self.errors_view.setPlainText("\n".join(lines[:_MAX_LISTED_ERRORS]))
            self.errors_view.show()
        if outcome.status == "done":
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(1)
        elif self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
        titles = {
            "done": "Undo finished" if outcome.kind == "undo" else "Rename finished",
            "paused": "Paused",
            "cancelled": "Cancelled",
            "failed": "The batch stopped",
        }
        self.title_label.setText(f"{titles.get(outcome.status, outcome.status)} (batch {self.batch_id})")
        self._set_status(outcome.status)

    def _errors(self, outcome: BatchOutcome) -> list[tuple[str, str]]:
        errors = [(f.src, f"not renamed: {f.reason}") for f in outcome.plan_failures]
        if outcome.result is not None:
            errors.extend(outcome.result.errors)
        return errors

    def _summary(self, outcome: BatchOutcome) -> str:
        result = outcome.result
        if outcome.status == "failed":
            return (
                f"{outcome.message}\n\nNothing is lost: the batch is kept in the journal and can be "
                "resumed or undone from Rename History."
            )
        if result is None:
            return "The rest of the batch was cancelled; files already moved stay where they are."
        verb = "moved back" if outcome.kind == "undo" else "renamed"
        parts = [f"{result.moved:,} files {verb}"]
        if result.sidecars:
            parts.append(f"{result.sidecars:,} sidecar files carried along")
        if result.skipped and outcome.kind != "undo":
            parts.append(f"{result.skipped:,} already named so")
        failed = result.failed + len(outcome.plan_failures)
        if failed:
            parts.append(f"{failed:,} could not be {verb} (listed below)")
        took = f"{result.seconds:.1f} s" if result.seconds < 60 else format_duration(result.seconds)
        text = ", ".join(parts) + f" in {took}."
        if outcome.status == "done" and outcome.kind == "rename" and result.moved:
            text += " Undo This Batch moves them back; every batch stays in Rename History."
        elif outcome.status == "paused":
            text += " Paused at a safe point: Resume continues (also after a restart, from Rename History)."
        elif outcome.status == "cancelled":
            text += " The rest of the batch was cancelled; what was renamed can be undone."
        return text


class BatchProgressDialog(QDialog):
    """A small window for a resumed or undone batch (from the start-up offer or the history)."""

    def __init__(self, service: RenameService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Rename Batch")
        self.setMinimumWidth(560)
        self.panel = BatchProgressPanel(service, self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel, 1)
        layout.addWidget(self.buttons)
        self.panel.status_changed.connect(self._on_panel_status_changed)

    def reject(self) -> None:  # Qt override: never leave a batch running without its controls
        if self.panel.is_busy:
            self.panel.detail_label.setText("Pause or cancel the batch before closing this window.")
            return
        super().reject()

    def _on_panel_status_changed(self, status: str) -> None:
        close = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setEnabled(status not in ("running", "pausing"))
