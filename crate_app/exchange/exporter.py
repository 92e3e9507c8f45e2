"""One entry point for every export: pick the writer for a target and run it over the library."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from crate_app.domain.errors import ExchangeError
from crate_app.domain.progress import Progress
from crate_app.exchange import m3u, rekordbox_xml, traktor_nml
from crate_app.exchange.library_source import CrateNotFound, LibrarySource
from crate_app.exchange.model import ExportReport
from crate_app.exchange.paths import PathMapper, parse_rule
from crate_app.store.library import Library

EXPORT_TARGETS = ("rekordbox", "traktor", "serato", "engine", "m3u8")
REKORDBOX_DEFAULT_NAME = "Crate rekordbox.xml"


def mapper_from_rules(
    library: Library | None, rules: Sequence[str], normalization: str = "NFC"
) -> PathMapper:
    """A PathMapper from ``FROM=TO`` texts; an empty FROM stands for each library folder."""
    pairs: list[tuple[str, str]] = []
    for text in rules:
        try:
            source, target = parse_rule(text)
        except ValueError as exc:
            raise ExchangeError(str(exc)) from None
        if source:
            pairs.append((source, target))
            continue
        roots = library.roots() if library is not None else []
        if not roots:
            raise ExchangeError(f"{text!r}: an empty FROM means the library folders, and there are none")
        pairs.extend((root, target) for root in roots)
    try:
        return PathMapper(pairs, normalization)
    except ValueError as exc:
        raise ExchangeError(str(exc)) from None


def export(
    library: Library,
    target: str,
    dest: Path,
    *,
    crate_paths: Sequence[str] = (),
    mapper: PathMapper | None = None,
    options: dict[str, object] | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExportReport:
    """Export the library (or the crates at ``crate_paths``) for ``target`` to ``dest``."""
    mapper = mapper or PathMapper()
    options = dict(options or {})
    dest = Path(dest).expanduser()
    try:
        source = LibrarySource(library, target, crate_paths)
    except CrateNotFound as exc:
        raise ExchangeError(str(exc)) from None
    # A stream over the whole library reads each page once: SQLite's memory map and a big page cache
    # would only hold hundreds of MB of the file in this process's resident memory.
    library.limit_memory(cache_mb=16, mmap_mb=0)
    run = {"progress": progress, "should_stop": should_stop}
    if target == "rekordbox":
        if dest.is_dir():
            dest = dest / REKORDBOX_DEFAULT_NAME
        return rekordbox_xml.write(dest, source, mapper, **run, **options)  # type: ignore[arg-type]
    if target == "traktor":
        return traktor_nml.write(dest, source, mapper, **run, **options)  # type: ignore[arg-type]
    if target == "m3u8":
        if dest.exists() and not dest.is_dir():
            raise ExchangeError(f"{dest} is a file: M3U8 export writes a folder of playlists")
        return m3u.write(dest, source, mapper, **run, **options)  # type: ignore[arg-type]
    if target == "serato":
        from crate_app.exchange import serato_crates

        return serato_crates.write(dest, source, mapper, **run, **options)  # type: ignore[arg-type]
    if target == "engine":
        from crate_app.exchange import engine_db

        if dest.exists() and not dest.is_dir():
            raise ExchangeError(f"{dest} is a file: Engine DJ export writes an Engine Library folder")
        return engine_db.write(dest, source, mapper, **run, **options)  # type: ignore[arg-type]
    raise ExchangeError(f"unknown export target {target!r} (one of {', '.join(EXPORT_TARGETS)})")
