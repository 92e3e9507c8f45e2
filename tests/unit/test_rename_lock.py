"""Two processes never run the same rename batch at once (rename/batch_lock.py), with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from clirunner import ROOT, crate_cli
from unit.test_rename_executor import add_files, contents, plan_of

from crate_app.domain.errors import RenameBusy
from crate_app.rename import executor
from crate_app.rename.batch_lock import BatchLock, lock_path, running_elsewhere
from crate_app.store import journal
from crate_app.store.library import Library

HOLDER = """
import sys
from pathlib import Path
from crate_app.rename import executor
from crate_app.store.library import open_library

library = open_library(Path(sys.argv[1]))

def should_stop():
    print("running", flush=True)
    sys.stdin.readline()  # the test says when to go on
    return False

print(executor.run_batch(library, int(sys.argv[2]), should_stop=should_stop).status, flush=True)
"""


def make_batch(library: Library, tmp_path: Path) -> tuple[int, Path]:
    root = tmp_path / "music"
    ids = add_files(library, root, ["a.mp3", "b.mp3"])
    plan = plan_of(
        (ids["a.mp3"], str(root / "a.mp3"), str(root / "A" / "a.mp3"), False),
        (ids["b.mp3"], str(root / "b.mp3"), str(root / "B" / "b.mp3"), False),
    )
    return executor.start_batch(library, plan, description="lock test"), root


def start_holder(library: Library, batch: int) -> subprocess.Popen[str]:
    """Another process running the batch with the real executor, stopped inside it until told."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(library.path), str(batch)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    line = holder.stdout.readline()
    assert line.strip() == "running", holder.stderr.read() if holder.stderr else line
    return holder


def test_a_batch_another_process_runs_is_refused_in_words(library: Library, tmp_path: Path) -> None:
    batch, root = make_batch(library, tmp_path)
    holder = start_holder(library, batch)
    try:
        assert running_elsewhere(library.path, batch) == holder.pid
        with pytest.raises(
            RenameBusy, match=rf"batch {batch} is being run by another Crate process \(pid {holder.pid}\)"
        ):
            executor.run_batch(library, batch)
        with pytest.raises(RenameBusy):
            executor.create_undo(library, batch)
        refused = crate_cli("rename", "--resume", str(batch), library=library.path, timeout=120)
        assert refused.returncode != 0
        assert f"pid {holder.pid}" in refused.stderr and "Traceback" not in refused.stderr
        assert (root / "a.mp3").exists() and (root / "b.mp3").exists()  # nothing moved by the refused runs
        holder.communicate("go\ngo\n", timeout=60)  # let the holder finish its batch
        assert holder.returncode == 0
    finally:
        if holder.poll() is None:
            holder.kill()
    assert journal.batch_info(library, batch).status == "done"
    assert sorted(contents(root)) == ["A/a.mp3", "B/b.mp3"]
    assert running_elsewhere(library.path, batch) is None
    assert not lock_path(library.path, batch).exists()  # the holder removed its lock file


def test_a_killed_holder_leaves_no_stale_lock(library: Library, tmp_path: Path) -> None:
    batch, root = make_batch(library, tmp_path)
    holder = start_holder(library, batch)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert running_elsewhere(library.path, batch) is None  # the OS dropped the dead process's lock
    result = executor.run_batch(library, batch)  # resumes where the killed process stopped
    assert result.status == "done"
    assert sorted(contents(root)) == ["A/a.mp3", "B/b.mp3"]


def test_the_lock_is_reentrant_for_its_thread_only(library: Library, tmp_path: Path) -> None:
    errors: list[Exception] = []

    def other_thread() -> None:
        try:
            BatchLock(library.path, 7).acquire()
        except RenameBusy as exc:
            errors.append(exc)

    with BatchLock(library.path, 7), BatchLock(library.path, 7):  # create_undo reconciles under its lock
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert running_elsewhere(library.path, 7) is None  # held here, not elsewhere
    assert [str(e) for e in errors] == ["rename batch 7 is already running in this window"]
    with BatchLock(library.path, 7):  # released: free again
        pass
