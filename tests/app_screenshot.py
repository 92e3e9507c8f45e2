"""Start the real app on the platform QT_QPA_PLATFORM names, wait for its main window, save a screenshot
read back from the display server, and quit.

    python tests/app_screenshot.py SHOT.png [--with-analysis] [crate arguments, e.g. --library PATH]

It runs ``crate_app.gui.app.main`` itself (the entry point ``crate`` and ``python -m crate_app`` use), so
a platform plugin that cannot load fails here exactly as it fails for a user: Qt prints its own message
and aborts.  Prints one JSON line (platform, window size, screenshot size) and exits 0 when the window
was shown; exits 3 when it did not appear within the deadline.
"""

from __future__ import annotations

import json
import sys
import time

DEADLINE = 60.0  # seconds for the main window to be exposed


def main(argv: list[str]) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from crate_app.gui import analysis_panel
    from crate_app.gui import app as crate_app_entry

    shot, crate_args = argv[0], argv[1:]
    if "--with-analysis" in crate_args:
        crate_args.remove("--with-analysis")
    else:
        # The analysis processes (their warm-up) have tests of their own; here they would only cost
        # CPU and delay the quit.
        analysis_panel.AnalysisController.start_background_work = lambda self: None  # type: ignore[method-assign]
    application = QApplication([sys.argv[0]])
    started = time.monotonic()
    outcome: dict[str, object] = {}

    def look_for_the_window() -> None:
        window = next((w for w in application.topLevelWidgets() if type(w).__name__ == "MainWindow"), None)
        handle = window.windowHandle() if window is not None else None
        if window is None or handle is None or not handle.isExposed():
            if time.monotonic() - started > DEADLINE:
                outcome["error"] = f"the main window was not shown within {DEADLINE:.0f} s"
                application.exit(3)
            else:
                QTimer.singleShot(100, look_for_the_window)
            return
        application.processEvents()
        # Read the pixels back from the display server (on xcb: the X server's framebuffer), not a
        # render of the widget tree.
        frame = window.frameGeometry()
        image = window.screen().grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
        image.save(shot)
        outcome.update(
            platform=application.platformName(),
            window=[window.width(), window.height()],
            screenshot=[image.width(), image.height()],
            seconds=round(time.monotonic() - started, 2),
        )
        window.close()

    QTimer.singleShot(0, look_for_the_window)
    status = crate_app_entry.main(crate_args)
    print(json.dumps(outcome), flush=True)
    return 3 if "error" in outcome else status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
