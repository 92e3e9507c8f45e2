"""Crash safety of batch renames: a real `crate-cli rename` is killed with SIGKILL at random moments.

After `--resume`, every original file (by content hash) must exist exactly once, every track's stored
path must exist on disk with that track's content, and no temporary or part file may be left; an
undo afterwards (killed and resumed too) must restore the original layout.  Once within a filesystem,
once across two.  (More trials: tests/benchmarks/rename_bench.py.)
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX-only")


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    from rename_crash_harness import run_trials

    seed = int(os.environ.get("CRATE_CRASH_SEED", "20261122"))
    report = run_trials(tmp_path, files=240, trials=6, seed=seed)
    assert report.consistent == 6
    assert report.interrupted_mid_batch >= 2, "the kills did not land in the middle of batches often enough"
    assert report.undo_restored, "undoing every batch did not restore the original layout"


def test_sigkill_while_moving_across_filesystems_loses_nothing(
    tmp_path: Path, other_filesystem: Path
) -> None:
    # Every batch crosses filesystems (copy, verify, put in place, delete the source): kills land
    # between those steps too.
    from rename_crash_harness import run_trials

    seed = int(os.environ.get("CRATE_CRASH_SEED", "20261122"))
    report = run_trials(tmp_path, files=60, trials=4, seed=seed, other_fs=other_filesystem)
    assert report.consistent == 4
    assert report.undo_restored, "undoing every batch did not restore the original layout"
