"""``crate-cli crate ...`` and ``ls --crate``: the command-line contract (names, flags, JSON keys, exit
codes), in a subprocess on a real library file."""

from __future__ import annotations

from pathlib import Path

import pytest
from clirunner import crate_cli, json_lines

from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.store import writer
from crate_app.store.library import open_library

GENRES = ("House", "Techno", "Disco")


@pytest.fixture
def library_file(tmp_path: Path) -> Path:
    path = tmp_path / "library.sqlite"
    library = open_library(path)
    items = [
        ScannedFile(
            f"/music/{n:03d}.mp3",
            1000,
            1.0,
            TagInfo(artist=f"Artist {n % 5}", title=f"Song {n:03d}", genre=GENRES[n % 3], bpm=100.0 + n),
        )
        for n in range(30)
    ]
    writer.upsert_scanned(library, items)
    library.close()
    return path


def run(library: Path, *args: str, code: int = 0):
    result = crate_cli(*args, library=library)
    assert result.returncode == code, (args, result.stdout, result.stderr)
    return result


def test_new_add_remove_list_ls_mv_rm(library_file: Path) -> None:
    (made,) = json_lines(run(library_file, "crate", "new", "Sets/2026/Berlin", "--json").stdout)
    assert made == {"id": 3, "path": "Sets/2026/Berlin", "name": "Berlin", "kind": "crate", "tracks": 0,
                    "query": None}  # fmt: skip
    (smart,) = json_lines(run(library_file, "crate", "new", "Fast", "--smart", "bpm:>120", "--json").stdout)
    assert (smart["kind"], smart["tracks"], smart["query"]) == ("smart", 9, "bpm:>120")
    added = json_lines(run(library_file, "crate", "add", "Sets/2026/Berlin", "genre:house", "--sort", "bpm",
                           "--desc", "--json").stdout)  # fmt: skip
    assert added == [{"added": 10, "already": 0, "tracks": 10}]
    again = json_lines(run(library_file, "crate", "add", "sets/2026/berlin", "genre:house OR genre:disco",
                           "--json").stdout)  # fmt: skip
    assert again == [{"added": 10, "already": 10, "tracks": 20}]
    removed = json_lines(
        run(library_file, "crate", "remove", "Sets/2026/Berlin", "bpm:<106", "--json").stdout
    )
    assert removed == [{"removed": 4, "absent": 2, "tracks": 16}]  # 100-105: 4 in it, 2 (techno) not
    listed = json_lines(run(library_file, "crate", "list", "--json").stdout)
    assert [set(row) for row in listed] == [{"id", "path", "name", "kind", "tracks", "query"}] * 3 + [
        {"id", "path", "name", "kind", "tracks", "query", "sort", "descending", "limit"}
    ]
    assert [(r["path"], r["kind"], r["tracks"]) for r in listed] == [
        ("Sets", "folder", None), ("Sets/2026", "folder", None), ("Sets/2026/Berlin", "crate", 16),
        ("Fast", "smart", 9),
    ]  # fmt: skip
    rows = json_lines(run(library_file, "ls", "--crate", "Sets/2026/Berlin", "--json").stdout)
    titles = [r["title"] for r in rows]
    houses = [f"Song {n:03d}" for n in range(29, 5, -1) if n % 3 == 0]  # added by bpm, descending
    discos = sorted((f"Song {n:03d}" for n in range(30) if n % 3 == 2 and n >= 6), key=lambda t: (
        f"Artist {int(t[5:]) % 5}", int(t[5:])))  # fmt: skip
    assert titles == houses + discos  # crate order: the first add, then the second (by artist)
    by_bpm = json_lines(run(library_file, "ls", "--crate", "Sets/2026/Berlin", "--sort", "bpm", "--json",
                            "--limit", "3").stdout)  # fmt: skip
    assert [r["bpm"] for r in by_bpm] == [106.0, 108.0, 109.0]  # house 6, disco 8, house 9
    assert run(library_file, "crate", "list").stdout.splitlines() == [
        "Sets/", "  2026/", "    Berlin  (16 tracks)", "Fast  (9 tracks, smart: bpm:>120)",
    ]  # fmt: skip
    run(library_file, "crate", "mv", "Sets/2026/Berlin", "Gigs/Berlin 2026")
    moved = [r["path"] for r in json_lines(run(library_file, "crate", "list", "--json").stdout)]
    assert moved == ["Sets", "Sets/2026", "Fast", "Gigs", "Gigs/Berlin 2026"]
    failed = run(library_file, "crate", "rm", "Sets", code=2)
    assert "is a folder" in failed.stderr and "--recursive" in failed.stderr
    run(library_file, "crate", "rm", "Sets", "--recursive")
    run(library_file, "crate", "rm", "Gigs/Berlin 2026")
    assert [r["path"] for r in json_lines(run(library_file, "crate", "list", "--json").stdout)] == [
        "Fast",
        "Gigs",
    ]


def test_errors_in_words_with_exit_codes(library_file: Path) -> None:
    run(library_file, "crate", "new", "Sets/Berlin")
    unknown = run(library_file, "crate", "add", "Sets/Paris", "house", code=3)
    assert unknown.stderr.startswith("crate-cli: error: no crate 'Sets/Paris'")
    assert "the folder 'Sets' has no 'Paris'" in unknown.stderr
    bad = run(library_file, "crate", "new", "Broken", "--smart", "genre:house (bpm:>120", code=2)
    assert "position 13" in bad.stderr and "closing ')' missing" in bad.stderr
    folder = run(library_file, "crate", "add", "Sets", "house", code=2)
    assert "'Sets' is a folder" in folder.stderr
    assert "no crate" in run(library_file, "ls", "--crate", "Nowhere", code=3).stderr
    assert "is a folder" in run(library_file, "ls", "--crate", "Sets", code=2).stderr
    taken = run(library_file, "crate", "new", "sets/BERLIN", code=2)
    assert "exists already" in taken.stderr
    slash = json_lines(run(library_file, "crate", "new", "Sets/AC\\/DC", "--json").stdout)[0]
    assert (slash["name"], slash["path"]) == ("AC/DC", "Sets/AC\\/DC")
    assert "has an empty name" in run(library_file, "crate", "new", "Sets/  ", code=2).stderr
    assert "characters long" in run(library_file, "crate", "new", "x" * 200, code=2).stderr


def test_without_json_a_new_node_is_named_in_words(library_file: Path) -> None:
    assert run(library_file, "crate", "new", "Gigs").stdout.strip() == "created the crate 'Gigs'"
    made = run(library_file, "crate", "new", "Fast", "--smart", "bpm:>120").stdout.strip()
    assert made == "created the smart crate 'Fast' (9 tracks)"
