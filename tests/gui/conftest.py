"""Fixtures for the window tests: real library files with generated tracks, a private settings file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from unit.test_store import make_files  # the store tests' generated tracks (tests/ is on sys.path)

from crate_app.domain.track import ScannedFile
from crate_app.gui.settings import open_settings
from crate_app.store import writer
from crate_app.store.library import Library


def fill(library: Library, count: int, seed: int = 1, start: int = 0) -> list[ScannedFile]:
    files = make_files(count + start, seed)[start:]
    writer.upsert_scanned(library, files)
    return files


@pytest.fixture
def settings_store(tmp_path: Path):
    return open_settings(tmp_path / "config" / "crate.ini")


@pytest.fixture
def add_tracks():
    """add_tracks(library, count, seed=1, start=0): write generated tracks, return their ScannedFiles."""
    return fill


@pytest.fixture
def make_window(qtbot, settings_store):
    """make_window(library, prepare=None): a shown MainWindow whose first rows are loaded; ``prepare``
    runs before it is shown.  Every window is shut down after the test."""
    from crate_app.gui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(library: Library, prepare: Callable[[MainWindow], None] | None = None) -> MainWindow:
        window = MainWindow(library, settings_store)
        if prepare is not None:
            prepare(window)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: not window.model.is_loading, timeout=10_000)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()
