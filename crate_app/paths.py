"""Where Crate keeps its library, caches and logs by default (per-OS, through platformdirs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "Crate"
LIBRARY_FILE_NAME = "library.crate.sqlite"


def _home_override() -> Path | None:
    # CRATE_HOME puts everything under one folder (tests, portable installs).
    value = os.environ.get("CRATE_HOME")
    return Path(value) if value else None


def data_dir() -> Path:
    home = _home_override()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    home = _home_override()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def default_library_path() -> Path:
    """The library file used when neither ``--library`` nor ``CRATE_LIBRARY`` says otherwise."""
    env = os.environ.get("CRATE_LIBRARY")
    if env:
        return Path(env).expanduser()
    return data_dir() / LIBRARY_FILE_NAME


def window_icon() -> Path | None:
    """Crate's icon: ``resources/`` beside the package (a checkout, the bundle), else where a wheel
    installs its data (``<prefix>/share/crate``); None when neither has it."""
    candidates = (
        Path(__file__).resolve().parent.parent / "resources" / "crate.svg",
        Path(sys.prefix) / "share" / "crate" / "crate.svg",
    )
    return next((path for path in candidates if path.is_file()), None)
