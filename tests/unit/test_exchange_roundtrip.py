"""Import into a real library and export again: cues, loops, BPM, key and grid survive the trip."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest

from crate_app import crates
from crate_app.domain.errors import ExchangeError
from crate_app.domain.keys import parse_key
from crate_app.domain.track import ScannedFile, TagInfo
from crate_app.exchange import rekordbox_xml, traktor_nml
from crate_app.exchange.exporter import export
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
    tracks, locations = [], []
    for number, file in enumerate(files, start=1):
        location = f"file://localhost/{windows_root}/{quote(file.name)}"
        locations.append(f'<TRACK Key="{location}"/>')
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
        '<PLAYLISTS><NODE Type="0" Name="ROOT" Count="2"><NODE Name="Peak" Type="1" KeyType="0" Entries="2">'
        '<TRACK Key="9002"/><TRACK Key="9001"/></NODE>'
        f'<NODE Name="By Location" Type="1" KeyType="1" Entries="{len(locations)}">'
        f"{''.join(locations)}</NODE>"
        "</NODE></PLAYLISTS></DJ_PLAYLISTS>",
        encoding="utf-8",
    )
    return path


def test_rekordbox_cues_reach_traktor_through_crate(tmp_path: Path, library) -> None:
    lib, music, files = library
    source = _rekordbox_xml(tmp_path, files, "D:/M%C3%BAsica")
    report = import_file(lib, "rekordbox", source, mapper=PathMapper([("D:/Música", str(music))], ""))
    assert (report.tracks, report.matched, report.added, report.not_found) == (2, 2, 0, [])
    assert report.playlists == 2
    tree = {path: names for path, _, names in _crates_tree(lib)}
    assert tree["rekordbox/Peak"] == [files[1].name, files[0].name]
    assert tree["rekordbox/By Location"] == [files[0].name, files[1].name]  # KeyType 1: by Location

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


def _crates_tree(lib) -> list[tuple[str, str, list[str]]]:
    """(path, kind, file names in order) of every node."""
    tree = []
    for node in crates.list_nodes(lib, with_counts=False):
        names = []
        if node.kind != "folder":
            names = [Path(t.path).name for t in lib.tracks_by_ids(crates.crate_track_ids(lib, node.id))]
        tree.append((node.path, node.kind, names))
    return tree


@pytest.mark.parametrize("target", ["rekordbox", "traktor", "m3u8"])
def test_crates_round_trip_into_an_empty_library(tmp_path: Path, target: str) -> None:
    music = tmp_path / "Music"
    music.mkdir()
    files = []
    for i, name in enumerate(["Zoë & Co #1.wav", "100% Pure.wav", "Ünïcode 日本.wav", "plain.wav"]):
        path = music / name
        path.write_bytes(os.urandom(1000 + i))
        tags = TagInfo(format="wav", title=f"T{i}", artist="A", bpm=120.5 + i, key=(i * 7) % 24)
        files.append(ScannedFile(str(path), path.stat().st_size, path.stat().st_mtime, tags))
    lib = open_library(tmp_path / "lib.crate")
    upsert_scanned(lib, files)
    ids = {Path(f.path).name: lib.track_by_path(f.path).id for f in files}
    friday = crates.create_path(lib, "Sets/2026/Friday", "crate")
    crates.add_tracks(lib, friday.id, [ids["plain.wav"], ids["Zoë & Co #1.wav"], ids["100% Pure.wav"]])
    warm = crates.create_path(lib, "Warm up", "crate")
    crates.add_tracks(lib, warm.id, [ids["Ünïcode 日本.wav"], ids["plain.wav"]])
    crates.create_path(lib, "Sets/Smart 120s", "smart", query="bpm:120-122")

    dest = tmp_path / ("out" if target == "m3u8" else f"out.{target}")
    report = export(lib, target, dest)
    assert report.playlists == 3
    empty = open_library(tmp_path / "empty.crate")
    first = import_file(empty, target, dest)
    assert first.playlists == 3 and first.added == 4 and first.not_found == []
    folder = {"rekordbox": "rekordbox", "traktor": "Traktor", "m3u8": "M3U"}[target]
    expected = [(f"{folder}/{path}", "folder" if kind == "folder" else "crate", names)
                for path, kind, names in _crates_tree(lib)]  # fmt: skip
    expected.insert(0, (folder, "folder", []))
    assert sorted(_crates_tree(empty)) == sorted(expected)
    if target != "m3u8":  # M3U carries no BPM or key
        for f in files:
            track = empty.track_by_path(f.path)
            assert (track.bpm, track.key) == (f.tags.bpm, f.tags.key)
    # re-importing updates the same crates instead of making new ones
    crates.remove_tracks(lib, friday.id, [ids["plain.wav"]])
    export(lib, target, dest)
    second = import_file(empty, target, dest)
    assert (second.matched, second.added) == (4, 0)
    tree = _crates_tree(empty)
    assert len(tree) == len(expected)
    assert (f"{folder}/Sets/2026/Friday", "crate", ["Zoë & Co #1.wav", "100% Pure.wav"]) in tree
    lib.close()
    empty.close()


def test_export_only_chosen_crates(tmp_path: Path, library) -> None:
    from pyrekordbox import RekordboxXml

    lib, _, files = library
    ids = [lib.track_by_path(str(f)).id for f in files]
    crate = crates.create_path(lib, "Sets/Only the second", "crate")
    crates.add_tracks(lib, crate.id, [ids[1]])
    crates.add_tracks(lib, crates.create_path(lib, "Other", "crate").id, ids)
    report = export(lib, "rekordbox", tmp_path / "sets.xml", crate_paths=["Sets"])
    assert (report.tracks, report.playlists) == (1, 1)
    xml = RekordboxXml(str(tmp_path / "sets.xml"))
    assert xml.get_track_ids() == [ids[1]]
    assert xml.get_playlist("Sets", "Only the second").get_tracks() == [ids[1]]
    with pytest.raises(ExchangeError, match="no crate or folder"):
        export(lib, "rekordbox", tmp_path / "x.xml", crate_paths=["Nope"])


def test_traktor_playlist_export_without_its_tracks(tmp_path: Path, library) -> None:
    """A playlist file Traktor exported names its tracks only by key: they are found by path."""
    lib, music, files = library
    keys = "".join(
        f'<ENTRY><PRIMARYKEY TYPE="TRACK" KEY="osx/:Users/:dj/:M\u00fasica/:{f.name}"></PRIMARYKEY></ENTRY>'
        for f in reversed(files)
    )
    source = tmp_path / "Peak.nml"
    source.write_text(
        '<NML VERSION="19"><HEAD COMPANY="www.native-instruments.com" PROGRAM="Traktor"/><PLAYLISTS>'
        '<NODE TYPE="FOLDER" NAME="$ROOT"><SUBNODES COUNT="1"><NODE TYPE="PLAYLIST" NAME="Peak">'
        f'<PLAYLIST ENTRIES="2" TYPE="LIST" UUID="x">{keys}</PLAYLIST>'
        "</NODE></SUBNODES></NODE></PLAYLISTS></NML>",
        encoding="utf-8",
    )
    report = import_file(
        lib, "traktor", source, mapper=PathMapper([("/Volumes/osx/Users/dj/Música", str(music))], "")
    )
    assert (report.tracks, report.matched, report.playlists) == (2, 2, 1)
    peak = crates.node_by_path(lib, "Traktor/Peak")
    assert [Path(t.path).name for t in lib.tracks_by_ids(crates.crate_track_ids(lib, peak.id))] == [
        f.name for f in reversed(files)
    ]


def test_a_file_listed_twice_is_added_once(tmp_path: Path) -> None:
    song = tmp_path / "twice.wav"
    song.write_bytes(os.urandom(300))
    location = "file://localhost" + quote(str(song))
    source = tmp_path / "twice.xml"
    source.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><DJ_PLAYLISTS Version="1.0.0"><COLLECTION Entries="2">'
        f'<TRACK TrackID="1" Location="{location}"/><TRACK TrackID="2" Location="{location}"/></COLLECTION>'
        '<PLAYLISTS><NODE Type="0" Name="ROOT"><NODE Name="L" Type="1" KeyType="0">'
        '<TRACK Key="2"/><TRACK Key="1"/></NODE></NODE></PLAYLISTS></DJ_PLAYLISTS>',
        encoding="utf-8",
    )
    lib = open_library(tmp_path / "lib.crate")
    report = import_file(lib, "rekordbox", source)
    assert (report.tracks, report.added) == (2, 1)
    assert lib.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert lib.execute("INSERT INTO tracks_fts(tracks_fts) VALUES('integrity-check')").rowcount is not None
    node = crates.node_by_path(lib, "rekordbox/L")
    assert crates.crate_track_ids(lib, node.id) == [lib.track_by_path(str(song)).id]
    lib.close()


def _crate_names(lib, path: str) -> list[str]:
    node = crates.node_by_path(lib, path, with_counts=False)
    return [Path(t.path).name for t in lib.tracks_by_ids(crates.crate_track_ids(lib, node.id))]


def test_partial_import_keeps_what_comes_before_the_damage(tmp_path: Path, library) -> None:
    lib, music, files = library
    mapper = PathMapper([("D:/Música", str(music))], "")
    source = _rekordbox_xml(tmp_path, files, "D:/M%C3%BAsica")
    text = source.read_bytes()
    source.write_bytes(text[: text.index(b'<NODE Name="By Location"') + 60])  # cut inside the 2nd playlist
    report = import_file(lib, "rekordbox", source, mapper=mapper, partial=True)
    assert (report.tracks, report.matched, report.playlists) == (2, 2, 1)
    assert _crate_names(lib, "rekordbox/Peak") == [files[1].name, files[0].name]
    with pytest.raises(Exception, match="no crate"):
        crates.node_by_path(lib, "rekordbox/By Location")
    said = "\n".join(report.warnings)
    assert "not a complete, well-formed XML file (line 1" in said and "the rest of the file left out" in said
    assert "'By Location' is cut off" in said and report.skipped == len(report.warnings)
    assert lib.execute("SELECT COUNT(*) FROM cues").fetchone()[0] == 6  # both tracks' cues came in

    # cut inside the collection: the first track only, no playlists
    cut = text.index(b'<TRACK TrackID="9002"') + 30
    source.write_bytes(text[:cut])
    other = open_library(tmp_path / "other.crate")
    report = import_file(other, "rekordbox", source, mapper=mapper, partial=True)
    assert (report.tracks, report.added, report.playlists) == (1, 1, 0)
    assert other.track_by_path(str(files[0])) is not None and other.track_by_path(str(files[1])) is None
    other.close()


def test_partial_import_of_a_cut_traktor_collection(tmp_path: Path, library) -> None:
    lib, _, files = library
    ids = [lib.track_by_path(str(f)).id for f in files]
    crates.add_tracks(lib, crates.create_path(lib, "A/First", "crate").id, ids[::-1])
    crates.add_tracks(lib, crates.create_path(lib, "A/Second", "crate").id, ids)
    dest = tmp_path / "c.nml"
    export(lib, "traktor", dest)
    text = dest.read_bytes()
    dest.write_bytes(text[: text.index(b'NAME="Second"') + 40])
    empty = open_library(tmp_path / "empty.crate")
    with pytest.raises(ExchangeError, match="nothing was imported"):
        import_file(empty, "traktor", dest)
    assert empty.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] == 0
    report = import_file(empty, "traktor", dest, partial=True)
    assert (report.tracks, report.added, report.playlists) == (2, 2, 1)
    assert _crate_names(empty, "Traktor/A/First") == [files[1].name, files[0].name]
    assert "'Second' is cut off" in "\n".join(report.warnings)
    empty.close()


def test_partial_import_leaves_out_a_bad_playlist_or_crate_file(tmp_path: Path, library) -> None:
    from crate_app.exchange.serato_crates import crate_bytes

    lib, _, files = library
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "good.m3u8").write_text(f"#EXTM3U\n{files[1]}\n{files[0]}\n", encoding="utf-8")
    (lists / "bad.m3u8").write_bytes(f"#EXTM3U\n{files[0]}\n".encode() + b"caf\xe9.wav\n")
    with pytest.raises(ExchangeError, match="not UTF-8"):
        import_file(lib, "m3u8", lists)
    report = import_file(lib, "m3u8", lists, partial=True)
    assert (report.tracks, report.matched, report.playlists) == (2, 2, 1)
    assert _crate_names(lib, "M3U/good") == [files[1].name, files[0].name]
    assert any(w.startswith("bad.m3u8 was left out") for w in report.warnings)

    subcrates = tmp_path / "_Serato_" / "Subcrates"
    subcrates.mkdir(parents=True)
    (subcrates / "Good.crate").write_bytes(crate_bytes([str(files[0]).lstrip("/")]))
    (subcrates / "Cut.crate").write_bytes(crate_bytes([str(files[1]).lstrip("/")])[:-7])
    with pytest.raises(ExchangeError, match=r"Cut\.crate: the crate file ends"):
        import_file(lib, "serato", tmp_path)
    report = import_file(lib, "serato", tmp_path, partial=True)
    assert (report.tracks, report.matched, report.playlists) == (1, 1, 1)
    assert _crate_names(lib, "Serato/Good") == [files[0].name]
    assert report.warnings == [
        "Cut.crate: the crate file ends in the middle of an entry: that crate was left out"
    ]
