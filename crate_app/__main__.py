"""``python -m crate_app`` opens the library window."""

import sys

from crate_app.gui.app import main

# The guard matters: the scanner's worker processes are spawned, and spawning imports the parent's
# main module again (as __mp_main__); unguarded, every worker would open a window.
if __name__ == "__main__":
    sys.exit(main())
