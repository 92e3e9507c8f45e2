"""Backups through SQLite's online backup API, rotation, integrity check and restore, on real files."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest
from clirunner import crate_cli, json_lines

from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.hygiene import backup
from crate_app.store import writer
from crate_app.store.library import open_library


def _library_with_rows(path: Path, rows: int) -> None:
    library = open_library(path)
    writer.upsert_scanned(
        library,
        [ScannedFile(f"/music/{i}.mp3", 1000 + i, 1.0, TagInfo(title=f"title {i}")) for i in range(rows)],
    )
    library.close()


def _count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
    finally:
        conn.close()


def test_backup_is_a_verified_copy_and_rotation_keeps_the_newest(tmp_path: Path) -> None:
    lib = tmp_path / "lib.sqlite"
    _library_with_rows(lib, 500)
    root = tmp_path / "backups"
    steps: list[tuple[int, int]] = []
    made = [
        backup.create_backup(lib, keep=2, root=root, now=1_000_000 + i * 10, step_pages=4,
                             progress=lambda d, t: steps.append((d, t)))
        for i in range(3)
    ]  # fmt: skip
    assert len(steps) > 3  # it went in steps
    listed = backup.list_backups(lib, root)
    assert [b.path for b in listed] == [made[2].path, made[1].path]  # newest first, oldest pruned
    assert not made[0].path.exists()
    assert _count(listed[0].path) == 500
    assert backup.quick_check(listed[0].path) is None
    assert not backup.backup_due(lib, now=1_000_020 + 3600, root=root)
    assert backup.backup_due(lib, now=1_000_020 + backup.DAY_SECONDS + 1, root=root)


def test_backup_while_another_thread_writes(tmp_path: Path) -> None:
    lib = tmp_path / "lib.sqlite"
    _library_with_rows(lib, 2000)
    library = open_library(lib)
    stop = threading.Event()

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            writer.upsert_scanned(library, [ScannedFile(f"/new/{n}.mp3", 1, 1.0, TagInfo())])
            n += 1
        library.close()

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        made = backup.create_backup(lib, root=tmp_path / "b", step_pages=1)
    finally:
        stop.set()
        thread.join()
    assert backup.quick_check(made.path) is None
    assert _count(made.path) >= 2000


def test_damaged_library_is_detected_and_restore_keeps_it_aside(tmp_path: Path) -> None:
    lib = tmp_path / "lib.sqlite"
    _library_with_rows(lib, 3000)
    root = tmp_path / "backups"
    good = backup.create_backup(lib, root=root)
    assert backup.quick_check(lib) is None
    # Damage the middle of the file (pages of the tracks table and its indexes).
    size = lib.stat().st_size
    with open(lib, "r+b") as handle:
        handle.seek(size // 2)
        handle.write(os.urandom(8192))
    damaged_bytes = lib.read_bytes()
    assert backup.quick_check(lib) is not None
    assert backup.newest_good_backup(lib, root).path == good.path
    aside = backup.restore(lib, good.path)
    assert aside is not None and aside.read_bytes() == damaged_bytes  # kept, never deleted
    assert backup.quick_check(lib) is None and _count(lib) == 3000


def test_a_damaged_backup_is_not_restored(tmp_path: Path) -> None:
    lib = tmp_path / "lib.sqlite"
    _library_with_rows(lib, 10)
    junk = tmp_path / "junk.crate-backup.sqlite"
    junk.write_bytes(b"not a database" * 100)
    before = lib.read_bytes()
    with pytest.raises(backup.BackupError, match="cannot be used"):
        backup.restore(lib, junk)
    assert lib.read_bytes() == before


def test_session_marker_tells_an_unclean_exit(tmp_path: Path) -> None:
    marker = backup.SessionMarker(tmp_path / "lib.sqlite")
    assert not marker.unclean()
    marker.begin()
    assert backup.SessionMarker(tmp_path / "lib.sqlite").unclean()  # what the next start sees
    marker.end()
    assert not marker.unclean()


def test_cli_backup_create_list_restore(tmp_path: Path) -> None:
    lib = tmp_path / "lib.sqlite"
    _library_with_rows(lib, 50)
    env = {"CRATE_HOME": str(tmp_path / "home")}
    created = crate_cli("backup", "create", "--json", library=lib, env=env)
    assert created.returncode == 0, created.stderr
    made = json_lines(created.stdout)[0]
    assert Path(made["path"]).is_file() and made["size"] > 0
    listed = crate_cli("backup", "list", "--json", library=lib, env=env)
    assert [b["path"] for b in json_lines(listed.stdout)] == [made["path"]]
    library = open_library(lib)
    with library.write() as conn:
        conn.execute("DELETE FROM tracks")
    library.close()
    restored = crate_cli("backup", "restore", "--json", library=lib, env=env)
    assert restored.returncode == 0, restored.stderr
    outcome = json_lines(restored.stdout)[0]
    assert _count(lib) == 50 and _count(Path(outcome["set_aside"])) == 0
    missing = crate_cli("backup", "restore", str(tmp_path / "nope.sqlite"), library=lib, env=env)
    assert missing.returncode == 2 and "no backup file" in missing.stderr


def test_a_restore_chosen_in_the_window_happens_before_the_next_open(tmp_path: Path) -> None:
    lib = tmp_path / "lib.sqlite"
    _library_with_rows(lib, 20)
    root = tmp_path / "backups"
    chosen = backup.create_backup(lib, root=root, keep=1, now=1_000_000)
    backup.schedule_restore(lib, chosen.path)
    library = open_library(lib)
    writer.upsert_scanned(library, [ScannedFile("/later.mp3", 1, 1.0, TagInfo())])
    library.close()
    backup.create_backup(lib, root=root, keep=1, now=1_000_100)  # at quit: never prunes the chosen one
    assert chosen.path.exists()
    aside = backup.restore_pending(lib)
    assert _count(lib) == 20 and _count(aside) == 21
    assert backup.pending_restore(lib) is None and backup.restore_pending(lib) is None
