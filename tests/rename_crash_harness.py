"""Kill-and-resume trials of `crate-cli rename` (SIGKILL at random moments), for the crash test and
the rename benchmark's crash-trial mode.  POSIX only (SIGKILL)."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from audiofactory import write_audio
from clirunner import crate_cli, json_lines

ROOT = Path(__file__).resolve().parents[1]


def cli(library: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = crate_cli(*args, library=library)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def cli_json(library: Path, *args: str) -> list[dict]:
    return json_lines(cli(library, *args, "--json").stdout)


def start_cli(library: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "crate_app.cli.main", "--library", str(library), *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> content hash of every file below root."""
    return {str(p.relative_to(root)): digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


def query_count(library: Path, sql: str) -> int:
    try:
        conn = sqlite3.connect(f"file:{library}?mode=ro", uri=True, timeout=0.05)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def moving_batches(library: Path) -> int:
    """Batches whose steps have started (status set to running right before the first move)."""
    return query_count(library, "SELECT COUNT(*) FROM rename_batches WHERE status != 'pending'")


def steps_done_in_latest_batch(library: Path) -> int:
    return query_count(
        library,
        "SELECT COUNT(*) FROM rename_steps WHERE status = 'done' "
        "AND batch_id = (SELECT MAX(id) FROM rename_batches)",
    )


def kill_at_random(
    process: subprocess.Popen[str], rng: random.Random, library: Path, *, while_moving_after: int | None
) -> bool:
    """SIGKILL the process at a random moment; returns whether it was still running.

    With ``while_moving_after`` (the number of started batches before this process began) it is
    killed while its files are moving: 0-3 ms after the batch starts, or after its first
    group of steps is committed (a 240-file batch takes ~15-30 ms here; a group is 64 steps).
    Otherwise at a random time after start (start-up, planning, or moving).
    """
    if while_moving_after is None:
        time.sleep(rng.uniform(0.05, 0.6))
    else:
        committed = rng.choice([0, 64])
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if moving_batches(library) > while_moving_after and (
                committed == 0 or steps_done_in_latest_batch(library) >= committed
            ):
                break
            time.sleep(0.0002)
        time.sleep(rng.uniform(0, 0.003))
    running = process.poll() is None
    if running:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return running


def check_consistent(
    library: Path, roots: Sequence[Path], originals: dict[str, str], by_track: dict[int, str]
) -> None:
    current = {str(root / name): hashed for root in roots for name, hashed in snapshot(root).items()}
    assert sorted(current.values()) == sorted(originals.values()), "a file was lost or duplicated"
    leftovers = [p for p in current if ".crate-" in p]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    for track in cli_json(library, "ls", "--limit", "10000000"):
        path = Path(track["path"])
        assert path.exists(), f"track {track['id']} points at a path that does not exist: {path}"
        assert digest(path) == by_track[track["id"]], f"track {track['id']} points at another track's file"


TEMPLATES = ("in/{title}", "{artist}/{album}/{track:02}", "{album}/{artist} - {title}", "in/{title}")


@dataclass
class TrialReport:
    trials: int
    interrupted_mid_batch: int
    consistent: int  # trials after which nothing was lost and the library matched the disk
    undo_restored: bool


def make_files(root: Path, count: int) -> None:
    """Files named after the next track's title, so renaming to {title} is one big cycle that must go
    through a temporary name; artists make folders and collisions make "(2)" names."""
    for i in range(count):
        write_audio(
            root / "in" / f"{(i + 1) % count:03d}.mp3",
            {
                "title": f"{i:03d}",
                "artist": f"Artist {i % 7}",
                "album": f"Album {i % 3}",
                "track": i % 12 + 1,
            },
        )


def run_trials(tmp: Path, *, files: int, trials: int, seed: int, other_fs: Path | None = None) -> TrialReport:
    """Scan ``files`` real files, then run ``trials`` renames killed at random and resumed; raises
    AssertionError with the reason at the first inconsistency, and finally undoes every batch (each undo
    killed at random too, then resumed).  With ``other_fs`` (a folder on another filesystem), every
    batch moves the files across: to it, then back under the library folder, and so on."""
    rng = random.Random(seed)
    root = tmp / "music"
    roots = [root] if other_fs is None else [root, other_fs]
    library = tmp / "lib.sqlite"
    make_files(root, files)
    cli(library, "scan", str(root))
    originals = snapshot(root)
    by_track = {t["id"]: digest(Path(t["path"])) for t in cli_json(library, "ls", "--limit", "10000000")}
    assert len(by_track) == files
    interrupted = consistent = 0
    for trial in range(trials):
        template = TEMPLATES[trial % len(TEMPLATES)]
        across = () if other_fs is None else ("--dest", str(roots[(trial + 1) % 2] / f"trial{trial}"))
        process = start_cli(library, "rename", "--template", template, "--remove-empty-folders", *across)
        # One trial in five is killed at any moment (often before the journal exists), the others
        # while files are moving.
        moving = None if trial % 5 == 4 else moving_batches(library)
        killed = kill_at_random(process, rng, library, while_moving_after=moving)
        latest = query_count(library, "SELECT COUNT(*) FROM rename_batches WHERE status = 'running'")
        interrupted += killed and latest > 0  # it died with files moving
        if rng.random() < 0.5:  # sometimes the resume is killed too
            kill_at_random(start_cli(library, "rename", "--resume"), rng, library, while_moving_after=None)
        batches = cli_json(library, "rename", "--list")
        if batches and batches[0]["status"] in ("running", "paused", "pending"):
            # Any next start of crate-cli tells the user about it.
            assert "unfinished rename" in cli(library, "stats").stderr
            result = cli(library, "rename", "--resume", "--json", check=False)
            assert result.stdout, (result.returncode, result.stderr)
            summary = json.loads(result.stdout.splitlines()[-1])
            assert summary["status"] == "done" and summary["failed"] == 0, result.stderr
        check_consistent(library, roots, originals, by_track)
        consistent += 1
    # Undo every batch, newest first, each undo killed at a random moment and then finished: the
    # original layout comes back.
    for number, info in enumerate(cli_json(library, "rename", "--list")):
        if info["kind"] == "rename" and info["status"] in ("done", "cancelled"):
            moving = None if number % 3 == 2 else moving_batches(library)  # mostly while files move
            undo = start_cli(library, "rename", "--undo", str(info["batch"]))
            kill_at_random(undo, rng, library, while_moving_after=moving)
            latest = cli_json(library, "rename", "--list")[0]
            if latest["kind"] != "undo" or latest["undo_of"] != info["batch"]:
                cli(library, "rename", "--undo", str(info["batch"]))  # killed before the undo was journaled
            elif latest["status"] in ("running", "paused", "pending"):
                result = cli(library, "rename", "--resume", "--json", check=False)
                assert result.stdout, (result.returncode, result.stderr)
                assert json.loads(result.stdout.splitlines()[-1])["failed"] == 0, result.stderr
            check_consistent(library, roots, originals, by_track)
    restored = snapshot(root) == originals
    check_consistent(library, roots, originals, by_track)
    return TrialReport(trials, interrupted, consistent, restored)
