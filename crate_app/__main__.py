"""``python -m crate_app`` opens the library window."""

import sys

from crate_app.gui.app import main

sys.exit(main())
