"""Moved and renamed files: a rescan keeps the track, relink finds files by content, never guesses;
a property test over random move/rename/copy/delete sequences on real files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from audiofactory import melody, write_audio, write_tags
from clirunner import crate_cli, json_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crate_app import crates as crate_tree
from crate_app.hygiene import hashing, relink
from crate_app.library.scanner import rescan_library, scan_paths
from crate_app.store.library import Library, open_library

RATE = 22050


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("originals")
    for i in range(4):
        write_audio(
            folder / f"{i}.mp3",
            {"artist": f"Artist {i}", "title": f"Title {i}"},
            samples=melody(i, 6, RATE),
            rate=RATE,
        )
    return folder


def _ids(library: Library) -> dict[str, int]:
    return {os.path.basename(p): i for i, p in library.execute("SELECT id, path FROM tracks")}


def _setup(tmp_path: Path, originals: Path) -> tuple[Library, Path]:
    root = tmp_path / "music"
    shutil.copytree(originals, root)
    library = open_library(tmp_path / "lib.sqlite")
    scan_paths(library, [root], workers=0)
    return library, root


def test_rescan_treats_a_vanished_and_reappeared_file_as_a_move(tmp_path: Path, originals: Path) -> None:
    library, root = _setup(tmp_path, originals)
    before = _ids(library)
    library.execute("UPDATE tracks SET analyzed_at = 1, bpm = 128.0 WHERE id = ?", (before["0.mp3"],))
    library.execute("UPDATE tracks SET rating = 4, color = 'red' WHERE id = ?", (before["0.mp3"],))
    (root / "sub").mkdir()
    os.rename(root / "0.mp3", root / "sub" / "renamed.mp3")
    summary = rescan_library(library, workers=0)
    assert (summary.moved, summary.added, summary.missing) == (1, 0, 0)
    (track,) = library.tracks_by_ids([before["0.mp3"]])
    assert track.path == str(root / "sub" / "renamed.mp3") and track.status == "ok" and track.bpm == 128.0
    assert (track.rating, track.color) == (4, "red")  # the file carries neither: the library's stay
    assert library.count() == 4
    library.close()


def test_two_identical_copies_are_not_guessed_between(tmp_path: Path, originals: Path) -> None:
    library, root = _setup(tmp_path, originals)
    before = _ids(library)
    shutil.copy(root / "1.mp3", root / "copy a.mp3")
    os.rename(root / "1.mp3", root / "copy b.mp3")
    summary = rescan_library(library, workers=0)
    assert (summary.moved, summary.added, summary.missing) == (0, 2, 1)
    assert library.tracks_by_ids([before["1.mp3"]])[0].status == "missing"
    library.close()


def test_relink_by_size_and_hash_then_fingerprint_and_ambiguous_left_to_the_user(
    tmp_path: Path, originals: Path
) -> None:
    library, root = _setup(tmp_path, originals)
    hashing.compute_hashes(library, hashing.tracks_to_hash(library, fingerprints=True), fingerprints=True)
    before = _ids(library)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "deep").mkdir(parents=True)
    shutil.move(root / "0.mp3", elsewhere / "deep" / "zero.mp3")  # moved: size and hash
    shutil.move(root / "1.mp3", elsewhere / "one.mp3")
    write_tags(elsewhere / "one.mp3", {"artist": "Retagged", "title": "Longer title " * 30})  # fingerprint
    shutil.copy(root / "2.mp3", elsewhere / "two a.mp3")  # two identical candidates: ambiguous
    shutil.move(root / "2.mp3", elsewhere / "two b.mp3")
    (root / "3.mp3").unlink()  # gone for good
    rescan_library(library, workers=0)
    assert library.stats()["missing"] == 4
    dry = crate_cli("relink", str(elsewhere), "--dry-run", "--json", library=tmp_path / "lib.sqlite")
    assert dry.returncode == 0, dry.stderr
    (report,) = json_lines(dry.stdout)
    assert set(report) == {"relinked", "ambiguous", "not_found", "seconds"}
    assert {r["id"] for r in report["relinked"]} == {before["0.mp3"], before["1.mp3"]}
    assert [a["id"] for a in report["ambiguous"]] == [before["2.mp3"]]
    assert len(report["ambiguous"][0]["candidates"]) == 2
    assert [n["id"] for n in report["not_found"]] == [before["3.mp3"]]
    assert library.stats()["missing"] == 4  # a dry run changes nothing
    plan = relink.plan_relink(library, str(elsewhere))
    relink.apply_relink(library, plan.relinked)
    moved = {t.id: t for t in library.tracks_by_ids([before["0.mp3"], before["1.mp3"]])}
    assert moved[before["0.mp3"]].path == str(elsewhere / "deep" / "zero.mp3")
    assert moved[before["1.mp3"]].status == "ok"
    relink.relink_one(library, before["2.mp3"], str(elsewhere / "two b.mp3"))  # the user's choice
    with pytest.raises(relink.RelinkError, match="already belongs"):
        relink.relink_one(library, before["3.mp3"], str(elsewhere / "two b.mp3"))
    assert library.stats()["missing"] == 1
    library.close()


NEW_NAMES = (("0.mp3", "01 Title 0.mp3"), ("1.mp3", "one.mp3"), ("2.mp3", "2.mp3"), ("3.mp3", "3.ogg"))


def test_in_a_big_folder_changed_files_are_looked_for_among_files_named_like_them(
    tmp_path: Path, originals: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library, root = _setup(tmp_path, originals)
    hashing.compute_hashes(library, hashing.tracks_to_hash(library, fingerprints=True), fingerprints=True)
    before = _ids(library)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(root / "0.mp3", elsewhere / "01 Title 0.mp3")  # a tagger's name, and its tags rewritten
    write_tags(
        elsewhere / "01 Title 0.mp3", {"artist": "Artist 0", "title": "Title 0", "comment": "x" * 5000}
    )
    shutil.move(root / "1.mp3", elsewhere / "one.mp3")  # renamed and re-tagged beyond recognition
    write_tags(elsewhere / "one.mp3", {"artist": "Retagged", "title": "Longer title " * 400})
    shutil.move(root / "2.mp3", elsewhere / "2.mp3")  # its old name, re-tagged
    write_tags(elsewhere / "2.mp3", {"artist": "Artist 2", "title": "Renamed", "comment": "y" * 5000})
    (root / "3.mp3").unlink()  # encoded again, as Ogg: only its fingerprint can tell
    write_audio(elsewhere / "3.ogg", {"artist": "Artist 3", "title": "Title 3"}, samples=melody(3, 6, RATE),
                rate=RATE)  # fmt: skip
    sizes = {p.name: p.stat().st_size for p in originals.iterdir()}
    assert all(sizes[old] != (elsewhere / new).stat().st_size for old, new in NEW_NAMES)  # not by size
    rescan_library(library, workers=0)
    fingerprinted: list[str] = []
    real = relink.fingerprint_file
    monkeypatch.setattr(
        relink, "fingerprint_file", lambda path, **kw: fingerprinted.append(path) or real(path, **kw)
    )
    monkeypatch.setattr(relink, "BLIND_POOL", 0)  # as in a folder of thousands of files
    plan = relink.plan_relink(library, str(elsewhere))
    assert {(i, Path(new).name) for i, _old, new in plan.relinked} == {
        (before["0.mp3"], "01 Title 0.mp3"),  # by their audio hash: the size changed with the tags
        (before["2.mp3"], "2.mp3"),
        (before["3.mp3"], "3.ogg"),  # by its fingerprint
    }
    assert [i for i, _old in plan.not_found] == [before["1.mp3"]]
    assert fingerprinted == [str(elsewhere / "3.ogg")]  # the only file decoded
    fingerprinted.clear()
    monkeypatch.setattr(relink, "BLIND_POOL", 200)  # a small folder: every file is a candidate
    plan = relink.plan_relink(library, str(elsewhere))
    assert len(plan.relinked) == 4 and not plan.ambiguous
    assert sorted(fingerprinted) == sorted(str(elsewhere / new) for _old, new in NEW_NAMES)  # each once
    fingerprinted.clear()
    monkeypatch.setattr(relink, "MAX_DECODES_PER_TRACK", 0)  # a bound on decoding: audio hashes still match
    plan = relink.plan_relink(library, str(elsewhere))
    assert len(plan.relinked) == 3 and [i for i, _old in plan.not_found] == [before["3.mp3"]]
    assert fingerprinted == []
    library.close()


def test_a_match_found_while_candidates_were_left_undecoded_is_left_to_the_user() -> None:
    def missing(track_id: int) -> relink._Missing:
        return relink._Missing(track_id, f"/old/{track_id}.mp3", 1, "mp3", "", "", 60.0, None, None)

    plan = relink.RelinkPlan()
    relink._decide(plan, [missing(1), missing(2)], {1: ["/new/a.mp3"], 2: ["/new/b.mp3"]}, unsure={2})
    assert plan.relinked == [(1, "/old/1.mp3", "/new/a.mp3")]
    assert plan.ambiguous == [(2, "/old/2.mp3", ["/new/b.mp3"])]


OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["move", "rename", "copy", "delete"]), st.integers(0, 99), st.integers(0, 2)),
    max_size=8,
)
FOLDERS = ("", "sub", os.path.join("sub", "deeper"))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_after_any_moves_every_file_is_in_the_library_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, originals: Path, operations: list[tuple[str, int, int]]
) -> None:
    tmp_path = tmp_path_factory.mktemp("property")
    library, root = _setup(tmp_path, originals)
    ids = _ids(library)
    crate = crate_tree.create_node(library, None, "set", "crate")
    crate_tree.add_tracks(library, crate.id, sorted(ids.values()))
    lineage = {str(root / name): ids[name] for name in ids}  # path -> the original track's id
    copied: set[int] = set()
    for counter, (operation, pick, folder) in enumerate(operations):
        if not lineage:
            break
        path = sorted(lineage)[pick % len(lineage)]
        origin = lineage[path]
        target = str(root / FOLDERS[folder] / f"n{counter}.mp3")
        if operation == "rename":
            target = os.path.join(os.path.dirname(path), f"r{counter}.mp3")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if operation in ("move", "rename"):
            os.rename(path, target)
            lineage[target] = lineage.pop(path)
        elif operation == "copy":
            shutil.copy2(path, target)
            lineage[target] = origin
            copied.add(origin)
        else:
            os.unlink(path)
            del lineage[path]
    rescan_library(library, workers=0)
    relink.apply_relink(library, relink.plan_relink(library, str(root)).relinked)
    on_disk = sorted(str(p) for p in root.rglob("*.mp3"))
    in_library = [p for (p,) in library.execute("SELECT path FROM tracks WHERE status = 'ok'")]
    assert sorted(in_library) == on_disk  # every file exactly once, no track on a file that is gone
    by_path = {t.path: t.id for t in library.tracks_by_ids(ids.values()) if t.status == "ok"}
    for path, origin in lineage.items():
        if origin not in copied:
            assert by_path.get(path) == origin  # a moved file keeps its track (and its crates, history)
    for origin in ids.values():  # every original track is still in the library
        assert library.tracks_by_ids([origin]), origin
    assert crate_tree.crate_track_ids(library, crate.id) == sorted(
        ids.values()
    )  # the crate keeps its members
    library.close()
