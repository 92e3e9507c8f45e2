"""File ▸ Export ▸ … and File ▸ Import ▸ …: one dialog for every format, with what to export, the path
map (remembered), the target's options, progress with rate, ETA and Cancel, and a report at the end."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from crate_app import crates
from crate_app.domain.errors import CrateError
from crate_app.domain.progress import Progress
from crate_app.domain.track import display_path
from crate_app.exchange import engine_db
from crate_app.exchange.exporter import mapper_from_rules
from crate_app.exchange.importer import ImportReport
from crate_app.exchange.model import ExportReport
from crate_app.services.exchange_service import ExchangeRequest, ExchangeService
from crate_app.store.library import Library

TITLES = {"rekordbox": "rekordbox XML", "traktor": "Traktor NML", "serato": "Serato Crates",
          "engine": "Engine DJ", "m3u8": "M3U8 Playlists"}  # fmt: skip
EXPORTS = ("rekordbox", "traktor", "serato", "engine", "m3u8")
IMPORTS = ("rekordbox", "traktor", "serato", "m3u8")
# Destination/source is a file for these, a folder for the others.
FILE_KINDS = {"rekordbox": "rekordbox XML (*.xml)", "traktor": "Traktor collection (*.nml)"}
MAP_KEY = "exchange/path_map"
SHOWN_PROBLEMS = 200


def load_path_map(store: QSettings) -> list[tuple[str, str]]:
    value = store.value(MAP_KEY, [])
    rules = value if isinstance(value, list) else [value] if value else []
    return [tuple(r.split("=", 1)) for r in rules if isinstance(r, str) and "=" in r]  # type: ignore[misc]


def save_path_map(store: QSettings, rules: list[tuple[str, str]]) -> None:
    store.setValue(MAP_KEY, [f"{a}={b}" for a, b in rules])


class ExchangeDialog(QDialog):
    """Export to or import from one format; runs the job through ``service`` and shows the report."""

    def __init__(
        self, direction: str, kind: str, service: ExchangeService, library: Library, store: QSettings,
        crate_paths: tuple[str, ...] = (), parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.direction, self.kind, self.service, self.library, self.store = (
            direction,
            kind,
            service,
            library,
            store,
        )
        verb = "Export to" if direction == "export" else "Import from"
        self.setWindowTitle(f"{verb} {TITLES[kind]}")
        self.resize(640, 560)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        layout.addLayout(form)

        self.path_edit = QLineEdit()
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self._on_browse_clicked)
        row = QHBoxLayout()
        row.addWidget(self.path_edit)
        row.addWidget(browse)
        form.addRow("Write to:" if direction == "export" else "Read from:", row)

        self.all_radio = QRadioButton("The whole library and every crate")
        self.chosen_radio = QRadioButton("Only the crates ticked below (and their tracks)")
        self.crate_list = QListWidget()
        self.crate_list.setMaximumHeight(130)
        if direction == "export":
            form.addRow("Export:", self.all_radio)
            form.addRow("", self.chosen_radio)
            form.addRow("", self.crate_list)
            self._fill_crates(crate_paths)
            self.all_radio.setChecked(not crate_paths)
            self.chosen_radio.setChecked(bool(crate_paths))

        self.map_table = QTableWidget(0, 2)
        first_column = "Path in Crate" if direction == "export" else "Path in the file"
        self.map_table.setHorizontalHeaderLabels([first_column, "Becomes"])
        self.map_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.map_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.map_table.setMaximumHeight(120)
        for source, target in load_path_map(store) if direction == "export" else []:
            self._add_map_row(source, target)
        add_row, remove_row = QPushButton("Add"), QPushButton("Remove")
        add_row.clicked.connect(self._on_add_map_row_clicked)
        remove_row.clicked.connect(self._on_remove_map_row_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(add_row)
        buttons.addWidget(remove_row)
        buttons.addStretch(1)
        map_box = QVBoxLayout()
        map_box.addWidget(self.map_table)
        map_box.addLayout(buttons)
        form.addRow("Path map:", map_box)

        self.nml_version = QComboBox()
        self.nml_version.addItems(["Traktor Pro 2/3 (NML 19)", "Traktor Pro 4 (NML 20)"])
        self.engine_schema = QComboBox()
        for version, app in engine_db.SCHEMAS.items():
            self.engine_schema.addItem(f"{app} (database {version})", version)
        self.relative = QCheckBox("Paths relative to each playlist's folder")
        self.add_unknown = QCheckBox("Add files the library does not have yet (else list them)")
        self.add_unknown.setChecked(True)
        self.partial = QCheckBox("If the file is damaged, import what can be read (and list the rest)")
        self.prefer = QComboBox()
        self.prefer.addItems(
            ["Keep Crate's (fill in only what Crate lacks)", f"Take {TITLES[kind].split()[0]}'s"]
        )
        if direction == "export" and kind == "traktor":
            form.addRow("Format:", self.nml_version)
        if direction == "export" and kind == "engine":
            form.addRow("Format:", self.engine_schema)
        if direction == "export" and kind == "m3u8":
            form.addRow("", self.relative)
        if direction == "import":
            form.addRow("New files:", self.add_unknown)
            form.addRow("Damaged file:", self.partial)
            if kind in ("rekordbox", "traktor"):
                form.addRow("BPM, key, grid, cues:", self.prefer)

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 0)
        self.progress_bar.hide()
        self.status = QLabel("")
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.hide()
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.report, 1)

        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton(
            "Export" if direction == "export" else "Import", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.hide()
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.close_button.clicked.connect(self.accept)
        layout.addWidget(self.buttons)

        service.progress.connect(self._on_service_progress)
        service.finished.connect(self._on_service_finished)
        service.failed.connect(self._on_service_failed)

    # -- building ------------------------------------------------------------------------------------
    def _fill_crates(self, chosen: tuple[str, ...]) -> None:
        wanted = {p.casefold() for p in chosen}
        for node in crates.list_nodes(self.library, with_counts=False):
            depth = node.path.count("/")
            item = QListWidgetItem(("    " * depth) + node.name + ("/" if node.kind == "folder" else ""))
            item.setData(Qt.ItemDataRole.UserRole, node.path)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = node.path.casefold() in wanted
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.crate_list.addItem(item)

    def _add_map_row(self, source: str = "", target: str = "") -> None:
        row = self.map_table.rowCount()
        self.map_table.insertRow(row)
        self.map_table.setItem(row, 0, QTableWidgetItem(source))
        self.map_table.setItem(row, 1, QTableWidgetItem(target))

    def map_rules(self) -> list[tuple[str, str]]:
        rules = []
        for row in range(self.map_table.rowCount()):
            source, target = (self.map_table.item(row, c) for c in (0, 1))
            a, b = (source.text().strip() if source else ""), (target.text().strip() if target else "")
            if a or b:
                rules.append((a, b))
        return rules

    def chosen_crates(self) -> tuple[str, ...]:
        if self.direction != "export" or self.all_radio.isChecked():
            return ()
        return tuple(
            self.crate_list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.crate_list.count())
            if self.crate_list.item(i).checkState() == Qt.CheckState.Checked
        )

    def request(self) -> ExchangeRequest:
        """What the dialog asks for; CrateError in words when something is missing or wrong."""
        text = self.path_edit.text().strip()
        if not text:
            raise CrateError(
                "choose where to write" if self.direction == "export" else "choose a file to read"
            )
        rules = self.map_rules()
        mapper = mapper_from_rules(
            self.library if self.direction == "export" else None, [f"{a}={b}" for a, b in rules]
        )
        if self.direction == "export" and self.chosen_radio.isChecked() and not self.chosen_crates():
            raise CrateError("tick at least one crate, or export the whole library")
        options: dict[str, object] = {}
        if self.direction == "export" and self.kind == "traktor":
            options["version"] = 20 if self.nml_version.currentIndex() == 1 else 19
        if self.direction == "export" and self.kind == "engine":
            options["schema"] = self.engine_schema.currentData()
        if self.direction == "export" and self.kind == "m3u8":
            options["relative"] = self.relative.isChecked()
        prefer = "source" if self.prefer.currentIndex() == 1 else "crate"
        return ExchangeRequest(
            self.direction, self.kind, Path(text).expanduser(), mapper, self.chosen_crates(), options,
            add_unknown=self.add_unknown.isChecked(), prefer=prefer, partial=self.partial.isChecked(),
        )  # fmt: skip

    # -- running -------------------------------------------------------------------------------------
    def start(self) -> None:
        try:
            request = self.request()
        except CrateError as exc:
            self.status.setText(str(exc))
            return
        if self.direction == "export":
            save_path_map(self.store, self.map_rules())
        self.start_button.setEnabled(False)
        self.progress_bar.show()
        self.status.setText("Starting\u2026")
        self.service.start(request)

    def _on_cancel_clicked(self) -> None:
        if self.service.running:
            self.service.cancel()
            self.status.setText("Cancelling\u2026")
        else:
            self.reject()

    def _on_service_progress(self, progress: Progress) -> None:
        if progress.total:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * (progress.fraction or 0)))
        self.status.setText(progress.describe())

    def _on_service_finished(self, report: object) -> None:
        self._done()
        lines = report_lines(report)  # type: ignore[arg-type]
        self.status.setText(lines[0])
        self.report.setPlainText("\n".join(lines[1:]) or "Nothing was left out.")
        self.report.show()

    def _on_service_failed(self, message: str) -> None:
        self._done()
        self.status.setText(f"Nothing was written: {message}")

    def _done(self) -> None:
        self.progress_bar.hide()
        self.cancel_button.hide()
        self.close_button.show()

    def _on_browse_clicked(self) -> None:
        current = self.path_edit.text() or str(Path.home())
        if self.kind in FILE_KINDS:
            if self.direction == "export":
                path, _ = QFileDialog.getSaveFileName(
                    self, self.windowTitle(), current, FILE_KINDS[self.kind]
                )
            else:
                path, _ = QFileDialog.getOpenFileName(
                    self, self.windowTitle(), current, FILE_KINDS[self.kind]
                )
        elif self.kind == "m3u8" and self.direction == "import":
            path, _ = QFileDialog.getOpenFileName(
                self, self.windowTitle(), current, "Playlists (*.m3u8 *.m3u *.pls)"
            )
        else:
            path = QFileDialog.getExistingDirectory(self, self.windowTitle(), current)
        if path:
            self.path_edit.setText(path)

    def _on_add_map_row_clicked(self) -> None:
        self._add_map_row()

    def _on_remove_map_row_clicked(self) -> None:
        for row in sorted({i.row() for i in self.map_table.selectedIndexes()}, reverse=True):
            self.map_table.removeRow(row)


def report_lines(report: ExportReport | ImportReport) -> list[str]:
    """The first line sums the result up; the others list what was left out and why."""
    if isinstance(report, ImportReport):
        lines = [report.describe()]
        lines += report.warnings[:SHOWN_PROBLEMS]
        lines += [f"not found: {display_path(p)} ({why})" for p, why in report.not_found[:SHOWN_PROBLEMS]]
        return lines
    files = report.files[0] if len(report.files) == 1 else f"{len(report.files):,} files in {report.dest}"
    lines = [f"Exported {report.tracks:,} tracks and {report.playlists:,} playlists to {files} in "
             f"{report.seconds:.1f} s; {len(report.skipped):,} left out"]  # fmt: skip
    lines += report.notes[:SHOWN_PROBLEMS]
    lines += [f"left out: {display_path(p)} ({why})" for p, why in report.skipped[:SHOWN_PROBLEMS]]
    return lines


class ExchangeController(QObject):
    """File ▸ Export ▸ … and File ▸ Import ▸ … for a window; ``export_crates`` for a crate's menu."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.service = ExchangeService(window.runner, window.library, self)
        self.dialog: ExchangeDialog | None = None

    def install_menus(self, file_menu: QMenu, before: QAction | None = None) -> None:
        export_menu, import_menu = QMenu("E&xport", file_menu), QMenu("&Import", file_menu)
        for kind in EXPORTS:
            action = export_menu.addAction(f"{TITLES[kind]}\u2026")
            action.setData(("export", kind))
        for kind in IMPORTS:
            action = import_menu.addAction(f"{TITLES[kind]}\u2026")
            action.setData(("import", kind))
        export_menu.triggered.connect(self._on_menu_triggered)
        import_menu.triggered.connect(self._on_menu_triggered)
        for menu in (export_menu, import_menu):
            if before is None:
                file_menu.addMenu(menu)
            else:
                file_menu.insertMenu(before, menu)
        if before is not None:
            file_menu.insertSeparator(before)
        self.export_menu, self.import_menu = export_menu, import_menu

    def set_library(self, library: Library) -> None:
        self.service.set_library(library)

    def _on_menu_triggered(self, action: QAction) -> None:
        direction, kind = action.data()
        self.show_dialog(direction, kind)

    def export_node(self, node: object) -> ExchangeDialog:
        """``Export…`` on a crate or folder in the sidebar."""
        return self.export_crates((node.path,))  # type: ignore[attr-defined]

    def export_crates(self, crate_paths: tuple[str, ...], kind: str = "rekordbox") -> ExchangeDialog:
        """The export dialog with these crates (or folders) ticked: for a crate's context menu."""
        return self.show_dialog("export", kind, crate_paths)

    def show_dialog(self, direction: str, kind: str, crate_paths: tuple[str, ...] = ()) -> ExchangeDialog:
        if self.service.running and self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = ExchangeDialog(
            direction,
            kind,
            self.service,
            self.window.library,
            self.window.settings_store,
            crate_paths,
            self.window,
        )
        self.dialog.show()
        return self.dialog
