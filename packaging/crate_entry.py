"""Entry point of the bundled app (PyInstaller freezes this script into the ``crate`` executable).

``crate --self-test`` runs the offscreen self-test and exits; anything else starts the window, with
the remaining arguments (folders dropped on the app icon or passed on the command line).
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    # First of all: in a frozen app the scanner's spawned worker processes re-run this executable,
    # and freeze_support() turns them into workers here, before any other import.
    multiprocessing.freeze_support()
    # The app never writes byte code into its install folder.
    if "--self-test" in sys.argv[1:]:
        sys.dont_write_bytecode = True
        from crate_app.selftest import run_self_test

        return run_self_test()
    from crate_app import paths

    sys.pycache_prefix = str(paths.cache_dir() / "pycache")
    from crate_app.gui.app import main as gui_main

    return gui_main() or 0


if __name__ == "__main__":
    sys.exit(main())
