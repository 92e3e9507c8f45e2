"""Library hygiene without Qt: backups and integrity checks, duplicates, relinking moved files.

``backup``: rotating copies of the library file through SQLite's online backup API, the integrity
check after an unclean exit and restore (the damaged file is kept aside, never deleted).
``hashing``: the background pass that stores audio hashes (``library.audiohash``) and Chromaprint
fingerprints (``fingerprint``).  ``duplicates``: the three duplicate queries and "keep the best".
``dedupe``: removing duplicates reversibly.  ``relink``: matching missing tracks to files by content.
"""
