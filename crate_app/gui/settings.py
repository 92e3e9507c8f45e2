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
