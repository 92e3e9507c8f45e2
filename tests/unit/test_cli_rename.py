"""crate-cli rename end to end, in a subprocess, on real files: dry run, batch, list, undo (the contract)."""

from __future__ import annotations

from pathlib import Path

from audiofactory import write_audio
from clirunner import crate_cli, json_lines


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_dry_run_then_a_batch_then_list_and_undo(tmp_path: Path) -> None:
    music = tmp_path / "music"
    write_audio(music / "one.mp3", {"artist": "Moodymann", "title": "Misled", "genre": "House"}, seconds=0.5)
    write_audio(music / "two.flac", {"artist": "Björk", "title": "Hyperballad"}, seconds=0.5)  # no genre
    write_audio(music / "three.ogg", {"artist": "DJ Koze", "title": "Pick Up", "genre": "House"}, seconds=0.5)
    library = tmp_path / "library.sqlite"
    assert crate_cli("scan", str(music), "--json", library=library).returncode == 0
    before = files_under(music)

    # A dry run lists the moves (JSON lines, summary last), names the field some files lack, moves nothing.
    dry = crate_cli(
        "rename", "--template", "{genre}/{artist} - {title}", "--dry-run", "--json", library=library
    )
    assert dry.returncode == 0, dry.stderr
    *moves, summary = json_lines(dry.stdout)
    assert summary == {
        "batch": None, "planned": 3, "moved": 0, "skipped": 0, "failed": 0, "conflicts": 0, "dry_run": True
    }  # fmt: skip
    assert {Path(m["dst"]).relative_to(music).as_posix() for m in moves} == {
        "House/Moodymann - Misled.mp3", "_/Björk - Hyperballad.flac", "House/DJ Koze - Pick Up.ogg",
    }  # fmt: skip
    assert "note: 1 track has no {genre} (a fallback helps: {genre|Unknown})" in dry.stderr
    assert files_under(music) == before

    # The batch: the JSON summary has the keys other tools rely on.
    done = crate_cli("rename", "--template", "{genre|Unsorted}/{artist} - {title}", "--json", library=library)
    assert done.returncode == 0, done.stderr
    result = json_lines(done.stdout)[-1]
    assert {"batch", "planned", "moved", "skipped", "failed"} <= result.keys()
    assert (result["planned"], result["moved"], result["skipped"], result["failed"]) == (3, 3, 0, 0)
    assert sorted(files_under(music)) == [
        "House/DJ Koze - Pick Up.ogg", "House/Moodymann - Misled.mp3", "Unsorted/Björk - Hyperballad.flac",
    ]  # fmt: skip
    listed = json_lines(crate_cli("rename", "--list", "--json", library=library).stdout)
    assert [b["batch"] for b in listed] == [result["batch"]] and listed[0]["status"] == "done"

    # Undo puts every file back, byte for byte.
    undo = crate_cli(
        "rename", "--undo", str(result["batch"]), "--json", "--remove-empty-folders", library=library
    )
    assert undo.returncode == 0, undo.stderr
    assert files_under(music) == before
    again = crate_cli("rename", "--undo", "999", library=library)
    assert again.returncode == 2 and "no rename batch 999" in again.stderr
