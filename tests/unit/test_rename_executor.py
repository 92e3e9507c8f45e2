"""The rename executor on real files and a real library: journal, no overwrite, pause, resume, undo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crate_app.domain.rename import PlannedMove, RenamePlan, RenameStep, StepKind
from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.rename import executor, fsops
from crate_app.store import journal, writer
from crate_app.store.library import Library


def add_files(library: Library, root: Path, names: list[str]) -> dict[str, int]:
    """Create real files with distinct content and add them to the library; name -> track id."""
    library.add_root(str(root))
    items = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"content of {name}".encode() * 50)
        items.append(ScannedFile(str(path), path.stat().st_size, path.stat().st_mtime, TagInfo(title=name)))
    writer.upsert_scanned(library, items)
    return {name: library.track_by_path(str(root / name)).id for name in names}


def plan_of(*steps: tuple[int, str, str, bool]) -> RenamePlan:
    rename_steps = tuple(RenameStep(tid, StepKind.MOVE, src, dst, temp) for tid, src, dst, temp in steps)
    moves = tuple(PlannedMove(tid, StepKind.MOVE, src, dst, dst) for tid, src, dst, temp in steps if not temp)
    return RenamePlan(steps=rename_steps, moves=moves, unchanged=(), failures=())


def contents(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_batch_moves_files_and_the_library_follows(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "music"
    ids = add_files(library, root, ["a.mp3", "b.mp3"])
    before = contents(root)
    plan = plan_of(
        (ids["a.mp3"], str(root / "a.mp3"), str(root / "Artist" / "A.mp3"), False),
        (ids["b.mp3"], str(root / "b.mp3"), str(root / "Artist" / "B.mp3"), False),
    )
    batch = executor.start_batch(library, plan, description="test")
    assert journal.batch_info(library, batch).pending == 2  # journal written before any move
    assert (root / "a.mp3").exists()
    result = executor.run_batch(library, batch)
    assert (result.status, result.moved, result.failed) == ("done", 2, 0)
    after = contents(root)
    assert after == {"Artist/A.mp3": before["a.mp3"], "Artist/B.mp3": before["b.mp3"]}
    track = library.tracks_by_ids([ids["a.mp3"]])[0]
    assert track.path == str(root / "Artist" / "A.mp3") and track.folder == str(root / "Artist")
    assert journal.batch_info(library, batch).status == "done"


def test_swap_through_a_temporary_name_and_undo(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "music"
    ids = add_files(library, root, ["a.mp3", "b.mp3"])
    a, b, tmp = str(root / "a.mp3"), str(root / "b.mp3"), str(root / ".crate-tmp-1.mp3")
    before = contents(root)
    plan = plan_of((ids["a.mp3"], a, tmp, True), (ids["b.mp3"], b, a, False), (ids["a.mp3"], tmp, b, False))
    result = executor.run_batch(library, executor.start_batch(library, plan))
    assert result.status == "done" and result.failed == 0
    assert contents(root) == {"a.mp3": before["b.mp3"], "b.mp3": before["a.mp3"]}
    assert library.tracks_by_ids([ids["a.mp3"]])[0].path == b
    undo = executor.create_undo(library, result.batch)
    assert executor.run_batch(library, undo).status == "done"
    assert contents(root) == before
    assert library.tracks_by_ids([ids["a.mp3"]])[0].path == a
    assert journal.batch_info(library, result.batch).status == "undone"


def test_never_overwrites_a_file_that_appeared_after_planning(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "music"
    ids = add_files(library, root, ["a.mp3"])
    target = root / "new.mp3"
    plan = plan_of((ids["a.mp3"], str(root / "a.mp3"), str(target), False))
    batch = executor.start_batch(library, plan)
    target.write_bytes(b"somebody else's file")
    result = executor.run_batch(library, batch)
    assert result.failed == 1 and "already exists" in result.errors[0][1]
    assert target.read_bytes() == b"somebody else's file"
    assert (root / "a.mp3").exists()
    assert library.tracks_by_ids([ids["a.mp3"]])[0].path == str(root / "a.mp3")


def test_a_replaced_source_is_left_alone(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "music"
    ids = add_files(library, root, ["a.mp3"])
    plan = plan_of((ids["a.mp3"], str(root / "a.mp3"), str(root / "b.mp3"), False))
    batch = executor.start_batch(library, plan)
    (root / "a.mp3").unlink()
    (root / "a.mp3").write_bytes(b"a different file with the same name")
    result = executor.run_batch(library, batch)
    assert result.failed == 1 and "replaced or changed" in result.errors[0][1]
    assert (root / "a.mp3").read_bytes() == b"a different file with the same name"
    assert not (root / "b.mp3").exists()


def test_pause_stops_between_steps_and_resume_finishes(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "music"
    names = [f"t{i:02d}.mp3" for i in range(20)]
    ids = add_files(library, root, names)
    before = contents(root)
    plan = plan_of(*((ids[n], str(root / n), str(root / "sorted" / n), False) for n in names))
    batch = executor.start_batch(library, plan)
    calls = {"n": 0}

    def stop_after_seven() -> bool:
        calls["n"] += 1
        return calls["n"] > 7

    first = executor.run_batch(library, batch, should_stop=stop_after_seven, group_size=3)
    assert (first.status, first.moved) == ("paused", 7)
    assert [info.id for info in journal.unfinished_batches(library)] == [batch]
    second = executor.run_batch(library, batch)
    assert (second.status, second.moved) == ("done", 13)
    assert contents(root) == {f"sorted/{n}": before[n] for n in names}
    assert journal.unfinished_batches(library) == []


def test_pause_waits_until_no_file_sits_at_a_temporary_name(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "music"
    ids = add_files(library, root, ["a.mp3", "b.mp3"])
    a, b, tmp = str(root / "a.mp3"), str(root / "b.mp3"), str(root / ".tmp.mp3")
    plan = plan_of((ids["a.mp3"], a, tmp, True), (ids["b.mp3"], b, a, False), (ids["a.mp3"], tmp, b, False))
    calls = {"n": 0}

    def stop_after_first() -> bool:
        calls["n"] += 1
        return calls["n"] > 1

    result = executor.run_batch(library, executor.start_batch(library, plan), should_stop=stop_after_first)
    assert result.status == "done"  # the swap had to complete before it could stop
    assert not Path(tmp).exists()


def test_resume_after_a_crash_between_move_and_commit(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "music"
    ids = add_files(library, root, ["a.mp3", "b.mp3", "c.mp3"])
    before = contents(root)
    plan = plan_of(
        *((ids[n], str(root / n), str(root / "x" / n), False) for n in ("a.mp3", "b.mp3", "c.mp3"))
    )
    batch = executor.start_batch(library, plan)
    # What a killed process leaves: the first two files moved, nothing committed.
    for name in ("a.mp3", "b.mp3"):
        fsops.move_file(str(root / name), str(root / "x" / name))
    result = executor.run_batch(library, batch)
    assert result.status == "done" and result.failed == 0
    assert contents(root) == {f"x/{n}": before[n] for n in ("a.mp3", "b.mp3", "c.mp3")}
    for name, track_id in ids.items():
        assert library.tracks_by_ids([track_id])[0].path == str(root / "x" / name)


def test_cross_filesystem_moves_copy_verify_then_delete(
    library: Library, tmp_path: Path, other_filesystem: Path
) -> None:
    root = tmp_path / "music"
    ids = add_files(library, root, ["a.mp3"])
    original = (root / "a.mp3").read_bytes()
    usb = other_filesystem / "usb"
    plan = plan_of((ids["a.mp3"], str(root / "a.mp3"), str(usb / "a.mp3"), False))
    result = executor.run_batch(library, executor.start_batch(library, plan))
    assert result.moved == 1
    assert (usb / "a.mp3").read_bytes() == original
    assert (usb / "a.mp3").stat().st_dev != root.stat().st_dev  # really copied across
    assert not (root / "a.mp3").exists()
    assert not any(p.name.endswith(fsops.PART_SUFFIX) for p in other_filesystem.rglob("*"))
    assert library.tracks_by_ids([ids["a.mp3"]])[0].path == str(usb / "a.mp3")


def test_a_move_across_filesystems_killed_before_the_source_was_deleted(
    library: Library, tmp_path: Path, other_filesystem: Path
) -> None:
    import shutil

    root = tmp_path / "music"
    ids = add_files(library, root, ["a.mp3", "b.mp3"])
    usb = other_filesystem / "usb"
    batch = executor.start_batch(
        library,
        plan_of(*((ids[n], str(root / n), str(usb / n), False) for n in ("a.mp3", "b.mp3"))),
    )
    journal.set_batch_status(library, batch, "running")
    # What a kill leaves: a's verified copy in place, a's source not deleted yet ...
    usb.mkdir()
    shutil.copy2(root / "a.mp3", usb / "a.mp3")
    # ... and, for b, a file of the same size but other bytes at the target: never deleted or replaced.
    stranger = bytes(reversed((root / "b.mp3").read_bytes()))
    (usb / "b.mp3").write_bytes(stranger)
    result = executor.run_batch(library, batch)
    assert (result.moved, result.failed) == (1, 1)
    assert not (root / "a.mp3").exists() and library.tracks_by_ids([ids["a.mp3"]])[0].path == str(
        usb / "a.mp3"
    )
    assert (root / "b.mp3").exists() and (usb / "b.mp3").read_bytes() == stranger
    assert result.errors == [
        (str(root / "b.mp3"), "a file already exists at the new path; nothing was overwritten")
    ]


def test_failed_copy_keeps_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "a.mp3"
    source.write_bytes(b"x" * 10_000)

    def broken_digest(path: str) -> tuple[int, str]:
        return 10_000, "not the right hash"

    monkeypatch.setattr(fsops, "file_digest", broken_digest)
    with pytest.raises(OSError, match="verification failed"):
        fsops.copy_verify_move(str(source), str(tmp_path / "b.mp3"))
    assert source.read_bytes() == b"x" * 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp3"]


def test_empty_folders_are_removed_up_to_the_root(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "music"
    ids = add_files(library, root, ["old/deep/a.mp3", "keep/b.mp3", "keep/c.mp3"])
    plan = plan_of(
        (ids["old/deep/a.mp3"], str(root / "old/deep/a.mp3"), str(root / "new/a.mp3"), False),
        (ids["keep/b.mp3"], str(root / "keep/b.mp3"), str(root / "new/b.mp3"), False),
    )
    batch = executor.start_batch(library, plan, remove_empty_folders=True)
    executor.run_batch(library, batch)
    assert not (root / "old").exists()
    assert (root / "keep" / "c.mp3").exists()
    assert root.exists()


def test_undo_of_an_interrupted_batch(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "music"
    names = ["a.mp3", "b.mp3", "c.mp3"]
    ids = add_files(library, root, names)
    before = contents(root)
    plan = plan_of(*((ids[n], str(root / n), str(root / "y" / n), False) for n in names))
    batch = executor.start_batch(library, plan)
    journal.set_batch_status(library, batch, "running")
    fsops.move_file(str(root / "a.mp3"), str(root / "y" / "a.mp3"))  # moved, then the power went out
    undo = executor.create_undo(library, batch)
    assert executor.run_batch(library, undo).status == "done"
    assert {k: v for k, v in contents(root).items()} == before
    assert library.tracks_by_ids([ids["a.mp3"]])[0].path == str(root / "a.mp3")
    assert journal.batch_info(library, batch).status == "undone"
    assert os.listdir(root / "y") == []


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even ``finally`` commits."""


def _run_killed_before_any_commit(library: Library, batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the whole batch on disk, then die before the journal records any of it."""
    with monkeypatch.context() as patched:

        def die(conn, outcomes) -> None:
            raise _Killed

        patched.setattr(journal, "record_outcomes", die)
        with pytest.raises(_Killed):
            executor.run_batch(library, batch)
    journal.set_batch_status(library, batch, "running")  # as the killed process left it


def _rotation(library: Library, root: Path) -> tuple[dict[str, int], RenamePlan]:
    """a -> b -> c -> a: a cycle, so a's file goes through a temporary name (a -> tmp -> b)."""
    ids = add_files(library, root, ["a.mp3", "b.mp3", "c.mp3"])
    a, b, c, tmp = (str(root / n) for n in ("a.mp3", "b.mp3", "c.mp3", ".crate-rename-1.tmp"))
    plan = plan_of(
        (ids["a.mp3"], a, tmp, True),
        (ids["c.mp3"], c, a, False),
        (ids["b.mp3"], b, c, False),
        (ids["a.mp3"], tmp, b, False),
    )
    return ids, plan


def _cycle_killed_before_any_commit(library: Library, root: Path, monkeypatch: pytest.MonkeyPatch):
    """The rotation journaled and carried out on disk, then killed: (ids, contents before, batch)."""
    ids, plan = _rotation(library, root)
    before = contents(root)
    batch = executor.start_batch(library, plan)
    _run_killed_before_any_commit(library, batch, monkeypatch)
    return ids, before, batch


def test_resume_after_a_whole_cycle_moved_but_none_was_committed(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file that went a -> temporary -> b is at neither end of its first step: that step was done
    # too.  Resume used to call it "replaced", and then failed on the library's unique paths.
    root = tmp_path / "music"
    ids, before, batch = _cycle_killed_before_any_commit(library, root, monkeypatch)
    assert contents(root) == {"a.mp3": before["c.mp3"], "b.mp3": before["a.mp3"], "c.mp3": before["b.mp3"]}
    result = executor.run_batch(library, batch)
    assert (result.status, result.failed, result.errors) == ("done", 0, [])
    for name, now in (("a.mp3", "b.mp3"), ("b.mp3", "c.mp3"), ("c.mp3", "a.mp3")):
        assert library.tracks_by_ids([ids[name]])[0].path == str(root / now)


def test_undo_after_a_whole_cycle_moved_but_none_was_committed(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "music"
    ids, before, batch = _cycle_killed_before_any_commit(library, root, monkeypatch)
    undo = executor.create_undo(library, batch)
    assert executor.run_batch(library, undo).status == "done"
    assert contents(root) == before
    for name, track_id in ids.items():
        assert library.tracks_by_ids([track_id])[0].path == str(root / name)


def test_an_undo_killed_before_any_commit_resumes(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The undo of a cycle is a cycle too: its file through the temporary name must keep one identity
    # along its chain, or resuming cannot tell that it moved on.
    root = tmp_path / "music"
    ids, plan = _rotation(library, root)
    before = contents(root)
    assert executor.run_batch(library, executor.start_batch(library, plan)).status == "done"
    undo = executor.create_undo(library, journal.list_batches(library)[0].id)
    _run_killed_before_any_commit(library, undo, monkeypatch)
    assert contents(root) == before  # every file went back before the kill ...
    result = executor.run_batch(library, undo)  # ... and the resume records it, without failing
    assert (result.status, result.failed, result.errors) == ("done", 0, [])
    for name, track_id in ids.items():
        assert library.tracks_by_ids([track_id])[0].path == str(root / name)
