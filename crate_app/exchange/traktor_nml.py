"""Traktor NML (version 19 for Traktor Pro 2/3, 20 for Traktor Pro 4): a streaming writer and reader.

The writer never replaces the user's ``collection.nml``: it writes a new collection beside it (the
README says how to swap it in with Traktor closed).  Times in NML are milliseconds.
"""

from __future__ import annotations

import math
import os
import time
import uuid
import xml.etree.ElementTree as ET
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from crate_app.domain.errors import ExchangeError
from crate_app.domain.progress import Progress, ProgressMeter
from crate_app.exchange.atomic import atomic_output
from crate_app.exchange.keymap import code_from_text, from_traktor_value, traktor_text, traktor_value
from crate_app.exchange.model import (
    ExchangeCue,
    ExportReport,
    ExportSource,
    ExportTrack,
    ImportedCollection,
    ImportedTrack,
    PlaylistNode,
)
from crate_app.exchange.paths import PathMapper, TargetPath, Unexpressible
from crate_app.exchange.rekordbox_xml import IdSet, grid_start
from crate_app.exchange.xmltext import (
    attr,
    close_cut_nodes,
    count_placeholder,
    iso_date,
    parsing,
    patch_count,
)

TARGET = "traktor"
VERSIONS = (19, 20)
DEFAULT_NAME = "Crate collection.nml"
SYSTEM_VOLUME = "Macintosh HD"  # what Traktor calls a Mac's start-up disk; the volume of plain POSIX paths


def nml_key(volume: str, dir_text: str, file: str) -> str:
    """The PRIMARYKEY KEY of a track: VOLUME + DIR + FILE."""
    return f"{volume}{dir_text}{file}"


class Locations:
    """LOCATION attributes and PRIMARYKEY keys of local paths, each folder worked out once."""

    def __init__(self, mapper: PathMapper, system_volume: str = SYSTEM_VOLUME) -> None:
        self.mapper = mapper
        self.system_volume = system_volume
        self._folders: dict[TargetPath, tuple[str, str]] = {}

    def _folder(self, path: str) -> tuple[tuple[str, str], str]:
        folder, name = self.mapper.map_split(path)
        if not name:
            raise Unexpressible("the path names a drive, not a file")
        known = self._folders.get(folder)
        if known is None:
            if len(self._folders) > 100_000:
                self._folders.clear()
            known = self._folders[folder] = folder_location(folder, self.system_volume)
        return known, name.replace(":", "//")

    def attributes(self, path: str) -> str:
        """``DIR="…" FILE="…" VOLUME="…" VOLUMEID="…"``; raises Unexpressible."""
        return self.attributes_and_key(path)[0]

    def attributes_and_key(self, path: str) -> tuple[str, str]:
        """(``attributes(path)``, ``key(path)``); raises Unexpressible."""
        (volume, dir_text), file = self._folder(path)
        return (
            f'DIR="{attr(dir_text)}" FILE="{attr(file)}" VOLUME="{attr(volume)}" VOLUMEID="{attr(volume)}"',
            nml_key(volume, dir_text, file),
        )

    def key(self, path: str) -> str:
        """The PRIMARYKEY KEY (VOLUME + DIR + FILE); raises Unexpressible."""
        (volume, dir_text), file = self._folder(path)
        return nml_key(volume, dir_text, file)


def destination(dest: Path) -> Path:
    """Where the collection goes: ``dest`` itself, or ``DEFAULT_NAME`` inside a folder; never an
    existing ``collection.nml`` (Traktor's own)."""
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / DEFAULT_NAME
    if dest.name.lower() == "collection.nml" and dest.exists():
        raise ExchangeError(
            f"{dest} is Traktor's own collection: Crate writes a new collection beside it, never over it "
            f"(choose another name, e.g. {dest.with_name(DEFAULT_NAME)})"
        )
    return dest


_DATES: dict[str, str] = {}


def _date(timestamp: float) -> str:
    """``yyyy/m/d`` (not zero-padded), local time."""
    iso = iso_date(timestamp)
    text = _DATES.get(iso)
    if text is None:
        if iso:
            year, month, day = iso.split("-")
            text = f"{int(year)}/{int(month)}/{int(day)}"
        else:
            t = time.localtime(timestamp)
            text = f"{t.tm_year}/{t.tm_mon}/{t.tm_mday}"
        _DATES[iso] = text
    return text


def folder_location(folder: TargetPath, system_volume: str = SYSTEM_VOLUME) -> tuple[str, str]:
    """(VOLUME, DIR) of a target folder: DIR is ``/:a/:b/:``; a ``:`` inside a name becomes ``//``."""
    volume, parts = folder.volume()
    return volume or system_volume, "/:" + "".join(f"{p.replace(':', '//')}/:" for p in parts)


def _entry_xml(track: ExportTrack, location: str, modified: str) -> str:
    """One ENTRY; ``location`` is the LOCATION element's attributes, ``modified`` the MODIFIED ones."""
    offset = track.time_offset
    track_no = f' TRACK="{track.track_no}"' if track.track_no else ""
    out = [
        f'<ENTRY {modified} TITLE="{attr(track.title)}" ARTIST="{attr(track.artist)}">'
        f"<LOCATION {location}></LOCATION>"
        f'<ALBUM TITLE="{attr(track.album)}"{track_no}></ALBUM>'
        f'<INFO BITRATE="{(track.bitrate or 0) * 1000}" GENRE="{attr(track.genre)}" '
        f'LABEL="{attr(track.label)}" COMMENT="{attr(track.comment)}"'
    ]
    if track.key is not None:
        out.append(f' KEY="{traktor_text(track.key)}"')
    if track.duration:
        out.append(f' PLAYTIME="{round(track.duration)}" PLAYTIME_FLOAT="{track.duration:.6f}"')
    if track.date_added:
        out.append(f' IMPORT_DATE="{_date(track.date_added)}"')
    if track.year:
        out.append(f' RELEASE_DATE="{track.year}/1/1"')
    out.append(f' FILESIZE="{(track.size + 1023) // 1024}"></INFO>')
    bpm = f"{track.bpm:.6f}" if track.bpm else ""
    if bpm:
        out.append(f'<TEMPO BPM="{bpm}" BPM_QUALITY="100.000000"></TEMPO>')
    if track.key is not None:
        out.append(f'<MUSICAL_KEY VALUE="{traktor_value(track.key)}"></MUSICAL_KEY>')
    if track.bpm and track.first_beat is not None:
        start, _ = grid_start(track.first_beat + offset, track.bpm, None)
        out.append(
            f'<CUE_V2 NAME="AutoGrid" DISPL_ORDER="0" TYPE="4" START="{start * 1000:.6f}" LEN="0.000000" '
            f'REPEATS="-1" HOTCUE="-1"><GRID BPM="{bpm}"></GRID></CUE_V2>'
        )
    for cue in track.cues:
        out.append(_cue_xml(cue, offset))
    out.append("</ENTRY>\n")
    return "".join(out)


def _cue_xml(cue: ExchangeCue, offset: float) -> str:
    loop = cue.kind == "loop" and cue.end is not None
    hotcue = (
        cue.number if cue.kind in ("hot", "loop") and cue.number is not None and 0 <= cue.number <= 7 else -1
    )
    length = (cue.end - cue.start) * 1000 if loop else 0.0  # type: ignore[operator]
    color = f' COLOR="#{cue.color:06X}"' if cue.color is not None else ""
    return (
        f'<CUE_V2 NAME="{attr(cue.name or "n.n.")}" DISPL_ORDER="0" TYPE="{5 if loop else 0}" '
        f'START="{(cue.start + offset) * 1000:.6f}" LEN="{length:.6f}" REPEATS="-1" '
        f'HOTCUE="{hotcue}"{color}></CUE_V2>'
    )


def write(
    dest: Path,
    source: ExportSource,
    mapper: PathMapper,
    *,
    version: int = 19,
    system_volume: str = SYSTEM_VOLUME,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExportReport:
    """Write ``source`` as a Traktor collection (NML ``version``) at ``destination(dest)``."""
    if version not in VERSIONS:
        raise ExchangeError(f"Traktor NML version {version} is not supported (19 or 20)")
    dest = destination(dest)
    report = ExportReport(TARGET, str(dest))
    meter = ProgressMeter(source.track_count(), progress)
    top = source.playlists()
    # Each playlist's track ids, asked for first: a playlist entry (PRIMARYKEY) is made once per track
    # while the collection is written, instead of looking its track up again per entry afterwards.
    entries: dict[int, array[int]] = {}
    in_playlists = IdSet()
    for node in (n for top_node in top for _, n in top_node.walk() if not n.is_folder):
        ids = entries[id(node)] = array("q", source.entries(node))
        for track_id in ids:
            in_playlists.add(track_id)
    playlist_entries: dict[int, bytes] = {}
    now = time.time()
    with atomic_output(dest) as out:
        out.write(
            f'<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n<NML VERSION="{version}">'
            '<HEAD COMPANY="www.native-instruments.com" PROGRAM="Traktor"></HEAD>\n'
            '<MUSICFOLDERS></MUSICFOLDERS>\n<COLLECTION ENTRIES="'.encode()
        )
        entries_at = out.tell()
        out.write(f'{count_placeholder()}">\n'.encode())
        batch: list[str] = []
        modified = f'MODIFIED_DATE="{_date(now)}" MODIFIED_TIME="{int(now) % 86400}"'
        locations = Locations(mapper, system_volume)
        for track in source.iter_tracks():
            try:
                location, key = locations.attributes_and_key(track.path)
            except Unexpressible as why:
                report.skipped.append((track.path, str(why)))
                continue
            batch.append(_entry_xml(track, location, modified))
            if track.id in in_playlists:
                playlist_entries[track.id] = (
                    f'<ENTRY><PRIMARYKEY TYPE="TRACK" KEY="{attr(key)}"></PRIMARYKEY></ENTRY>'
                ).encode("utf-8", "replace")
            report.tracks += 1
            if len(batch) >= 2000:
                out.write("".join(batch).encode("utf-8", "replace"))
                batch.clear()
                meter.update(report.tracks + len(report.skipped))
                if should_stop is not None and should_stop():
                    report.cancelled = True
                    raise ExchangeError("the export was cancelled; the previous file is unchanged")
        out.write("".join(batch).encode("utf-8", "replace"))
        out.write(b'</COLLECTION>\n<SETS ENTRIES="0"></SETS>\n<PLAYLISTS>')
        patch_count(out, entries_at, report.tracks)
        out.write(f'<NODE TYPE="FOLDER" NAME="$ROOT"><SUBNODES COUNT="{len(top)}">\n'.encode())
        for node in top:
            _write_node(out, node, entries, playlist_entries, report)
        out.write(b"</SUBNODES></NODE></PLAYLISTS>\n<INDEXING></INDEXING>\n</NML>\n")
    meter.finish()
    report.files.append(str(dest))
    return report.finish()


def _write_node(
    out: BinaryIO, node: PlaylistNode, entries: dict[int, array[int]], playlist_entries: dict[int, bytes],
    report: ExportReport,
) -> None:  # fmt: skip
    """A folder or playlist of the PLAYLISTS tree (``entries``: each playlist's track ids by node id;
    ``playlist_entries``: the ENTRY of each exported track)."""
    if node.is_folder:
        out.write(
            f'<NODE TYPE="FOLDER" NAME="{attr(node.name)}"><SUBNODES COUNT="{len(node.children)}">\n'.encode()
        )
        for child in node.children:
            _write_node(out, child, entries, playlist_entries, report)
        out.write(b"</SUBNODES></NODE>\n")
        return
    body = [e for e in map(playlist_entries.get, entries[id(node)]) if e is not None]
    out.write(
        f'<NODE TYPE="PLAYLIST" NAME="{attr(node.name)}"><PLAYLIST ENTRIES="{len(body)}" TYPE="LIST" '
        f'UUID="{uuid.uuid4().hex}">'.encode("utf-8", "replace")
    )
    out.write(b"".join(body))
    out.write(b"</PLAYLIST></NODE>\n")
    report.playlists += 1


# -- reading ---------------------------------------------------------------------------------------


def local_path(volume: str, dir_text: str, file: str, system_volume: str = SYSTEM_VOLUME) -> str:
    """The path a LOCATION names: ``C:/a/b.mp3`` for a Windows drive, ``/a/b.mp3`` on a Mac's start-up
    disk (or when the volume is unknown), ``/Volumes/<volume>/a/b.mp3`` for other volumes."""
    parts = [p.replace("//", ":") for p in dir_text.split("/:") if p]
    parts.append(file.replace("//", ":"))
    rest = "/".join(parts)
    if len(volume) == 2 and volume[1] == ":":
        return f"{volume.upper()}/{rest}"
    if not volume or volume == system_volume or os.path.exists("/" + rest):
        return "/" + rest
    return f"/Volumes/{volume}/{rest}"


def path_of_key(key: str, system_volume: str = SYSTEM_VOLUME) -> str | None:
    """The path a PRIMARYKEY KEY names (VOLUME + DIR + FILE), for playlists whose tracks are not in the
    file's collection (playlist exports); None when it is not such a key."""
    start = key.find("/:")
    end = key.rfind("/:")
    if start < 0:
        return None
    return local_path(key[:start], key[start : end + 2], key[end + 2 :], system_volume)


def _float(value: str | None) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _track(elem: ET.Element, system_volume: str) -> ImportedTrack | None:
    location = elem.find("LOCATION")
    if location is None or not location.get("FILE"):
        return None
    volume, dir_text, file = location.get("VOLUME", ""), location.get("DIR", ""), location.get("FILE", "")
    info = elem.find("INFO")
    album = elem.find("ALBUM")
    tempo = elem.find("TEMPO")
    musical = elem.find("MUSICAL_KEY")
    track = ImportedTrack(
        key=nml_key(volume, dir_text, file),
        path=local_path(volume, dir_text, file, system_volume),
        title=elem.get("TITLE", ""),
        artist=elem.get("ARTIST", ""),
    )
    if album is not None:
        track.album = album.get("TITLE", "")
        number = _float(album.get("TRACK"))
        track.track_no = int(number) if number else None
    if info is not None:
        track.genre, track.label, track.comment = (
            info.get("GENRE", ""),
            info.get("LABEL", ""),
            info.get("COMMENT", ""),
        )
        track.duration = _float(info.get("PLAYTIME_FLOAT")) or _float(info.get("PLAYTIME"))
        release = info.get("RELEASE_DATE", "")
        if release[:4].isdigit() and release[:4] != "0000":
            track.year = int(release[:4])
        if track.key_code is None:
            track.key_code = code_from_text(info.get("KEY"))
    if musical is not None and (value := _float(musical.get("VALUE"))) is not None:
        track.key_code = from_traktor_value(int(value))
    if tempo is not None and (bpm := _float(tempo.get("BPM"))):
        track.bpm = bpm if bpm > 0 else None
    for cue in elem.findall("CUE_V2"):
        start = _float(cue.get("START"))
        if start is None:
            continue
        kind = cue.get("TYPE", "0")
        hotcue = int(_float(cue.get("HOTCUE")) or 0) if cue.get("HOTCUE") not in (None, "-1") else -1
        if kind == "4":
            if track.first_beat is None:
                track.first_beat = start / 1000
            continue
        name = cue.get("NAME", "")
        name = "" if name == "n.n." else name
        color = None
        if (text := cue.get("COLOR", "")).startswith("#") and len(text) == 7:
            try:
                color = int(text[1:], 16)
            except ValueError:
                color = None
        length = _float(cue.get("LEN")) or 0.0
        if kind == "5" and length > 0:
            number = hotcue if hotcue >= 0 else None
            track.cues.append(ExchangeCue("loop", number, start / 1000, (start + length) / 1000, name, color))
        elif hotcue >= 0:
            track.cues.append(ExchangeCue("hot", hotcue, start / 1000, None, name, color))
        else:
            track.cues.append(ExchangeCue("memory", None, start / 1000, None, name, color))
    return track


def read(path: Path, system_volume: str = SYSTEM_VOLUME) -> ImportedCollection:
    collection = ImportedCollection(TARGET, [], [])
    for item in iter_read(path, collection.warnings, system_volume):
        if isinstance(item, ImportedTrack):
            collection.tracks.append(item)
        else:
            collection.playlists = item
    return collection


def iter_read(
    path: Path, warnings: list[str], system_volume: str = SYSTEM_VOLUME, partial: bool = False
) -> Iterator[ImportedTrack | list[PlaylistNode]]:
    """Stream an NML file: each collection entry as parsed, then the top-level playlists (``partial``:
    as rekordbox_xml.iter_read)."""
    path = Path(path)
    try:
        if os.path.getsize(path) == 0:
            raise ExchangeError(f"{path.name} is empty, not a Traktor collection")
    except OSError as exc:
        raise ExchangeError(f"cannot read {path}: {exc.strerror or exc}") from exc
    root_tag = None
    collection_elem = ET.Element("COLLECTION")
    in_collection = False
    in_playlists = False
    stack: list[PlaylistNode] = []
    top: list[PlaylistNode] = []
    seen: set[str] = set()
    cut_short: list[str] | None = [] if partial else None
    with parsing(path, "NML", cut_short):
        for event, elem in ET.iterparse(path, events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if root_tag is None:
                    root_tag = tag
                    if tag != "NML":
                        raise ExchangeError(f"{path.name} is not a Traktor NML file (its root is <{tag}>)")
                elif tag == "COLLECTION":
                    in_collection, collection_elem = True, elem
                elif tag == "PLAYLISTS":
                    in_playlists = True
                elif tag == "NODE" and in_playlists:
                    kind = elem.get("TYPE", "")
                    node = PlaylistNode(elem.get("NAME", ""), kind == "FOLDER", ref=kind)
                    if stack:
                        stack[-1].children.append(node)
                    stack.append(node)
                continue
            if tag == "ENTRY" and in_collection:
                track = _track(elem, system_volume)
                if track is None:
                    warnings.append(
                        f"an entry without a file location ({elem.get('TITLE', '')!r}) was left out"
                    )
                elif track.key in seen:
                    warnings.append(
                        f"{track.path} appears twice in the collection: the second one is left out"
                    )
                else:
                    seen.add(str(track.key))
                    yield track
                collection_elem.clear()
            elif tag == "COLLECTION":
                in_collection = False
            elif tag == "PRIMARYKEY" and stack and in_playlists:
                key = elem.get("KEY")
                if key:
                    stack[-1].entries.append(key)
            elif tag == "NODE" and stack:
                node = stack.pop()
                if node.ref == "SMARTLIST":
                    warnings.append(f"the smartlist {node.name!r} was left out (its rules are Traktor's own)")
                    if stack:
                        stack[-1].children.remove(node)
                if not stack:
                    top = node.children
                elem.clear()
            elif tag == "PLAYLISTS":
                in_playlists = False
    if root_tag is None:
        raise ExchangeError(f"{path.name} is not a Traktor NML file")
    if cut_short:
        warnings.append(f"{cut_short[0]}: what came before was imported, the rest of the file left out")
        top = close_cut_nodes(stack, warnings) if stack else top
    for node in top:
        for _, n in node.walk():
            n.ref = "key"
    yield top
