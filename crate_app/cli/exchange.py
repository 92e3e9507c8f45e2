"""``crate-cli export TARGET DEST`` and ``crate-cli import SOURCE_KIND SOURCE``: other DJ programs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crate_app.cli.common import ProgressLine, open_from_args, print_json, stop_on_interrupt
from crate_app.domain.track import display_path
from crate_app.exchange.exporter import EXPORT_TARGETS, export, mapper_from_rules

IMPORT_SOURCES = ("rekordbox", "traktor", "serato", "m3u8")
SHOWN_SKIPPED = 20


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="export tracks and crates for rekordbox, Traktor, Serato, Engine DJ or as M3U8 playlists",
        description="Write the library (or the chosen crates) in another DJ program's format. The file "
        "is written beside the target and renamed into place when complete.",
    )
    parser.add_argument("target", choices=EXPORT_TARGETS, help="the program or format")
    parser.add_argument("dest", metavar="DEST", help="file or folder to write")
    parser.add_argument(
        "--crate",
        action="append",
        default=[],
        metavar="PATH",
        help="export only this crate or folder (repeat)",
    )
    _map_option(parser)
    parser.add_argument("--json", action="store_true", help="end with the summary as one JSON object")
    parser.set_defaults(run=run_export)

    parser = commands.add_parser(
        "import",
        help="import tracks, cues and playlists from rekordbox XML, Traktor NML, Serato crates or M3U8",
        description="Read another DJ program's library: tracks are matched to the library by path (after "
        "--map), then by size and content; playlists become crates under a folder named after the source. "
        "All or nothing: a file that cannot be read imports nothing (unless --partial).",
    )
    parser.add_argument("source_kind", choices=IMPORT_SOURCES, metavar="{" + ",".join(IMPORT_SOURCES) + "}")
    parser.add_argument("source", metavar="SOURCE", help="file (or folder) to read")
    _map_option(parser)
    parser.add_argument(
        "--partial",
        action="store_true",
        help="if the file is damaged (cut short, a bad playlist in a folder), import what can be read and "
        "list what was left out",
    )
    parser.add_argument("--json", action="store_true", help="end with the summary as one JSON object")
    parser.set_defaults(run=run_import)


def _map_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FROM=TO",
        help="rewrite paths starting with FROM to start with TO (repeat; an empty FROM means each "
        "library folder)",
    )


def run_export(args: argparse.Namespace) -> int:
    library = open_from_args(args, create=False)
    mapper = mapper_from_rules(library, args.map)
    progress = ProgressLine(sys.stderr, "Exporting: ")
    with stop_on_interrupt() as stop:
        try:
            report = export(
                library, args.target, Path(args.dest), crate_paths=args.crate, mapper=mapper,
                progress=progress, should_stop=stop.is_set,
            )  # fmt: skip
        finally:
            progress.clear()
    library.close()
    if args.json:
        print_json(report.as_dict())
    else:
        where = report.files[0] if len(report.files) == 1 else f"{len(report.files):,} files in {report.dest}"
        print(
            f"Exported {report.tracks:,} tracks and {report.playlists:,} playlists to {where} "
            f"in {report.seconds:.1f} s; {len(report.skipped):,} skipped"
        )
        for note in report.notes[:SHOWN_SKIPPED]:
            print(f"  {note}")
        _print_skipped(report.skipped)
    return 130 if report.cancelled else 0


def run_import(args: argparse.Namespace) -> int:
    from crate_app.exchange.importer import import_file

    library = open_from_args(args, create=True)
    mapper = mapper_from_rules(None, args.map)
    progress = ProgressLine(sys.stderr, "Importing: ")
    with stop_on_interrupt() as stop:
        try:
            report = import_file(
                library, args.source_kind, Path(args.source), mapper=mapper, partial=args.partial,
                progress=progress, should_stop=stop.is_set,
            )  # fmt: skip
        finally:
            progress.clear()
    library.close()
    if args.json:
        print_json(report.as_dict())
    else:
        print(report.describe())
        for warning in report.warnings[:SHOWN_SKIPPED]:
            print(f"  {warning}")
        _print_skipped(report.not_found, "not found")
    return 130 if report.cancelled else 0


def _print_skipped(items: list[tuple[str, str]], label: str = "skipped") -> None:
    for path, reason in items[:SHOWN_SKIPPED]:
        print(f"  {label}: {display_path(path)}: {reason}")
    if len(items) > SHOWN_SKIPPED:
        print(f"  ... and {len(items) - SHOWN_SKIPPED:,} more")
