"""BPM and key analysis in the window: the Analysis menu, the progress panel and what ties them to the
service, the table and the settings.

The window creates one ``AnalysisController`` and puts its ``panel`` under the table.  The panel shows
done/total, rate, time left, the file being analysed, failures, and Pause/Resume and Cancel; it hides
itself a while after a batch ends.  "Analyze All Unanalyzed" is remembered in the settings until it ends
or is cancelled, so quitting mid-batch and starting again continues with what is left.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.progress import Progress, format_duration
from crate_app.domain.track import AnalysisOptions, display_path
from crate_app.gui.settings import AnalysisPreferences, load_analysis_preferences, save_analysis_preferences
from crate_app.gui.track_model import TrackTableModel
from crate_app.services.analysis_service import AnalysisService, AnalysisSummary
from crate_app.store.library import Library

RESUME_KEY = "analysis/unfinished_all"  # an "analyse all" was running when Crate last quit
HIDE_AFTER_MS = 20_000  # the panel stays this long after a batch with nothing to look at


class AnalysisPanel(QWidget):
    """Progress of the running analysis: a bar, figures, the current file, Pause/Resume and Cancel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("analysis_panel")
        self.title = QLabel("Analysing BPM and key")
        self.title.setStyleSheet("font-weight: 600;")
        self.figures = QLabel("")
        self.current = QLabel("")
        self.current.setStyleSheet("color: palette(placeholder-text);")
        self.current.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setMinimumWidth(260)
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.problems_button = QPushButton("Show Failures\u2026")
        self.retry_button = QPushButton("Retry")  # when the analysis processes could not start
        self.close_button = QPushButton("Close")
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.bar, 1)
        top.addWidget(self.pause_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.problems_button)
        top.addWidget(self.retry_button)
        top.addWidget(self.close_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.figures)
        bottom.addSpacing(24)
        bottom.addWidget(self.current, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 4, 2, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(bottom)
        self.close_button.clicked.connect(self.hide)
        self.show_idle()

    def show_preparing(self, text: str) -> None:
        self.title.setText(text)
        self.bar.setRange(0, 0)
        self.figures.setText("Analysis starts as soon as the audio libraries are loaded.")
        self.current.setText("")
        self.retry_button.hide()
        self.set_running(True)

    def show_warm_up_failed(self, reason: str, waiting: bool) -> None:
        """The analysis processes could not start: why, and Retry (``waiting``: requests are kept)."""
        self.title.setText("Analysis could not start")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.figures.setText(reason)
        self.current.setText("Your analysis requests are kept: Retry runs them." if waiting else "")
        self.problems_button.hide()
        self.set_running(False)
        self.retry_button.show()

    def show_progress(self, progress: Progress, paused: bool) -> None:
        self.title.setText("Analysis paused" if paused else "Analysing BPM and key")
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
        else:
            self.bar.setRange(0, 0)
        parts = [f"{progress.done:,} of {progress.total or 0:,} tracks"]
        if progress.rate > 0 and not paused:
            parts.append(f"{progress.rate * 60:,.0f} tracks/min")
            if progress.eta is not None:
                parts.append(f"{format_duration(progress.eta)} left")
        if progress.failed:
            parts.append(f"{progress.failed:,} failed")
        self.figures.setText("  \u00b7  ".join(parts))
        self.current.setText(
            f"Now: {display_path(progress.current)}" if progress.current and not paused else ""
        )
        self.problems_button.setVisible(progress.failed > 0)
        self.set_running(True)

    def show_paused(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self.title.setText("Analysis paused")
            self.current.setText("")

    def show_summary(self, summary: AnalysisSummary) -> None:
        verb = "Analysis cancelled" if summary.cancelled else "Analysis finished"
        self.title.setText(verb)
        self.bar.setRange(0, max(1, summary.total))
        self.bar.setValue(summary.analyzed + summary.failed)
        parts = [f"{summary.analyzed:,} analysed in {format_duration(summary.seconds)}"]
        if summary.failed:
            parts.append(f"{summary.failed:,} failed")
        if summary.tags_written:
            parts.append(f"tags written to {summary.tags_written:,} files")
        if summary.tag_errors:
            parts.append(f"{len(summary.tag_errors):,} files could not be tagged")
        if summary.stopped_reason:
            parts.append(summary.stopped_reason)
        self.figures.setText("  \u00b7  ".join(parts))
        self.current.setText(
            f"Not tagged: {summary.tag_errors[0][0]}: {summary.tag_errors[0][1]}"
            if summary.tag_errors
            else ""
        )
        self.problems_button.setVisible(summary.failed > 0)
        self.set_running(False)

    def show_idle(self) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.problems_button.hide()
        self.retry_button.hide()
        self.set_running(False)

    def set_running(self, running: bool) -> None:
        """Pause and Cancel while a batch runs, Close afterwards."""
        self.pause_button.setVisible(running)
        self.cancel_button.setVisible(running)
        self.close_button.setVisible(not running)
        if not running:
            self.pause_button.setText("Pause")


class AnalysisController(QObject):
    """The Analysis menu, the panel and the service, for one window (see the module docstring)."""

    def __init__(
        self,
        window: QMainWindow,
        library: Library,
        model: TrackTableModel,
        table: QTableView,
        settings_store: QSettings,
        service: AnalysisService | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.model = model
        self.table = table
        self.settings_store = settings_store
        self.preferences = load_analysis_preferences(settings_store)
        self.service = service or AnalysisService(library, self._worker_count(), self)
        self.panel = AnalysisPanel(window)
        self.panel.hide()
        self.status_label = QLabel("")  # "Preparing analysis..." in the status bar, before any batch
        self.status_label.hide()
        window.statusBar().addPermanentWidget(self.status_label)
        self._closing = False
        self._last_progress: Progress | None = None
        self._hide_timer = QTimer(self)
        self._hide_timer.setSingleShot(True)
        self._hide_timer.setInterval(HIDE_AFTER_MS)
        self._hide_timer.timeout.connect(self._on_hide_timer_timeout)
        self._build_menu(window)

        self.panel.pause_button.clicked.connect(self._on_pause_button_clicked)
        self.panel.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.panel.problems_button.clicked.connect(self._on_problems_button_clicked)
        self.panel.retry_button.clicked.connect(self._on_retry_button_clicked)
        self.service.warm_up_changed.connect(self._on_service_warm_up_changed)
        self.service.started.connect(self._on_service_started)
        self.service.progress.connect(self._on_service_progress)
        self.service.tracks_saved.connect(self._on_service_tracks_saved)
        self.service.finished.connect(self._on_service_finished)
        self.service.failed.connect(self._on_service_failed)
        self.service.paused_changed.connect(self._on_service_paused_changed)
        self.service.running_changed.connect(self._on_service_running_changed)

    def _build_menu(self, window: QMainWindow) -> None:
        menu = window.menuBar().addMenu("&Analysis")
        self.analyze_selected_action = self._action(
            menu, "Analyze &Selected", "Ctrl+B", self.analyze_selected
        )
        self.analyze_all_action = self._action(
            menu, "Analyze &All Unanalyzed", "Ctrl+Shift+B", self.analyze_all_unanalyzed
        )
        menu.addSeparator()
        self.pause_action = self._action(menu, "&Pause Analysis", "", self.toggle_pause)
        self.cancel_action = self._action(menu, "&Cancel Analysis", "", self.cancel)
        menu.addSeparator()
        self.write_tags_action = menu.addAction("&Write BPM and Key into File Tags")
        self.write_tags_action.setCheckable(True)
        self.write_tags_action.setChecked(self.preferences.write_tags)
        self.write_tags_action.toggled.connect(self._on_write_tags_action_toggled)
        self._action(menu, "Analysis &Preferences\u2026", "", self.show_preferences)
        self.pause_action.setEnabled(False)
        self.cancel_action.setEnabled(False)

    def _action(self, menu, text: str, shortcut: str, slot) -> QAction:
        action = menu.addAction(text)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.window.addAction(action)
        return action

    # -- commands ---------------------------------------------------------------------------------------
    def start_background_work(self) -> None:
        """Right after the window shows: prepare the analysis libraries, and continue an "analyse all"
        that was running when Crate last quit."""
        self.service.warm_up()
        if str(self.settings_store.value(RESUME_KEY, "false")).lower() == "true":
            self._apply_preferences()
            self.service.analyze_query(None)

    def analyze_selected(self) -> None:
        """Analyse the selected tracks again (even those analysed before)."""
        selection = self.table.selectionModel()
        rows = sorted({index.row() for index in selection.selectedRows()}) if selection is not None else []
        if not rows:
            self.window.statusBar().showMessage("Select tracks to analyse first.", 4000)
            return
        self._apply_preferences()
        if len(rows) == self.model.rowCount():  # everything shown: let the store list them
            self.service.analyze_query(self.model.query, force=True)
            return
        ids = [track.id for row in rows if (track := self.model.track_at(row)) is not None]
        self.service.analyze_ids(ids, force=True)

    def analyze_all_unanalyzed(self) -> None:
        """Analyse every readable track not analysed (or failed) yet; continued after a restart."""
        self.settings_store.setValue(RESUME_KEY, "true")
        self.settings_store.sync()
        self._apply_preferences()
        self.service.analyze_query(None)

    def toggle_pause(self) -> None:
        if self.service.is_paused:
            self.service.resume()
        else:
            self.service.pause()

    def cancel(self) -> None:
        """Stop the batch (results so far are kept); an "analyse all" is not continued at the next start."""
        self._forget_unfinished()
        self.service.cancel()
        self.panel.title.setText("Cancelling\u2026")

    def show_preferences(self) -> None:
        from crate_app.gui.preferences import AnalysisPreferencesDialog

        dialog = AnalysisPreferencesDialog(self.preferences, self.window)
        if dialog.exec():
            self.set_preferences(dialog.preferences())

    def set_preferences(self, preferences: AnalysisPreferences) -> None:
        """Use and remember new preferences (a running batch keeps the ones it started with)."""
        self.preferences = preferences
        save_analysis_preferences(self.settings_store, preferences)
        if self.write_tags_action.isChecked() != preferences.write_tags:
            self.write_tags_action.setChecked(preferences.write_tags)

    def set_library(self, library: Library) -> None:
        """Switch libraries: the running batch stops (an "analyse all" continues in the new one later)."""
        self.service.set_library(library)

    def shutdown(self) -> bool:
        """Stop the batch before quitting (an "analyse all" continues at the next start).  False if a
        thread stuck in a file could not be stopped in time."""
        self._closing = True
        self._hide_timer.stop()
        return self.service.shutdown(5000)

    # -- internals --------------------------------------------------------------------------------------
    def _worker_count(self) -> int:
        return self.preferences.workers or os.cpu_count() or 1

    def _apply_preferences(self) -> None:
        preferences = self.preferences
        self.service.options = AnalysisOptions(bpm_min=preferences.bpm_min, bpm_max=preferences.bpm_max)
        self.service.write_tags = preferences.write_tags
        self.service.tag_notation = self.model.key_notation
        if not self.service.is_running:
            self.service.workers = self._worker_count()

    def _forget_unfinished(self) -> None:
        self.settings_store.remove(RESUME_KEY)
        self.settings_store.sync()

    # -- slots ------------------------------------------------------------------------------------------
    def _on_write_tags_action_toggled(self, checked: bool) -> None:
        if checked != self.preferences.write_tags:
            prefs = self.preferences
            self.set_preferences(AnalysisPreferences(checked, prefs.bpm_min, prefs.bpm_max, prefs.workers))

    def _on_service_warm_up_changed(self, text: str) -> None:
        if self.service.warm_up_failed:
            self.status_label.hide()
            self._hide_timer.stop()
            reason = self.service.warm_up_state.error or text
            self.panel.show_warm_up_failed(
                reason[:1].upper() + reason[1:], waiting=self.service.has_held_requests
            )
            self.panel.show()
            return
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text) and not self.service.is_running)
        if self.service.is_running:
            if text:
                self.panel.show_preparing(text)
            else:
                self.panel.show_progress(self._last_progress or Progress(0, None, 0.0, None), False)

    def _on_service_started(self) -> None:
        self._hide_timer.stop()
        self._last_progress = None
        self.status_label.hide()
        if self.service.is_ready:
            self.panel.show_progress(Progress(0, None, 0.0, None), self.service.is_paused)
        else:
            self.panel.show_preparing(self.service.warm_up_text() or "Preparing analysis\u2026")
        self.panel.show()

    def _on_service_progress(self, progress: Progress) -> None:
        self._last_progress = progress
        if self.service.is_ready:
            self.panel.show_progress(progress, self.service.is_paused)

    def _on_service_tracks_saved(self, ids: list) -> None:
        self.model.refresh_tracks(ids)

    def _on_service_finished(self, summary: AnalysisSummary) -> None:
        if not self._closing:
            if not summary.cancelled and not summary.stopped_reason:
                self._forget_unfinished()
            self.panel.show_summary(summary)
            if self.model.order.column in ("bpm", "key") or self.model.query is not None:
                self.model.refresh()  # rows may now sort or filter differently
            if not summary.failed and not summary.tag_errors:
                self._hide_timer.start()

    def _on_service_failed(self, message: str) -> None:
        self.panel.title.setText("Analysis stopped")
        self.panel.figures.setText(message)
        self.panel.current.setText("")
        self.panel.show()

    def _on_service_paused_changed(self, paused: bool) -> None:
        self.panel.show_paused(paused)
        self.pause_action.setText("&Resume Analysis" if paused else "&Pause Analysis")

    def _on_service_running_changed(self, running: bool) -> None:
        self.pause_action.setEnabled(running)
        self.cancel_action.setEnabled(running)
        if not running:
            self.panel.set_running(False)
            self.pause_action.setText("&Pause Analysis")

    def _on_pause_button_clicked(self) -> None:
        self.toggle_pause()

    def _on_cancel_button_clicked(self) -> None:
        self.cancel()

    def _on_retry_button_clicked(self) -> None:
        self.panel.retry_button.hide()
        self.service.retry_warm_up()
        if not self.service.is_running:
            self.panel.hide()

    def _on_problems_button_clicked(self) -> None:
        show = getattr(self.window, "show_problems", None)
        if show is not None:
            show()

    def _on_hide_timer_timeout(self) -> None:
        if not self.service.is_running:
            self.panel.hide()
