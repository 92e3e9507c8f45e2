"""Import into a real library and export again: cues, loops, BPM, key and grid survive the trip."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest

from crate_app.domain.keys import parse_key
from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.exchange import rekordbox_xml, traktor_nml
from crate_app.exchange.importer import import_file
from crate_app.exchange.library_source import LibrarySource
from crate_app.exchange.paths import PathMapper
from crate_app.store.cues import cues_of
from crate_app.store.library import open_library
from crate_app.store.writer import upsert_scanned


@pytest.fixture
def library(tmp_path: Path):
    music = tmp_path / "Música"
    music.mkdir()
    files = []
    for name, bpm in (("Crate knows the BPM.wav", 124.0), ("No BPM in Crate.wav", None)):
        path = music / name
        path.write_bytes(os.urandom(2000))
        files.append(
            ScannedFile(str(path), path.stat().st_size, path.stat().st_mtime, TagInfo(format="wav", bpm=bpm))
        )
    lib = open_library(tmp_path / "lib.crate")
    upsert_scanned(lib, files)
    yield lib, music, [Path(f.path) for f in files]
    lib.close()


def _rekordbox_xml(tmp_path: Path, files: list[Path], windows_root: str) -> Path:
    """A file as rekordbox 6/7 writes it on Windows: hot cues with colours, a memory cue, a loop."""
    tracks = []
    for number, file in enumerate(files, start=1):
        location = f"file://localhost/{windows_root}/{quote(file.name)}"
        tracks.append(
            f'<TRACK TrackID="{9000 + number}" Name="{file.stem}" Artist="A" Kind="WAV File" Size="2000" '
            f'TotalTime="300" AverageBpm="128.00" Tonality="Fm" Location="{location}">'
            f'<TEMPO Inizio="0.120" Bpm="128.00" Metro="4/4" Battito="1"/>'
            f'<POSITION_MARK Name="Drop" Type="0" Start="32.120" Num="0" Red="230" Green="40" Blue="40"/>'
            f'<POSITION_MARK Name="" Type="0" Start="64.120" Num="-1"/>'
            f'<POSITION_MARK Name="Roll" Type="4" Start="96.120" End="97.995" Num="1" '
            f'Red="80" Green="180" Blue="255"/>'
            f"</TRACK>"
        )
    path = tmp_path / "rekordbox.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><DJ_PLAYLISTS Version="1.0.0">'
        '<PRODUCT Name="rekordbox" Version="6.8.5" Company="AlphaTheta"/>'
        f'<COLLECTION Entries="{len(tracks)}">{"".join(tracks)}</COLLECTION>'
        '<PLAYLISTS><NODE Type="0" Name="ROOT" Count="1"><NODE Name="Peak" Type="1" KeyType="0" Entries="2">'
        '<TRACK Key="9002"/><TRACK Key="9001"/></NODE></NODE></PLAYLISTS></DJ_PLAYLISTS>',
        encoding="utf-8",
    )
    return path


def test_rekordbox_cues_reach_traktor_through_crate(tmp_path: Path, library) -> None:
    lib, music, files = library
    source = _rekordbox_xml(tmp_path, files, "D:/M%C3%BAsica")
    report = import_file(lib, "rekordbox", source, mapper=PathMapper([("D:/Música", str(music))], ""))
    assert (report.tracks, report.matched, report.added, report.not_found) == (2, 2, 0, [])

    known, unknown = (lib.track_by_path(str(f)) for f in files)
    assert known.bpm == 124.0  # Crate's own BPM is kept by default
    assert unknown.bpm == 128.0 and unknown.key == parse_key("Fm").code  # filled in where Crate had none
    sql = "SELECT source, bpm, key, first_beat, cues FROM imported_analysis WHERE track_id = ?"
    stored = lib.execute(sql, (known.id,)).fetchone()
    assert stored[:4] == ("rekordbox", 128.0, parse_key("Fm").code, 0.12)
    assert len(json.loads(stored[4])) == 3
    cues = cues_of(lib, unknown.id)
    assert [(c.kind, c.number, c.start, c.end, c.name, c.color) for c in cues] == [
        ("hot", 0, 32.12, None, "Drop", "#e62828"),
        ("memory", None, 64.12, None, "", None),
        ("loop", 1, 96.12, 97.995, "Roll", "#50b4ff"),
    ]

    out = traktor_nml.write(tmp_path / "traktor.nml", LibrarySource(lib, "traktor"), PathMapper())
    assert out.tracks == 2
    nml = Path(out.files[0]).read_text("utf-8")
    assert 'TYPE="0" START="32120.000000" LEN="0.000000" REPEATS="-1" HOTCUE="0" COLOR="#E62828"' in nml
    assert 'TYPE="5" START="96120.000000" LEN="1875.000000" REPEATS="-1" HOTCUE="1"' in nml
    assert 'TYPE="4" START="120.000000"' in nml  # the grid came along where Crate had none


def test_prefer_source_replaces_crates_values(tmp_path: Path, library) -> None:
    lib, music, files = library
    source = _rekordbox_xml(tmp_path, files, "D:/M%C3%BAsica")
    import_file(lib, "rekordbox", source, mapper=PathMapper([("D:/Música", str(music))], ""), prefer="source")
    assert lib.track_by_path(str(files[0])).bpm == 128.0


def test_an_import_that_fails_writes_nothing(tmp_path: Path, library) -> None:
    lib, music, files = library
    source = _rekordbox_xml(tmp_path, files, "D:/M%C3%BAsica")
    source.write_bytes(source.read_bytes()[:-40])  # truncated in the playlists
    before = lib.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
    with pytest.raises(Exception, match="well-formed"):
        import_file(lib, "rekordbox", source, mapper=PathMapper([("D:/Música", str(music))], ""))
    assert lib.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == before
    assert lib.execute("SELECT COUNT(*) FROM imported_analysis").fetchone()[0] == 0
    assert lib.execute("SELECT COUNT(*) FROM cues").fetchone()[0] == 0


def test_moved_files_are_matched_by_content(tmp_path: Path, library) -> None:
    lib, _, files = library
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    copy = moved / "renamed.wav"
    copy.write_bytes(files[1].read_bytes())  # the same file, another name and folder
    xml = rekordbox_xml.read(_rekordbox_xml(tmp_path, [copy], str(moved).lstrip("/")))
    assert xml.tracks
    path = _rekordbox_xml(tmp_path, [copy], quote(str(moved).lstrip("/")))
    report = import_file(lib, "rekordbox", path)
    assert (report.matched, report.added) == (1, 0)
    assert lib.execute("SELECT COUNT(*) FROM imported_analysis WHERE track_id = ?",
                       (lib.track_by_path(str(files[1])).id,)).fetchone()[0] == 1  # fmt: skip
