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
from crate_app.exchange.paths import PathMapper, Unexpressible, parse_path
from crate_app.exchange.running import program_running

TARGET = "serato"
VERSION = "1.0/Serato ScratchLive Crate"
COLUMNS = ("song", "artist", "bpm", "key", "album", "length", "comment", "added")
NESTING = "%%"


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


def write(
    dest: Path,
    source: ExportSource,
    mapper: PathMapper,
    *,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    check_running: Callable[[], bool] = serato_running,
) -> ExportReport:
    """Write every playlist as a crate into ``dest/_Serato_`` (or ``dest`` if it is one)."""
    if check_running():
        raise ExchangeError(
            "Serato is running: close it first (it would overwrite the crates it did not make)"
        )
    folder = serato_folder(dest)
    report = ExportReport(TARGET, str(folder))
    try:
        drive = mapper.map(str(folder.resolve())).volume()[0]
    except Unexpressible:
        drive = ""
    nodes = [(names, node) for top in source.playlists() for names, node in top.walk() if not node.is_folder]
    meter = ProgressMeter(len(nodes), progress)
    skipped: set[int] = set()
    exported: set[int] = set()
    order: list[str] = []
    for names, node in nodes:
        if should_stop is not None and should_stop():
            report.cancelled = True
            break
        paths = []
        for track in source.tracks_by_ids(source.entries(node)):
            try:
                target = mapper.map(track.path)
                volume, parts = target.volume()
                if drive and volume != drive:
                    raise Unexpressible(
                        f"it is on another drive ({volume or 'the system drive'}) than {folder}"
                    )
            except Unexpressible as why:
                if track.id not in skipped:
                    skipped.add(track.id)
                    report.skipped.append((track.path, str(why)))
                continue
            paths.append("/".join(parts))
            exported.add(track.id)
        name = NESTING.join(n.replace(NESTING, "%") for n in names)
        file = folder / "Subcrates" / f"{_safe(name)}.crate"
        with atomic_output(file, buffering=1 << 16, fsync=False) as out:
            out.write(crate_bytes(paths))
        order.append(_safe(name))
        report.files.append(str(file))
        report.playlists += 1
        meter.update(advance=1, current=node.name)
    if order and not report.cancelled:
        with atomic_output(folder / "neworder.pref", buffering=1 << 16) as out:
            out.write(("".join(f"[crate]{name}\n" for name in order)).encode("utf-16-be"))
    report.tracks = len(exported)
    flush_to_disk()
    meter.finish()
    return report.finish()


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


def read(source: Path) -> ImportedCollection:
    """The crates of a ``_Serato_`` folder (or of the drive or folder that holds one)."""
    folder = serato_folder(Path(source)) if Path(source).name != "Subcrates" else Path(source).parent
    subcrates = folder / "Subcrates"
    if not subcrates.is_dir():
        raise ExchangeError(f"no Serato crates in {source} (looked for {subcrates})")
    root = drive_root(folder)
    collection = ImportedCollection(TARGET, [], [])
    seen: set[str] = set()
    nodes: dict[tuple[str, ...], PlaylistNode] = {}
    top: list[PlaylistNode] = []
    files = sorted(subcrates.glob("*.crate"), key=lambda p: p.name.casefold())
    for file in files:
        try:
            relative = crate_paths(file.read_bytes())
        except ExchangeError as exc:
            raise ExchangeError(f"{file.name}: {exc}") from None
        except OSError as exc:
            raise ExchangeError(f"cannot read {file}: {exc.strerror or exc}") from exc
        paths = []
        for rel in relative:
            try:
                parse_path(rel)
                path = rel  # already absolute (some tools write that)
            except Unexpressible:
                path = os.path.join(root, rel)
            paths.append(path)
            if path not in seen:
                seen.add(path)
                collection.tracks.append(ImportedTrack(key=path, path=path))
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
    smart = list((folder / "SmartCrates").glob("*.scrate"))
    if smart:
        collection.warnings.append(f"{len(smart)} smart crates were left out (their rules are Serato's own)")
    collection.playlists = top
    return collection
