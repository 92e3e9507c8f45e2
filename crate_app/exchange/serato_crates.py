"""Serato crates: ``_Serato_/Subcrates/*.crate`` (``Parent%%Child.crate`` nesting, ``neworder.pref``).

A crate file is a list of chunks: a 4-letter tag, a big-endian uint32 length, the payload; text is
UTF-16-BE, tags starting with ``o`` hold chunks.  Track paths are relative to the root of the drive that
holds the ``_Serato_`` folder, with ``/`` and no leading slash.  Serato rewrites its crates from memory
while it runs, so nothing is written while it is running.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

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
from crate_app.exchange.paths import PathMapper, TargetPath, Unexpressible, parse_path
from crate_app.exchange.running import program_running
from crate_app.exchange.serato_rules import DoesNotFit, SeratoRule, serato_rules

TARGET = "serato"
VERSION = "1.0/Serato ScratchLive Crate"
SMART_VERSION = "1.0/Serato ScratchLive Smart Crate"
COLUMNS = ("song", "artist", "bpm", "key", "album", "length", "comment", "added")
NESTING = "%%"
SMART_FOLDER = "Smart Crates"  # where an import puts Serato's smart crates (as crates of their tracks)


def chunk(tag: str, payload: bytes) -> bytes:
    return tag.encode("ascii") + struct.pack(">I", len(payload)) + payload


def text(tag: str, value: str) -> bytes:
    return chunk(tag, value.encode("utf-16-be", "replace"))


def crate_bytes(paths: list[str]) -> bytes:
    """The bytes of a ``.crate`` file listing ``paths`` (drive-relative) in order."""
    parts = [text("vrsn", VERSION), chunk("osrt", text("tvcn", "song") + chunk("brev", b"\x00"))]
    parts += [chunk("ovct", text("tvcn", name) + text("tvcw", "0")) for name in COLUMNS]
    parts += [chunk("otrk", text("ptrk", path)) for path in paths]
    return b"".join(parts)


def parse_chunks(data: bytes) -> Iterator[tuple[str, bytes]]:
    """(tag, payload) of each chunk; raises ExchangeError on a truncated or foreign file."""
    i = 0
    while i < len(data):
        if i + 8 > len(data):
            raise ExchangeError("the crate file ends in the middle of an entry")
        tag = data[i : i + 4]
        if not tag.isascii() or not tag.isalnum():
            raise ExchangeError("not a Serato crate file")
        (length,) = struct.unpack(">I", data[i + 4 : i + 8])
        if i + 8 + length > len(data):
            raise ExchangeError("the crate file ends in the middle of an entry")
        yield tag.decode("ascii"), data[i + 8 : i + 8 + length]
        i += 8 + length


def crate_paths(data: bytes) -> list[str]:
    """The track paths of a ``.crate`` file, in order."""
    paths: list[str] = []
    for tag, payload in parse_chunks(data):
        if tag == "vrsn" and "Crate" not in payload.decode("utf-16-be", "replace"):
            raise ExchangeError("not a Serato crate file")
        if tag == "otrk":
            for inner, value in parse_chunks(payload):
                if inner == "ptrk":
                    paths.append(value.decode("utf-16-be", "replace"))
    return paths


def serato_running() -> bool:
    """Whether Serato DJ (or Scratch Live) runs on this computer."""
    return program_running(("serato",))


def serato_folder(dest: Path) -> Path:
    dest = Path(dest)
    return dest if dest.name == "_Serato_" else dest / "_Serato_"


def smart_crate_bytes(match_all: bool, rules: list[SeratoRule], paths: list[str]) -> bytes:
    """The bytes of a ``.scrate`` file: ALL/ANY, live update on, the rules, and the tracks it holds now."""
    parts = [
        text("vrsn", SMART_VERSION),
        chunk("rart", chunk("brut", b"\x01" if match_all else b"\x00")),
        chunk("rlut", chunk("brut", b"\x01")),
        chunk("osrt", text("tvcn", "song") + chunk("brev", b"\x00")),
    ]
    parts += [chunk("ovct", text("tvcn", name) + text("tvcw", "0")) for name in COLUMNS]
    for rule in rules:
        value = (
            chunk("urpt", struct.pack(">I", rule.value))
            if isinstance(rule.value, int)
            else text("trpt", rule.value)
        )
        field = chunk("urkt", struct.pack(">I", rule.field))
        parts.append(chunk("rurt", text("trft", rule.comparison) + field + value))
    parts += [chunk("otrk", text("ptrk", path)) for path in paths]
    return b"".join(parts)


class _Drives:
    """Which ``_Serato_`` folder each exported track's crates go to: the export's own for the tracks on
    its drive, ``<drive root>/_Serato_`` for tracks on another drive connected here (found by taking the
    path's components below the drive off its local path); the system drive's crates live in
    ``~/Music/_Serato_``, which an export elsewhere never writes into."""

    def __init__(self, home: Path, mapper: PathMapper) -> None:
        self.home = home
        self.mapper = mapper
        self.home_volume = self._volume(str(home.resolve()))
        self.system_volume = self._volume(str(Path.home()))
        self.folders: dict[str, Path | str] = {self.home_volume: home}  # volume -> _Serato_ or why not

    def _volume(self, path: str) -> str | None:
        try:
            return self.mapper.map(path).volume()[0]
        except Unexpressible:
            return None

    def place(self, local: str) -> tuple[Path, str]:
        """(the ``_Serato_`` folder, the drive-relative path) of a track; raises Unexpressible."""
        volume, parts = self.mapper.map(local).volume()
        folder = self.folders.get(volume)
        if folder is None:
            folder = self.folders[volume] = self._folder_of(volume, local, len(parts))
        if isinstance(folder, str):
            raise Unexpressible(folder)
        return folder, "/".join(parts)

    def _folder_of(self, volume: str, local: str, depth: int) -> Path | str:
        where = volume or "the system drive"
        if volume == self.system_volume:
            return f"it is on {where}, whose crates Serato keeps in ~/Music/_Serato_ (export there for them)"
        try:
            path = parse_path(local)
        except Unexpressible as why:
            return str(why)
        root_parts = path.parts[: len(path.parts) - depth]
        if not root_parts and not path.drive:
            return f"cannot tell where drive {where} starts in {local}"
        root = Path(TargetPath(path.drive, root_parts).as_native())
        if not root.is_dir():
            return f"its drive ({where}) is not connected here"
        return root / "_Serato_"


def write(
    dest: Path,
    source: ExportSource,
    mapper: PathMapper,
    *,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    check_running: Callable[[], bool] = serato_running,
) -> ExportReport:
    """Write every playlist as a crate into ``dest/_Serato_`` (or ``dest`` if it is one), and into
    ``_Serato_`` at the root of each other drive connected here that holds some of its tracks; a smart
    crate whose rules Serato can hold becomes a ``.scrate`` (on the system drive only: Serato does not
    use smart crates from other drives), any other one a crate of its tracks now."""
    if check_running():
        raise ExchangeError(
            "Serato is running: close it first (it would overwrite the crates it did not make)"
        )
    home = serato_folder(dest)
    report = ExportReport(TARGET, str(home))
    drives = _Drives(home, mapper)
    smart_here = drives.home_volume == drives.system_volume
    nodes = [(names, node) for top in source.playlists() for names, node in top.walk() if not node.is_folder]
    meter = ProgressMeter(len(nodes), progress)
    skipped: set[int] = set()
    exported: set[int] = set()
    order: dict[Path, list[str]] = {home: []}
    static_smart: list[str] = []
    for names, node in nodes:
        if should_stop is not None and should_stop():
            report.cancelled = True
            break
        name = _safe(NESTING.join(n.replace(NESTING, "%") for n in names))
        rules = None
        if node.query is not None:
            try:
                if not smart_here:
                    raise DoesNotFit("Serato uses smart crates only from the system drive")
                rules = serato_rules(node.query, node.limit)
            except DoesNotFit as why:
                static_smart.append(f"{'/'.join(names)}: {why}")
        by_folder: dict[Path, list[str]] = {home: []}
        for track in source.tracks_by_ids(source.entries(node)):
            try:
                folder, relative = drives.place(track.path)
            except Unexpressible as why:
                if track.id not in skipped:
                    skipped.add(track.id)
                    report.skipped.append((track.path, str(why)))
                continue
            by_folder.setdefault(folder, []).append(relative)
            exported.add(track.id)
        if rules is not None:
            file = home / "SmartCrates" / f"{name}.scrate"
            with atomic_output(file, buffering=1 << 16, fsync=False) as out:
                out.write(smart_crate_bytes(rules[0], rules[1], by_folder[home]))
            report.files.append(str(file))
        else:
            for folder, paths in by_folder.items():
                file = folder / "Subcrates" / f"{name}.crate"
                with atomic_output(file, buffering=1 << 16, fsync=False) as out:
                    out.write(crate_bytes(paths))
                order.setdefault(folder, []).append(name)
                report.files.append(str(file))
        report.playlists += 1
        meter.update(advance=1, current=node.name)
    if not report.cancelled:
        for folder, names in order.items():
            if names:
                _write_order(folder / "neworder.pref", names)
    if static_smart:
        report.notes.append(f"{len(static_smart):,} smart crates written as crates of their tracks now:")
        report.notes.extend(f"  {line}" for line in static_smart)
    report.tracks = len(exported)
    flush_to_disk()
    meter.finish()
    return report.finish()


def _write_order(file: Path, names: list[str]) -> None:
    """``neworder.pref`` listing ``names`` first, then the crates it listed before (kept, in their order)."""
    lines = [f"[crate]{name}" for name in names]
    try:
        old = file.read_bytes().decode("utf-16-be").splitlines()
    except (OSError, UnicodeDecodeError):
        old = []
    ours = set(lines)
    lines += [line for line in old if line.strip() and line not in ours]
    with atomic_output(file, buffering=1 << 16) as out:
        out.write("".join(f"{line}\n" for line in lines).encode("utf-16-be"))


def _safe(name: str) -> str:
    return "".join("_" if ch in '/\\:*?"<>|' or ord(ch) < 32 else ch for ch in name)


def drive_root(serato: Path) -> str:
    """The folder Serato's relative paths start from: the drive holding ``_Serato_`` (``/`` for a
    ``_Serato_`` inside a home folder)."""
    parent = serato.resolve().parent
    if sys.platform == "win32":
        return parent.anchor
    probe = parent
    while probe != probe.parent:
        if os.path.ismount(probe):
            return str(probe)
        probe = probe.parent
    return "/"


def read(source: Path, partial: bool = False) -> ImportedCollection:
    """The crates of a ``_Serato_`` folder (or of the drive or folder that holds one).  A crate file that
    cannot be read raises ExchangeError, or with ``partial`` is left out with a warning."""
    folder = serato_folder(Path(source)) if Path(source).name != "Subcrates" else Path(source).parent
    subcrates = folder / "Subcrates"
    if not subcrates.is_dir():
        raise ExchangeError(f"no Serato crates in {source} (looked for {subcrates})")
    root = drive_root(folder)
    others = [b for b in (str(folder.resolve().parent), os.path.abspath(os.sep)) if b != root]
    collection = ImportedCollection(TARGET, [], [])
    seen: set[str] = set()
    nodes: dict[tuple[str, ...], PlaylistNode] = {}
    top: list[PlaylistNode] = []

    def tracks_of(file: Path) -> list[str] | None:
        """The local paths a crate file lists (None: unreadable, and left out with ``partial``)."""
        try:
            try:
                relative = crate_paths(file.read_bytes())
            except ExchangeError as exc:
                raise ExchangeError(f"{file.name}: {exc}") from None
            except OSError as exc:
                raise ExchangeError(f"cannot read {file}: {exc.strerror or exc}") from exc
        except ExchangeError as exc:
            if not partial:
                raise
            collection.warnings.append(f"{exc}: that crate was left out")
            return None
        paths = []
        for rel in relative:
            try:
                parse_path(rel)
                path = rel  # already absolute (some tools write that)
            except Unexpressible:
                # the drive's root; else the folder holding _Serato_ (a drive copied into a folder), or
                # the system's root (the system drive's _Serato_ names paths from there)
                path = os.path.join(root, rel)
                if not os.path.exists(path):
                    path = next(
                        (p for p in (os.path.join(b, rel) for b in others) if os.path.exists(p)), path
                    )
            paths.append(path)
            if path not in seen:
                seen.add(path)
                collection.tracks.append(ImportedTrack(key=path, path=path))
        return paths

    for file in sorted(subcrates.glob("*.crate"), key=lambda p: p.name.casefold()):
        paths = tracks_of(file)
        if paths is None:
            continue
        names = tuple(file.stem.split(NESTING))
        for depth in range(1, len(names)):
            parent = names[:depth]
            if parent not in nodes:
                nodes[parent] = PlaylistNode(parent[-1], True, ref="path")
                (nodes[parent[:-1]].children if depth > 1 else top).append(nodes[parent])
        node = nodes.get(names)
        if node is None:
            node = PlaylistNode(names[-1], False, ref="path")
            nodes[names] = node
            (nodes[names[:-1]].children if len(names) > 1 else top).append(node)
        node.is_folder = False
        node.entries = list(paths)
    smart = PlaylistNode(SMART_FOLDER, True, ref="path")
    for file in sorted((folder / "SmartCrates").glob("*.scrate"), key=lambda p: p.name.casefold()):
        paths = tracks_of(file)
        if paths is not None:
            name = file.stem.replace(NESTING, " - ")
            smart.children.append(PlaylistNode(name, False, entries=paths, ref="path"))
    if smart.children:
        top.append(smart)
        collection.warnings.append(
            f"{len(smart.children)} smart crates came in as crates of the tracks Serato last saved in them, "
            f"in '{SMART_FOLDER}' (their rules are not kept)"
        )
    collection.playlists = top
    return collection
