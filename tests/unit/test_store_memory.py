"""Library.limit_memory: a reading process can shrink its own connections' caches."""

from __future__ import annotations

import gc
import sqlite3
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


def _is_open(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
        return False
    return True


def test_a_finished_threads_connection_is_closed_by_the_next_connect(tmp_path: Path) -> None:
    # A connection is in a reference cycle with its statement cache: without the store's help it would
    # stay open (with its page cache) until the cyclic collector happens to run; here it cannot run.
    library = open_library(tmp_path / "lib.sqlite")
    seen: list[sqlite3.Connection] = []

    def use_library() -> None:
        library.count()
        seen.append(library.db.connection())

    gc.disable()
    try:
        threads = [threading.Thread(target=use_library) for _ in range(3)]
        for thread in threads:
            thread.start()
            thread.join()
        assert len(seen) == 3 and len({id(conn) for conn in seen}) == 3
        assert not any(_is_open(conn) for conn in seen[:2])  # closed when the next thread connected
        late = threading.Thread(target=library.count)
        late.start()
        late.join()
        assert not _is_open(seen[2])
    finally:
        gc.enable()
    assert _is_open(library.db.connection())  # this thread's own connection is untouched
    library.close()
