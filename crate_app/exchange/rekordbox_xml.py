"""rekordbox XML (``DJ_PLAYLISTS`` 1.0.0): a streaming writer and a streaming reader.

Writer: tracks are written as they come from the source (nothing held but a bitmap of exported ids),
``COLLECTION Entries`` is patched in at the end, the file is renamed into place when complete.
Reader: ``iterparse`` with every finished TRACK cleared, so a 2 GB file is read in bounded memory.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

from crate_app.domain.errors import ExchangeError
from crate_app.domain.progress import Progress, ProgressMeter
from crate_app.exchange.atomic import atomic_output
from crate_app.exchange.keymap import code_from_text, rekordbox_tonality
from crate_app.exchange.model import (
    ExchangeCue,
    ExportReport,
    ExportSource,
    ExportTrack,
    ImportedCollection,
    ImportedTrack,
    PlaylistNode,
)
from crate_app.exchange.paths import PathMapper, Unexpressible, folder_uri, from_file_uri, quote_name
from crate_app.exchange.xmltext import (
    attr,
    close_cut_nodes,
    count_placeholder,
    iso_date,
    parsing,
    patch_count,
)

TARGET = "rekordbox"
_KINDS = {"mp3": "MP3 File", "flac": "FLAC File", "m4a": "M4A File", "mp4": "M4A File", "wav": "WAV File",
          "aiff": "AIFF File", "aif": "AIFF File", "ogg": "OGG File", "alac": "M4A File"}  # fmt: skip


class IdSet:
    """A set of small non-negative ints as a bitmap (1M ids = 125 KB instead of ~60 MB for a set)."""

    def __init__(self) -> None:
        self._bits = bytearray()

    def add(self, value: int) -> None:
        index = value >> 3
        if index >= len(self._bits):
            self._bits.extend(bytes(index + 1 - len(self._bits) + len(self._bits) // 2))
        self._bits[index] |= 1 << (value & 7)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int) or value < 0:
            return False
        index = value >> 3
        return index < len(self._bits) and bool(self._bits[index] & (1 << (value & 7)))


def grid_start(first_beat: float, bpm: float, first_downbeat: float | None) -> tuple[float, int]:
    """(earliest beat at or after 0 s, its number in the 4/4 bar, 1-4) for a constant grid."""
    period = 60.0 / bpm
    start = first_beat - math.floor(first_beat / period + 1e-9) * period
    if start < 0:
        start += period
    beat_in_bar = 1
    if first_downbeat is not None:
        beat_in_bar = round((start - first_downbeat) / period) % 4 + 1
    return start, beat_in_bar


def _track_xml(track: ExportTrack, location: str) -> str:
    offset = track.time_offset
    kind = _KINDS.get(track.format.lower(), f"{track.format.upper()} File" if track.format else "")
    parts = [
        f'<TRACK TrackID="{track.id}" Name="{attr(track.title)}" Artist="{attr(track.artist)}" Composer="" '
        f'Album="{attr(track.album)}" Grouping="" Genre="{attr(track.genre)}" Kind="{kind}" '
        f'Size="{track.size}" TotalTime="{round(track.duration) if track.duration else 0}" DiscNumber="0" '
        f'TrackNumber="{track.track_no or 0}" Year="{track.year or ""}" '
        f'AverageBpm="{track.bpm or 0:.2f}" '
    ]
    parts.append(
        f'DateAdded="{iso_date(track.date_added)}" BitRate="{track.bitrate or 0}" '
        f'SampleRate="{track.sample_rate or 0}" Comments="{attr(track.comment)}" PlayCount="0" Rating="0" '
        f'Location="{attr(location)}" Remixer="" Tonality="{rekordbox_tonality(track.key)}" '
        f'Label="{attr(track.label)}" Mix=""'
    )
    children: list[str] = []
    if track.bpm and track.first_beat is not None:
        first_downbeat = None if track.first_downbeat is None else track.first_downbeat + offset
        start, beat = grid_start(track.first_beat + offset, track.bpm, first_downbeat)
        children.append(f'<TEMPO Inizio="{start:.3f}" Bpm="{track.bpm:.2f}" Metro="4/4" Battito="{beat}"/>')
    for cue in track.cues:
        children.append(_mark_xml(cue, offset))
    if not children:
        return "".join(parts) + "/>\n"
    return "".join(parts) + ">" + "".join(children) + "</TRACK>\n"


def _mark_xml(cue: ExchangeCue, offset: float) -> str:
    loop = cue.kind == "loop" and cue.end is not None
    number = cue.number if cue.kind in ("hot", "loop") and cue.number is not None else -1
    text = (
        f'<POSITION_MARK Name="{attr(cue.name)}" Type="{4 if loop else 0}" Start="{cue.start + offset:.3f}"'
    )
    if loop:
        text += f' End="{cue.end + offset:.3f}"'  # type: ignore[operator]
    text += f' Num="{number}"'
    if number >= 0 and cue.color is not None:
        text += f' Red="{(cue.color >> 16) & 255}" Green="{(cue.color >> 8) & 255}" Blue="{cue.color & 255}"'
    return text + "/>"


def write(
    dest: Path,
    source: ExportSource,
    mapper: PathMapper,
    *,
    product_version: str = "",
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExportReport:
    """Write ``source`` as a rekordbox XML library at ``dest`` (renamed into place when complete)."""
    report = ExportReport(TARGET, str(dest))
    meter = ProgressMeter(source.track_count(), progress)
    exported = IdSet()
    with atomic_output(dest) as out:
        out.write(
            b'<?xml version="1.0" encoding="UTF-8"?>\n<DJ_PLAYLISTS Version="1.0.0">\n'
            + f'<PRODUCT Name="Crate" Version="{attr(product_version)}" Company="Crate"/>\n'.encode()
            + b'<COLLECTION Entries="'
        )
        entries_at = out.tell()
        out.write(f'{count_placeholder()}">\n'.encode())
        batch: list[str] = []
        for track in source.iter_tracks():
            try:
                folder, name = mapper.map_split(track.path)
                location = folder_uri(folder) + quote_name(name)
            except Unexpressible as why:
                report.skipped.append((track.path, str(why)))
                continue
            batch.append(_track_xml(track, location))
            exported.add(track.id)
            report.tracks += 1
            if len(batch) >= 2000:
                out.write("".join(batch).encode("utf-8", "replace"))
                batch.clear()
                meter.update(report.tracks + len(report.skipped))
                if should_stop is not None and should_stop():
                    raise ExchangeError("the export was cancelled; the previous file is unchanged")
        out.write("".join(batch).encode("utf-8", "replace"))
        out.write(b"</COLLECTION>\n<PLAYLISTS>\n")
        patch_count(out, entries_at, report.tracks)
        top = source.playlists()
        out.write(f'<NODE Type="0" Name="ROOT" Count="{len(top)}">\n'.encode())
        for node in top:
            _write_node(out, node, source, exported, report)
        out.write(b"</NODE>\n</PLAYLISTS>\n</DJ_PLAYLISTS>\n")
    meter.finish()
    report.files.append(str(dest))
    return report.finish()


def _write_node(out, node: PlaylistNode, source: ExportSource, exported: IdSet, report: ExportReport) -> None:
    if node.is_folder:
        out.write(f'<NODE Type="0" Name="{attr(node.name)}" Count="{len(node.children)}">\n'.encode())
        for child in node.children:
            _write_node(out, child, source, exported, report)
        out.write(b"</NODE>\n")
        return
    ids = [i for i in source.entries(node) if i in exported]
    body = "".join(f'<TRACK Key="{i}"/>' for i in ids)
    out.write(
        f'<NODE Name="{attr(node.name)}" Type="1" KeyType="0" Entries="{len(ids)}">{body}</NODE>\n'.encode()
    )
    report.playlists += 1


# -- reading ---------------------------------------------------------------------------------------


def _float(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        result = float(value.replace(",", "."))
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def _int(value: str | None) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _imported_track(elem: ET.Element, location: str) -> ImportedTrack:
    a = elem.attrib
    bpm = _float(a.get("AverageBpm"))
    track = ImportedTrack(
        key=a.get("TrackID", location),
        path=location,
        title=a.get("Name", ""),
        artist=a.get("Artist", ""),
        album=a.get("Album", ""),
        genre=a.get("Genre", ""),
        label=a.get("Label", ""),
        comment=a.get("Comments", ""),
        year=_int(a.get("Year")) or None,
        track_no=_int(a.get("TrackNumber")) or None,
        duration=_float(a.get("TotalTime")),
        size=_int(a.get("Size")),
        bpm=bpm if bpm and bpm > 0 else None,
        key_code=code_from_text(a.get("Tonality")),
    )
    for child in elem:
        if child.tag == "TEMPO" and track.first_beat is None:
            track.first_beat = _float(child.get("Inizio"))
        elif child.tag == "POSITION_MARK":
            cue = _cue(child)
            if cue is not None:
                track.cues.append(cue)
    return track


def _cue(elem: ET.Element) -> ExchangeCue | None:
    start = _float(elem.get("Start"))
    if start is None:
        return None
    number = _int(elem.get("Num"))
    end = _float(elem.get("End"))
    kind_code = _int(elem.get("Type")) or 0
    color = None
    if all(elem.get(c) is not None for c in ("Red", "Green", "Blue")):
        r, g, b = (_int(elem.get(c)) or 0 for c in ("Red", "Green", "Blue"))
        color = ((r & 255) << 16) | ((g & 255) << 8) | (b & 255)
    if kind_code == 4 and end is not None and end > start:
        return ExchangeCue("loop", number if number is not None and number >= 0 else None, start, end,
                           elem.get("Name", ""), color)  # fmt: skip
    if number is not None and number >= 0:
        return ExchangeCue("hot", number, start, None, elem.get("Name", ""), color)
    return ExchangeCue("memory", None, start, None, elem.get("Name", ""), color)


def read(path: Path) -> ImportedCollection:
    """Read a rekordbox XML file; raises ExchangeError with the reason when it is not one."""
    tracks: list[ImportedTrack] = []
    collection = ImportedCollection(TARGET, tracks, [])
    for item in iter_read(path, collection.warnings):
        if isinstance(item, ImportedTrack):
            tracks.append(item)
        else:
            collection.playlists = item
    return collection


def iter_read(
    path: Path, warnings: list[str], partial: bool = False
) -> Iterator[ImportedTrack | list[PlaylistNode]]:
    """Stream a rekordbox XML file: each track as it is parsed, then the list of top-level playlists.
    A file that stops being readable raises ExchangeError, or with ``partial`` ends the stream there
    (the tracks and complete playlists before that point, and a warning saying where it stopped)."""
    path = Path(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ExchangeError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size == 0:
        raise ExchangeError(f"{path.name} is empty, not a rekordbox XML file")
    seen: set[str] = set()
    declared: int | None = None
    count = 0
    stack: list[PlaylistNode] = []
    top: list[PlaylistNode] = []
    root_tag: str | None = None
    in_collection = False
    in_playlists = False
    collection_elem = ET.Element("COLLECTION")
    cut_short: list[str] | None = [] if partial else None
    with parsing(path, "XML", cut_short):
        for event, elem in ET.iterparse(path, events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if root_tag is None:
                    root_tag = tag
                    if tag != "DJ_PLAYLISTS":
                        raise ExchangeError(f"{path.name} is not a rekordbox XML file (its root is <{tag}>)")
                elif tag == "COLLECTION":
                    in_collection = True
                    collection_elem = elem
                    declared = _int(elem.get("Entries"))
                elif tag == "PLAYLISTS":
                    in_playlists = True
                elif tag == "NODE" and in_playlists:
                    node = PlaylistNode(elem.get("Name", ""), elem.get("Type") == "0")
                    node.ref = elem.get("KeyType", "0")
                    if stack:
                        stack[-1].children.append(node)
                    stack.append(node)
                continue
            # end events
            if tag == "TRACK" and in_collection:
                count += 1
                location = elem.get("Location")
                track_id = elem.get("TrackID")
                if not location:
                    warnings.append(f"track {track_id or count} has no Location: left out")
                elif track_id is not None and track_id in seen:
                    warnings.append(f"TrackID {track_id} appears twice: the second one is left out")
                else:
                    if track_id is not None:
                        seen.add(track_id)
                    yield _imported_track(elem, from_file_uri(location))
                collection_elem.clear()  # drop the parsed track (keeps memory flat)
            elif tag == "COLLECTION":
                in_collection = False
                if declared is not None and declared != count:
                    warnings.append(f"the file says {declared:,} tracks but holds {count:,}")
                elem.clear()
            elif tag == "TRACK" and stack:
                key = elem.get("Key")
                if key is not None:
                    stack[-1].entries.append(key)
            elif tag == "NODE" and stack:
                node = stack.pop()
                if not stack:  # the ROOT node
                    top = node.children
                elem.clear()
            elif tag == "PLAYLISTS":
                in_playlists = False
    if root_tag is None:
        raise ExchangeError(f"{path.name} is not a rekordbox XML file")
    if cut_short:
        warnings.append(f"{cut_short[0]}: what came before was imported, the rest of the file left out")
        top = close_cut_nodes(stack, warnings) if stack else top
    yield _resolve_location_keys(top)


def _resolve_location_keys(top: list[PlaylistNode]) -> list[PlaylistNode]:
    """Playlists with KeyType 1 refer to tracks by Location: turn those keys into paths."""
    for node in top:
        for _, n in node.walk():
            if n.ref == "1":
                n.entries = [from_file_uri(str(k)) for k in n.entries]
            n.ref = "location" if n.ref == "1" else "id"
    return top
