"""Library.limit_memory: a reading process can shrink its own connections' caches."""

from __future__ import annotations

import threading
from pathlib import Path

from crate_app.store.library import PRAGMAS, open_library


def test_limit_memory_applies_to_this_threads_connection_only(tmp_path: Path) -> None:
    library = open_library(tmp_path / "lib.sqlite")
    library.limit_memory(cache_mb=8, mmap_mb=0)
    assert library.execute("PRAGMA cache_size").fetchone()[0] == -8 * 1024
    assert library.execute("PRAGMA mmap_size").fetchone()[0] == 0
    other: list[int] = []
    thread = threading.Thread(target=lambda: other.append(library.execute("PRAGMA mmap_size").fetchone()[0]))
    thread.start()
    thread.join()
    assert other == [PRAGMAS["mmap_size"]]
    library.close()
