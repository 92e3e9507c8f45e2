"""Starting the window: ``crate [--library PATH]`` (or CRATE_LIBRARY), ``python -m crate_app``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from crate_app import __version__
from crate_app.paths import default_library_path, window_icon
from crate_app.runtime import favour_the_gui_thread, freeze_startup_objects, pin_native_threads


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="crate", description="Crate: a music library for DJs.")
    parser.add_argument(
        "--library", type=Path, help="the library file to open (default: $CRATE_LIBRARY, then the last one)"
    )
    parser.add_argument("--version", action="version", version=f"crate {__version__}")
    parser.add_argument("--self-test", action="store_true", help="check this installation offscreen and exit")
    parser.add_argument(
        "paths", nargs="*", help="folders or audio files to add (what a desktop passes when they are dropped "
        "on Crate's icon)"
    )  # fmt: skip
    args, _qt_args = parser.parse_known_args(argv)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Open the library window; returns the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from crate_app.selftest import run_self_test

        return run_self_test()
    pin_native_threads()  # before numpy loads
    favour_the_gui_thread()
    # Qt is imported here, not at module level, so that `crate --help` answers at once.
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from crate_app.domain.errors import LibraryError
    from crate_app.gui.file_open import FileOpenForwarder
    from crate_app.gui.integrity import offer_restore_if_damaged, restore_scheduled_backup
    from crate_app.gui.main_window import MainWindow
    from crate_app.gui.settings import load_hygiene_preferences, load_settings, open_settings
    from crate_app.hygiene.backup import SessionMarker
    from crate_app.services.backup_service import BackupService
    from crate_app.store.library import open_library

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Crate")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Crate")
    icon = window_icon()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    store = open_settings()
    remembered = load_settings(store).library_path
    # --library, then CRATE_LIBRARY (default_library_path reads it), then the last library, then the default.

    if args.library is not None:
        path = args.library
    elif os.environ.get("CRATE_LIBRARY") or not remembered:
        path = default_library_path()
    else:
        path = Path(remembered)
    restore_scheduled_backup(Path(path).expanduser())  # chosen in File ▸ Restore Library Backup…
    offer_restore_if_damaged(Path(path).expanduser())  # after a crash: quick_check, restore a backup
    try:
        library = open_library(path)
    except LibraryError as exc:
        QMessageBox.critical(
            None, "Cannot open the library", f"{exc}\n\nCrate opens the default library instead."
        )
        try:
            library = open_library(default_library_path())
        except LibraryError as again:
            QMessageBox.critical(None, "Cannot open the library", str(again))
            return 1
    marker = SessionMarker(library.path)  # removed at a clean quit: its presence means a crash
    marker.begin()
    backups = BackupService(library.path, keep=load_hygiene_preferences(store).backups_kept)
    QTimer.singleShot(30_000, backups.start)  # the daily backup, once the start-up work has settled
    window = MainWindow(library, store)
    window.show()
    freeze_startup_objects()
    app.installEventFilter(FileOpenForwarder(window))
    if args.paths:
        window.add_paths([str(Path(p).resolve()) for p in args.paths])
    # After the first paint: start the analysis processes (they load numpy and PyAV) and continue an
    # "analyse all" left unfinished when Crate last quit.
    QTimer.singleShot(300, window.analysis.start_background_work)
    status = app.exec()
    library.close()
    backups.library_path = window.library.path  # the library open at quit (File ▸ Open may switch)
    backups.backup_at_quit()
    marker.end()
    if not getattr(window, "analysis_stopped", True):
        # A worker thread is stuck inside a hostile file's decoder and cannot be stopped: Qt would wait
        # for it forever on exit.  Everything is saved and the library is closed, so leave at once.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
