"""Exchange with other DJ software: rekordbox XML, Traktor NML, Serato crates, Engine DJ, M3U8.

No Qt and no store here except at the edges (``library_source`` for export, ``importer`` for import):
the format modules read and write the neutral records of ``model`` and stream, so that a million tracks
never sit in memory at once.
"""
