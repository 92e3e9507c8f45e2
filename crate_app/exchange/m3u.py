"""M3U8 playlists: one ``.m3u8`` per playlist in folders mirroring the crate folders; and the reader
for ``.m3u8``, ``.m3u`` (UTF-8, else the Windows code page) and ``.pls`` files."""

from __future__ import annotations

import os
import re
import unicodedata
from array import array
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from crate_app.domain.errors import ExchangeError
from crate_app.domain.progress import Progress, ProgressMeter
from crate_app.exchange.atomic import atomic_output, flush_to_disk
from crate_app.exchange.model import (
    ExportReport,
    ExportSource,
    ImportedCollection,
    ImportedTrack,
    PlaylistNode,
)
from crate_app.exchange.paths import PathMapper, TargetPath, Unexpressible, from_file_uri, parse_path
from crate_app.exchange.rekordbox_xml import IdSet

TARGET = "m3u8"
PLAYLIST_SUFFIXES = (".m3u8", ".m3u", ".pls")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f/\\:*?"<>|]')
MAX_PLAYLIST_BYTES = 64 * 1024 * 1024  # a playlist file larger than this is not a playlist


def safe_file_name(name: str) -> str:
    """A playlist or folder name usable as a file name on every system."""
    cleaned = _UNSAFE_NAME.sub("_", unicodedata.normalize("NFC", name)).strip().rstrip(".")
    return cleaned[:200] or "_"


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate.casefold() in used:
        candidate = f"{name} ({n})"
        n += 1
    used.add(candidate.casefold())
    return candidate


def relative_to(target: TargetPath, folder: TargetPath) -> str | None:
    """``target`` relative to ``folder`` with ``/`` separators, or None on another drive."""
    if target.drive.upper() != folder.drive.upper():
        return None
    common = 0
    for a, b in zip(target.parts[:-1], folder.parts, strict=False):
        if a != b:
            break
        common += 1
    ups = [".."] * (len(folder.parts) - common)
    return "/".join([*ups, *target.parts[common:]])


def write(
    dest: Path,
    source: ExportSource,
    mapper: PathMapper,
    *,
    relative: bool = False,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExportReport:
    """One ``.m3u8`` per playlist below the folder ``dest``.  With ``relative``, paths are relative to
    each playlist's own folder (as the playlist will sit at the target, i.e. ``dest`` mapped)."""
    dest = Path(dest)
    report = ExportReport(TARGET, str(dest))
    playlists: list[tuple[Path, PlaylistNode]] = []
    folders: dict[tuple[str, ...], tuple[Path, set[str]]] = {(): (dest, set())}
    for top in source.playlists():
        for names, node in top.walk():
            parent_folder, used = folders[names[:-1]]
            name = _unique(safe_file_name(node.name), used)
            if node.is_folder:
                folders[names] = (parent_folder / name, set())
            else:
                playlists.append((parent_folder / f"{name}.m3u8", node))
    meter = ProgressMeter(len(playlists), progress)
    if relative:
        _write_relative(playlists, source, mapper, report, meter, should_stop)
    else:
        _write_absolute(playlists, source, mapper, report, meter, should_stop)
    flush_to_disk()
    meter.finish()
    return report.finish()


def _extinf(duration: float | None, artist: str, title: str, name: str) -> str:
    shown = " - ".join(p for p in (artist, title) if p) or name
    return f"#EXTINF:{round(duration) if duration else -1},{_one_line(shown)}"


def _write_absolute(
    playlists: list[tuple[Path, PlaylistNode]], source: ExportSource, mapper: PathMapper,
    report: ExportReport, meter: ProgressMeter, should_stop: Callable[[], bool] | None,
) -> None:  # fmt: skip
    """Absolute paths: a track's two lines are the same in every playlist, so they are made once, in
    one pass over the tracks (looking up each playlist's tracks cost 8 times as much per track)."""
    entries: list[array[int]] = []
    needed = IdSet()
    for _, node in playlists:
        if should_stop is not None and should_stop():
            report.cancelled = True
            return
        ids = array("q", source.entries(node))
        for track_id in ids:
            needed.add(track_id)
        entries.append(ids)
    lines: dict[int, bytes] = {}  # a track's two lines (none for a track left out)
    posix_folders: dict[TargetPath, str] = {}  # "/a/b/" or "C:/a/b/" of each target folder
    for track_id, path, title, artist, duration in source.iter_entry_rows():
        if track_id not in needed:
            continue
        try:
            folder, name = mapper.map_split(path)
        except Unexpressible as why:
            report.skipped.append((path, str(why)))
            continue
        prefix = posix_folders.get(folder)
        if prefix is None:
            if len(posix_folders) > 100_000:
                posix_folders.clear()
            prefix = posix_folders[folder] = f"{folder.drive}/" + "".join(f"{p}/" for p in folder.parts)
        text = f"{_extinf(duration, artist, title, name)}\n{prefix}{name}\n"
        lines[track_id] = text.encode("utf-8", "replace")
    report.tracks = len(lines)
    for (file, node), ids in zip(playlists, entries, strict=True):
        if should_stop is not None and should_stop():
            report.cancelled = True
            return
        with atomic_output(file, buffering=1 << 16, fsync=False) as out:
            out.write(b"#EXTM3U\n" + b"".join(filter(None, map(lines.get, ids))))
        report.files.append(str(file))
        report.playlists += 1
        meter.update(advance=1, current=node.name)


def _write_relative(
    playlists: list[tuple[Path, PlaylistNode]], source: ExportSource, mapper: PathMapper,
    report: ExportReport, meter: ProgressMeter, should_stop: Callable[[], bool] | None,
) -> None:  # fmt: skip
    """Paths relative to each playlist's folder (as the playlist will sit at the target)."""
    skipped_ids: set[int] = set()
    exported_ids: set[int] = set()
    for file, node in playlists:
        if should_stop is not None and should_stop():
            report.cancelled = True
            break
        try:
            base: TargetPath | None = mapper.map(str(file.parent.resolve()))
        except Unexpressible:
            base = None
        lines = ["#EXTM3U"]
        for track in source.tracks_by_ids(source.entries(node)):
            try:
                folder, name = mapper.map_split(track.path)
            except Unexpressible as why:
                if track.id not in skipped_ids:
                    skipped_ids.add(track.id)
                    report.skipped.append((track.path, str(why)))
                continue
            exported_ids.add(track.id)
            lines.append(_extinf(track.duration, track.artist, track.title, name))
            target = TargetPath(folder.drive, (*folder.parts, name))
            rel = relative_to(target, base) if base is not None else None
            lines.append(rel if rel is not None else target.as_posix())
        with atomic_output(file, buffering=1 << 16, fsync=False) as out:
            out.write(("\n".join(lines) + "\n").encode("utf-8", "replace"))
        report.files.append(str(file))
        report.playlists += 1
        meter.update(advance=1, current=node.name)
    report.tracks = len(exported_ids)


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


# -- reading ---------------------------------------------------------------------------------------


def decode_playlist(data: bytes, suffix: str) -> str:
    """Text of a playlist file: UTF-8 (with or without BOM), else Windows-1252 (legacy ``.m3u``)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if suffix == ".m3u8":
            raise ExchangeError("the .m3u8 file is not UTF-8 text") from None
        return data.decode("cp1252", errors="replace")


def _entry_path(line: str, folder: Path) -> str:
    if line.lower().startswith("file:"):
        return from_file_uri(line)
    if re.match(r"^[a-z][a-z0-9+.-]+://", line, re.IGNORECASE):
        return line  # a stream URL: never a library file
    try:
        parse_path(line)
        return line
    except Unexpressible:
        return os.path.normpath(os.path.join(folder, line.replace("\\", "/")))


def read_playlist(file: Path) -> tuple[list[ImportedTrack], list[str]]:
    """(tracks in order, warnings) of one playlist file."""
    try:
        size = file.stat().st_size
        if size > MAX_PLAYLIST_BYTES:
            raise ExchangeError(f"{file.name} is {size / 1e6:,.0f} MB: too big for a playlist")
        data = file.read_bytes()
    except OSError as exc:
        raise ExchangeError(f"cannot read {file}: {exc.strerror or exc}") from exc
    if b"\x00" in data[:4096]:
        raise ExchangeError(f"{file.name} is not a text playlist")
    suffix = file.suffix.lower()
    text = decode_playlist(data, suffix)
    lines = [line.strip() for line in re.split(r"\r\n|\r|\n", text)]
    tracks: list[ImportedTrack] = []
    warnings: list[str] = []
    if suffix == ".pls":
        entries = sorted(
            (
                (int(m.group(1)), m.group(2).strip())
                for line in lines
                if (m := re.match(r"(?i)^file(\d+)=(.*)$", line))
            ),
        )
        for _, value in entries:
            path = _entry_path(value, file.parent)
            tracks.append(ImportedTrack(key=path, path=path))
        return tracks, warnings
    info: tuple[float | None, str] | None = None
    for line in lines:
        if not line:
            continue
        if line.startswith("#"):
            if line.upper().startswith("#EXTINF:"):
                length, _, shown = line[8:].partition(",")
                try:
                    seconds: float | None = float(length.split()[0]) if length.strip() else None
                except ValueError:
                    seconds = None
                info = (seconds if seconds and seconds > 0 else None, shown.strip())
            continue
        path = _entry_path(unquote(line) if line.lower().startswith("file:") else line, file.parent)
        track = ImportedTrack(key=path, path=path)
        if info is not None:
            track.duration = info[0]
            artist, sep, title = info[1].partition(" - ")
            track.artist, track.title = (artist, title) if sep else ("", info[1])
        tracks.append(track)
        info = None
    return tracks, warnings


def read(source: Path, partial: bool = False) -> ImportedCollection:
    """A playlist file, or a folder of them (sub-folders become folders), as a collection.  A playlist
    that cannot be read raises ExchangeError, or with ``partial`` (a folder) is left out with a warning."""
    source = Path(source)
    collection = ImportedCollection(TARGET, [], [])
    seen: set[str] = set()

    def add(file: Path) -> PlaylistNode | None:
        try:
            tracks, warnings = read_playlist(file)
        except ExchangeError as exc:
            if not partial or not source.is_dir():
                raise
            collection.warnings.append(f"{file.name} was left out: {exc}")
            return None
        collection.warnings.extend(f"{file.name}: {w}" for w in warnings)
        for track in tracks:
            if track.path not in seen:
                seen.add(track.path)
                collection.tracks.append(track)
        return PlaylistNode(file.stem, False, entries=[t.key for t in tracks], ref="path")

    def folder(path: Path) -> list[PlaylistNode]:
        nodes: list[PlaylistNode] = []
        for child in sorted(path.iterdir(), key=lambda p: p.name.casefold()):
            if child.is_dir() and not child.name.startswith("."):
                sub = folder(child)
                if sub:
                    nodes.append(PlaylistNode(child.name, True, sub))
            elif child.suffix.lower() in PLAYLIST_SUFFIXES and not child.name.startswith("."):
                node = add(child)
                if node is not None:
                    nodes.append(node)
        return nodes

    if source.is_dir():
        collection.playlists = folder(source)
        if not collection.playlists:
            raise ExchangeError(f"no .m3u8, .m3u or .pls playlists in {source}")
    elif source.is_file():
        collection.playlists = [add(source)]  # type: ignore[list-item]  # raises rather than None
    else:
        raise ExchangeError(f"{source} does not exist")
    return collection
