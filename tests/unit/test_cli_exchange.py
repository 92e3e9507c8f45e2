"""crate-cli export / import end to end: real audio files, a real library, the JSON contract."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from audiofactory import write_audio
from clirunner import crate_cli, json_lines

NAMES = ["Björk & Co #1 100%.mp3", "Été.flac", "plain.mp3"]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("exchange-cli")
    music = base / "Music"
    for i, name in enumerate(NAMES):
        write_audio(
            music / name, {"artist": f"Artist {i}", "title": f"Title {i}", "bpm": str(120 + i), "key": "8A"}
        )
    lib = base / "lib.crate"
    assert crate_cli("scan", str(music), library=lib).returncode == 0
    return lib, music


def test_export_rekordbox_then_import_into_an_empty_library(tmp_path: Path, library) -> None:
    lib, _ = library
    dest = tmp_path / "out.xml"
    done = crate_cli("export", "rekordbox", str(dest), "--json", library=lib)
    assert done.returncode == 0, done.stderr
    summary = json_lines(done.stdout)[-1]
    assert set(summary) == {"tracks", "playlists", "skipped", "seconds"}
    assert summary["tracks"] == 3 and summary["skipped"] == 0

    empty = tmp_path / "empty.crate"
    done = crate_cli("import", "rekordbox", str(dest), "--json", library=empty)
    assert done.returncode == 0, done.stderr
    summary = json_lines(done.stdout)[-1]
    assert set(summary) == {"tracks", "playlists", "skipped", "seconds", "matched", "added", "not_found"}
    assert (summary["tracks"], summary["matched"], summary["added"], summary["not_found"]) == (3, 0, 3, 0)
    again = json_lines(crate_cli("import", "rekordbox", str(dest), "--json", library=empty).stdout)[-1]
    assert (again["matched"], again["added"]) == (3, 0)
    listed = json_lines(crate_cli("ls", "--json", library=empty).stdout)
    assert sorted(Path(t["path"]).name for t in listed) == sorted(NAMES)
    assert sorted(t["bpm"] for t in listed) == [120.0, 121.0, 122.0]


def test_export_with_a_map_and_import_back_with_the_reverse_map(tmp_path: Path, library) -> None:
    lib, music = library
    dest = tmp_path / "usb.nml"
    done = crate_cli("export", "traktor", str(dest), "--map", f"{music}=D:\\Music", "--json", library=lib)
    assert done.returncode == 0, done.stderr
    assert 'VOLUME="D:"' in dest.read_text("utf-8")
    other = tmp_path / "other.crate"
    summary = json_lines(
        crate_cli(
            "import", "traktor", str(dest), "--map", f"D:\\Music={music}", "--json", library=other
        ).stdout
    )[-1]
    assert (summary["added"], summary["not_found"]) == (3, 0)
    missing = json_lines(
        crate_cli("import", "traktor", str(dest), "--json", library=tmp_path / "x.crate").stdout
    )[-1]
    assert missing["not_found"] == 3


def test_export_m3u8_and_empty_from_means_the_library_folders(tmp_path: Path, library) -> None:
    lib, _ = library
    done = crate_cli(
        "export", "m3u8", str(tmp_path / "lists"), "--map", "=/Volumes/DJ/Music", "--json", library=lib
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["skipped"] == 0


def test_export_engine_library_for_a_drive(tmp_path: Path, library) -> None:
    lib, music = library
    done = crate_cli("export", "engine", str(tmp_path / "usb"), "--json", library=lib)
    assert done.returncode == 0, done.stderr
    summary = json_lines(done.stdout)[-1]
    assert set(summary) == {"tracks", "playlists", "skipped", "seconds"} and summary["tracks"] == 3
    database = tmp_path / "usb" / "Engine Library" / "Database2" / "m.db"
    db = sqlite3.connect(database)
    rows = db.execute("SELECT path, bpmAnalyzed, key FROM Track ORDER BY id").fetchall()
    assert sorted((database.parent.parent / path).resolve().name for path, _, _ in rows) == sorted(NAMES)
    assert all((database.parent.parent / path).resolve().parent == music.resolve() for path, _, _ in rows)
    assert sorted(bpm for _, bpm, _ in rows) == [120.0, 121.0, 122.0]
    assert {key for _, _, key in rows} == {1}  # 8A = A minor, Engine's key number 1
    db.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "rekordbox", "{tmp}/x.xml", "--map", "nonsense"], "FROM=TO"),
        (["export", "rekordbox", "{tmp}/x.xml", "--crate", "No Such Crate"], "crate"),
        (["import", "rekordbox", "{tmp}/missing.xml"], "cannot read"),
        (["import", "traktor", "{tmp}/broken.nml"], "well-formed"),
        (["export", "engine", "{tmp}/broken.nml"], "is a file"),
    ],
)
def test_errors_are_one_line_and_nonzero(tmp_path: Path, library, args: list[str], message: str) -> None:
    lib, _ = library
    (tmp_path / "broken.nml").write_text('<NML VERSION="19"><COLLECTION><ENTRY')
    done = crate_cli(*[a.format(tmp=tmp_path) for a in args], library=lib)
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
    assert not (tmp_path / "x.xml").exists()


def test_export_serato_writes_smart_crates_from_the_library(tmp_path: Path, library) -> None:
    lib, music = library
    copy = tmp_path / "lib.crate"
    copy.write_bytes(lib.read_bytes())
    assert (
        crate_cli("crate", "new", "Sets/Fast", "--smart", "bpm:>=121 artist:artist", library=copy).returncode
        == 0
    )
    assert (
        crate_cli("crate", "new", "Top", "--smart", "bpm:>=121", "--limit", "1", library=copy).returncode == 0
    )
    done = crate_cli("export", "serato", str(tmp_path), "--json", library=copy)
    assert done.returncode == 0, done.stderr
    summary = json_lines(done.stdout)[-1]
    assert set(summary) == {"tracks", "playlists", "skipped", "seconds"}
    assert (summary["playlists"], summary["tracks"]) == (2, 2)
    serato = tmp_path / "_Serato_"
    assert (serato / "SmartCrates" / "Sets%%Fast.scrate").is_file()
    from serato_tools.crate import Crate

    (only,) = Crate(str(serato / "Subcrates" / "Top.crate")).tracks()  # a limit: Serato has none
    assert Path("/" + only).parent == music


def test_import_partial_reads_what_it_can_of_a_cut_file(tmp_path: Path, library) -> None:
    lib, _ = library
    dest = tmp_path / "out.nml"
    assert crate_cli("export", "traktor", str(dest), library=lib).returncode == 0
    text = dest.read_bytes()
    dest.write_bytes(text[: text.rindex(b"<ENTRY")])  # the last collection entry is cut off
    done = crate_cli("import", "traktor", str(dest), "--partial", "--json", library=tmp_path / "new.crate")
    assert done.returncode == 0, done.stderr
    summary = json_lines(done.stdout)[-1]
    assert set(summary) == {"tracks", "playlists", "skipped", "seconds", "matched", "added", "not_found"}
    assert (summary["tracks"], summary["added"], summary["skipped"]) == (2, 2, 1)
    done = crate_cli("import", "traktor", str(dest), "--partial", library=tmp_path / "new.crate")
    assert "the rest of the file left out" in done.stdout
