"""The status bar's line about background audio hashing: how far it is, and Pause / Resume."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from crate_app.domain.progress import Progress
from crate_app.domain.track import display_path
from crate_app.services.hash_service import HashService


class HashingStatus(QWidget):
    """Shown while a hashing pass runs; its button pauses and resumes the pass."""

    def __init__(self, service: HashService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.label = QLabel("Hashing audio\u2026", self)
        self.pause_button = QToolButton(self)
        self.pause_button.setAutoRaise(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.pause_button)
        self._progress: Progress | None = None
        self.pause_button.clicked.connect(self._on_pause_button_clicked)
        service.progress.connect(self._on_service_progress)
        service.running_changed.connect(self._on_service_running_changed)
        service.paused_changed.connect(self._on_service_paused_changed)
        self._on_service_running_changed(service.is_running)
        self._update()

    def _update(self) -> None:
        self.pause_button.setText("Resume" if self.service.user_paused else "Pause")
        self.pause_button.setToolTip(
            "Go on hashing the audio of new files"
            if self.service.user_paused
            else "Pause hashing (duplicates by audio and relinking hash what they need themselves)"
        )
        progress = self._progress
        text = "Hashing audio"
        if progress is not None and progress.total:
            text += f" {progress.done:,} of {progress.total:,}"
        if self.service.user_paused:
            text += " (paused)"
        elif self.service.is_waiting:
            text += " (waiting for other work)"
        self.label.setText(text)
        self.label.setToolTip(display_path(progress.current) if progress is not None else "")

    def _on_pause_button_clicked(self) -> None:
        self.service.set_paused(not self.service.user_paused)

    def _on_service_progress(self, progress: Progress) -> None:
        self._progress = progress
        self._update()

    def _on_service_running_changed(self, running: bool) -> None:
        if running:
            self._progress = None
            self._update()
        self.setVisible(running)

    def _on_service_paused_changed(self, _waiting: bool) -> None:
        self._update()
