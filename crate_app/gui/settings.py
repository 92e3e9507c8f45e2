"""The window's preferences: one frozen dataclass, read from and written to QSettings (an ini file).

The file lives in the per-user config folder, or under ``$CRATE_HOME/config`` when CRATE_HOME is set
(tests, portable installs), so that nothing else ever reads the user's real settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
from PySide6.QtCore import QByteArray, QSettings

from crate_app.domain.keys import KeyNotation
from crate_app.domain.track import AnalysisOptions
from crate_app.paths import APP_NAME

SETTINGS_FILE_NAME = "crate.ini"


def settings_path() -> Path:
    home = os.environ.get("CRATE_HOME")
    folder = Path(home) / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    return folder / SETTINGS_FILE_NAME


def open_settings(path: Path | None = None) -> QSettings:
    """The QSettings store Crate uses (an ini file at ``settings_path()`` unless told otherwise)."""
    return QSettings(str(path or settings_path()), QSettings.Format.IniFormat)


@dataclass(frozen=True)
class WindowSettings:
    """What the window remembers between runs."""

    library_path: str = ""  # the last library opened ("" = the default)
    key_notation: KeyNotation = KeyNotation.CAMELOT
    sort_column: str = "artist"
    sort_descending: bool = False
    column_order: tuple[str, ...] = ()  # visual order, by column name ("" = as designed)
    hidden_columns: tuple[str, ...] = ()
    column_widths: dict[str, int] = field(default_factory=dict)
    geometry: bytes = b""
    window_state: bytes = b""


def _strings(value: object) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)  # type: ignore[union-attr]


def _bytes(value: object) -> bytes:
    if isinstance(value, QByteArray):
        return bytes(value.data())
    if isinstance(value, bytes):
        return value
    return b""


def load_settings(store: QSettings) -> WindowSettings:
    """Read the settings, falling back to the defaults for anything missing or malformed."""
    defaults = WindowSettings()
    try:
        notation = KeyNotation(str(store.value("view/key_notation", defaults.key_notation.value)))
    except ValueError:
        notation = defaults.key_notation
    widths: dict[str, int] = {}
    store.beginGroup("columns/widths")
    for name in store.childKeys():
        try:
            widths[name] = int(store.value(name))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    store.endGroup()
    return WindowSettings(
        library_path=str(store.value("library/path", "") or ""),
        key_notation=notation,
        sort_column=str(store.value("view/sort_column", defaults.sort_column)),
        sort_descending=str(store.value("view/sort_descending", "false")).lower() == "true",
        column_order=_strings(store.value("columns/order")),
        hidden_columns=_strings(store.value("columns/hidden")),
        column_widths=widths,
        geometry=_bytes(store.value("window/geometry")),
        window_state=_bytes(store.value("window/state")),
    )


def save_settings(store: QSettings, settings: WindowSettings) -> None:
    store.setValue("library/path", settings.library_path)
    store.setValue("view/key_notation", settings.key_notation.value)
    store.setValue("view/sort_column", settings.sort_column)
    store.setValue("view/sort_descending", "true" if settings.sort_descending else "false")
    store.setValue("columns/order", list(settings.column_order))
    store.setValue("columns/hidden", list(settings.hidden_columns))
    store.remove("columns/widths")
    for name, width in settings.column_widths.items():
        store.setValue(f"columns/widths/{name}", width)
    store.setValue("window/geometry", QByteArray(settings.geometry))
    store.setValue("window/state", QByteArray(settings.window_state))
    store.sync()


@dataclass(frozen=True)
class AnalysisPreferences:
    """How BPM and key analysis runs (kept under ``analysis/`` in the same settings file)."""

    write_tags: bool = False  # write BPM and key into the files' tags (off: only the library changes)
    bpm_min: float = AnalysisOptions().bpm_min  # tempi are folded into this range
    bpm_max: float = AnalysisOptions().bpm_max
    workers: int = 0  # analysis threads; 0 = one per core


def load_analysis_preferences(store: QSettings) -> AnalysisPreferences:
    """Read the analysis preferences, falling back to the defaults for anything missing or malformed."""
    defaults = AnalysisPreferences()
    try:
        bpm_min = float(store.value("analysis/bpm_min", defaults.bpm_min))  # type: ignore[arg-type]
        bpm_max = float(store.value("analysis/bpm_max", defaults.bpm_max))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        bpm_min, bpm_max = defaults.bpm_min, defaults.bpm_max
    if not 0 < bpm_min < bpm_max:
        bpm_min, bpm_max = defaults.bpm_min, defaults.bpm_max
    try:
        workers = max(0, int(store.value("analysis/workers", 0)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        workers = 0
    return AnalysisPreferences(
        write_tags=str(store.value("analysis/write_tags", "false")).lower() == "true",
        bpm_min=bpm_min,
        bpm_max=bpm_max,
        workers=workers,
    )


def save_analysis_preferences(store: QSettings, preferences: AnalysisPreferences) -> None:
    store.setValue("analysis/write_tags", "true" if preferences.write_tags else "false")
    store.setValue("analysis/bpm_min", preferences.bpm_min)
    store.setValue("analysis/bpm_max", preferences.bpm_max)
    store.setValue("analysis/workers", preferences.workers)
    store.sync()


@dataclass(frozen=True)
class HygienePreferences:
    """Backups and watched folders (kept under ``hygiene/`` in the same settings file)."""

    backups_kept: int = 7  # rotating backups of the library file kept in the data folder
    watch_folders: bool = True  # watch the library folders for new, deleted and moved files


def load_hygiene_preferences(store: QSettings) -> HygienePreferences:
    """Read the hygiene preferences, falling back to the defaults for anything missing or malformed."""
    defaults = HygienePreferences()
    try:
        kept = max(1, int(store.value("hygiene/backups_kept", defaults.backups_kept)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        kept = defaults.backups_kept
    watch = str(store.value("hygiene/watch_folders", "true")).lower() == "true"
    return HygienePreferences(backups_kept=kept, watch_folders=watch)


def save_hygiene_preferences(store: QSettings, preferences: HygienePreferences) -> None:
    store.setValue("hygiene/backups_kept", preferences.backups_kept)
    store.setValue("hygiene/watch_folders", "true" if preferences.watch_folders else "false")
    store.sync()


@dataclass(frozen=True)
class SidebarSettings:
    """The sidebar (kept under ``sidebar/`` in the same settings file; its width and visibility are
    also in the window state, which wins when there is one)."""

    visible: bool = True
    width: int = 260
    expanded: tuple[str, ...] = ()  # paths of the expanded crate folders ("Sets/2026")


def load_sidebar_settings(store: QSettings) -> SidebarSettings:
    """Read the sidebar's settings, falling back to the defaults for anything missing or malformed."""
    defaults = SidebarSettings()
    try:
        width = int(store.value("sidebar/width", defaults.width))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        width = defaults.width
    return SidebarSettings(
        visible=str(store.value("sidebar/visible", "true")).lower() == "true",
        width=width if 60 <= width <= 2_000 else defaults.width,
        expanded=_strings(store.value("sidebar/expanded")),
    )


def save_sidebar_settings(store: QSettings, settings: SidebarSettings) -> None:
    store.setValue("sidebar/visible", "true" if settings.visible else "false")
    store.setValue("sidebar/width", settings.width)
    store.setValue("sidebar/expanded", list(settings.expanded))
    store.sync()
