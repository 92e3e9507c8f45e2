"""The tag editor for one or many tracks: a field that differs between them shows "(various)", and
only the fields the user touches are written.  Progress and Cancel while the files are written."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.colors import TRACK_COLORS
from crate_app.domain.progress import Progress
from crate_app.domain.track import TrackRecord
from crate_app.services.tag_edit_service import EditOutcome, EditStep, TagEditService

VARIOUS = "(various)"
TEXT_FIELDS = (
    ("title", "Title"), ("artist", "Artist"), ("album", "Album"), ("albumartist", "Album artist"),
    ("genre", "Genre"), ("label", "Label"), ("comment", "Comment"), ("year", "Year"),
    ("track_no", "Track number"),
)  # fmt: skip
_UNCHANGED = object()


def common_value(tracks: list[TrackRecord], name: str) -> object:
    """The value all ``tracks`` share for ``name`` ('' and None count as the same), or VARIOUS."""
    values = {getattr(track, name) or None for track in tracks}
    return next(iter(values)) if len(values) == 1 else VARIOUS


class TagEditorDialog(QDialog):
    """Edits ``tracks`` through ``service``; closes itself when the write has finished."""

    def __init__(
        self, tracks: list[TrackRecord], service: TagEditService, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.tracks = tracks
        self.service = service
        self._step: EditStep | None = None  # the edit this dialog started
        count = len(tracks)
        self.setWindowTitle(f"Edit Tags of {count:,} Track{'s' if count != 1 else ''}")
        self.setMinimumWidth(480)
        self.touched: set[str] = set()
        form = QFormLayout()
        self.edits: dict[str, QLineEdit] = {}
        for name, title in TEXT_FIELDS:
            edit = QLineEdit(self)
            value = common_value(tracks, name)
            if value is VARIOUS:
                edit.setPlaceholderText(VARIOUS)
            else:
                edit.setText("" if value is None else str(value))
            edit.textEdited.connect(lambda _text, n=name: self.touched.add(n))
            self.edits[name] = edit
            form.addRow(title, edit)
        self.rating = QComboBox(self)
        self.color = QComboBox(self)
        rating, color = common_value(tracks, "rating"), common_value(tracks, "color")
        if rating is VARIOUS:
            self.rating.addItem(VARIOUS, _UNCHANGED)
        self.rating.addItem("Unrated", None)
        for stars in range(1, 6):
            self.rating.addItem("\u2605" * stars, stars)
        if rating is not VARIOUS:
            self.rating.setCurrentIndex(self.rating.findData(rating))
        if color is VARIOUS:
            self.color.addItem(VARIOUS, _UNCHANGED)
        self.color.addItem("None", "")
        for name in TRACK_COLORS:
            self.color.addItem(name.capitalize(), name)
        if color is not VARIOUS:
            self.color.setCurrentIndex(max(0, self.color.findData(color or "")))
        self.rating.activated.connect(lambda _i: self.touched.add("rating"))
        self.color.activated.connect(lambda _i: self.touched.add("color"))
        form.addRow("Rating", self.rating)
        form.addRow("Colour", self.color)

        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, parent=self
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self._on_cancel)
        layout = QVBoxLayout(self)
        if count > 1:
            layout.addWidget(QLabel("Only the fields you change are written; the others stay as they are."))
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        service.progress.connect(self._on_service_progress)
        service.finished.connect(self._on_service_finished)

    def changes(self) -> dict[str, object]:
        """The touched fields and their new values."""
        changes: dict[str, object] = {}
        for name in self.touched:
            if name in self.edits:
                changes[name] = self.edits[name].text()
            elif name == "rating" and self.rating.currentData() is not _UNCHANGED:
                changes[name] = self.rating.currentData()
            elif name == "color" and self.color.currentData() is not _UNCHANGED:
                changes[name] = self.color.currentData()
        return changes

    def save(self) -> None:
        try:
            step = self.service.edit(self.tracks, self.changes())
        except ValueError as error:
            self.message.setText(str(error))
            return
        if step is None:
            if self.service.busy:
                self.message.setText("Another tag edit is still running.")
                return
            self.accept()  # nothing changes
            return
        self._step = step
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
        self.progress.setRange(0, len(step.changes))
        self.progress.show()
        self.message.setText(
            f"Writing {len(step.changes):,} file{'s' if len(step.changes) != 1 else ''}\u2026"
        )

    def _on_cancel(self) -> None:
        if self._step is not None and self.service.job is not None and self.service.job.step is self._step:
            self.service.cancel()
            self.message.setText(
                "Cancelling\u2026 (files already written keep their new tags: Undo reverts them)"
            )
        else:
            self.reject()

    def _on_service_progress(self, progress: Progress) -> None:
        if self._step is None:
            return  # not this dialog's write
        self.progress.setValue(progress.done)
        self.message.setText(progress.describe())

    def _on_service_finished(self, outcome: EditOutcome) -> None:
        if outcome.step is not self._step:
            return  # another write (an undo or redo queued meanwhile), not this dialog's edit
        if outcome.failures:
            lines = [f"{len(outcome.failures):,} file(s) not changed (each left exactly as it was):"]
            lines += [f"\u2022 {path}: {reason}" for path, reason in outcome.failures[:8]]
            self.message.setText("\n".join(lines))
            self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)
            self.progress.hide()
            return
        self.accept()
