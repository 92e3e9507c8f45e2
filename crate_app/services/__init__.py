"""Qt services without widgets: background jobs (scan, analysis, rename) and their signals."""

from crate_app.services.refcounts import protect_singletons

protect_singletons()  # before any Qt call: see refcounts.py
