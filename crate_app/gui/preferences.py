"""The Analysis Preferences dialog: tag write-back, the BPM range, the number of analysis threads."""

from __future__ import annotations

import os

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from crate_app.gui.settings import AnalysisPreferences


class AnalysisPreferencesDialog(QDialog):
    def __init__(self, preferences: AnalysisPreferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Analysis Preferences")
        self.write_tags = QCheckBox("Write BPM and key into the files' tags")
        self.write_tags.setChecked(preferences.write_tags)
        self.write_tags.setToolTip(
            "ID3 TBPM/TKEY, Vorbis BPM/INITIALKEY, MP4 tmpo and initialkey, in the key notation of the View "
            "menu. Each file is tagged as a copy, checked, then swapped in: never left half-written."
        )
        self.bpm_min = QDoubleSpinBox()
        self.bpm_max = QDoubleSpinBox()
        for box, value in ((self.bpm_min, preferences.bpm_min), (self.bpm_max, preferences.bpm_max)):
            box.setRange(30.0, 300.0)
            box.setDecimals(0)
            box.setSuffix(" BPM")
            box.setValue(value)
        self.workers = QSpinBox()
        self.workers.setRange(0, max(8, os.cpu_count() or 1))
        self.workers.setSpecialValueText(f"One per core ({os.cpu_count() or 1})")
        self.workers.setValue(preferences.workers)
        bpm_range = QHBoxLayout()
        bpm_range.addWidget(self.bpm_min)
        bpm_range.addWidget(QLabel("to"))
        bpm_range.addWidget(self.bpm_max)
        form = QFormLayout()
        form.addRow(self.write_tags)
        form.addRow("Tempo range:", bpm_range)
        form.addRow("Analysis threads:", self.workers)
        hint = QLabel(
            "Tempi outside the range are halved or doubled into it (e.g. 87 \u2192 174 for 90-180)."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.bpm_min.valueChanged.connect(self._on_range_value_changed)
        self.bpm_max.valueChanged.connect(self._on_range_value_changed)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(self.buttons)

    def preferences(self) -> AnalysisPreferences:
        return AnalysisPreferences(
            write_tags=self.write_tags.isChecked(),
            bpm_min=self.bpm_min.value(),
            bpm_max=self.bpm_max.value(),
            workers=self.workers.value(),
        )

    def _on_range_value_changed(self, _value: float) -> None:
        # A range must leave room for an octave, or some tempi could be folded into neither end.
        valid = self.bpm_max.value() >= 2 * self.bpm_min.value() - 0.5
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(valid)
