"""``crate-cli scan PATH...`` and ``crate-cli rescan``: add folders or files, rescan incrementally."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from crate_app.cli.common import ProgressLine, open_from_args, print_json, stop_on_interrupt
from crate_app.domain.track import display_path
from crate_app.library.scanner import ScanSummary, rescan_library, scan_paths
from crate_app.store.library import Library

SHOWN_PROBLEMS = 20  # problems listed after a scan without --json


def register(commands: argparse._SubParsersAction) -> None:
    scan = commands.add_parser(
        "scan",
        help="add folders (they become library folders) or single files, rescanning incrementally",
        description="Scan folders and audio files into the library. Folders become library folders; "
        "only new and changed files are read. Files that vanished are marked missing.",
    )
    scan.add_argument("paths", nargs="+", metavar="PATH", help="folder or audio file")
    _common_options(scan)
    scan.set_defaults(run=run_scan)

    rescan = commands.add_parser("rescan", help="rescan every library folder")
    _common_options(rescan)
    rescan.set_defaults(run=run_rescan)


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="end with the summary as one JSON object")
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N", help="tag reader processes (default: one per core)"
    )


def run_scan(args: argparse.Namespace) -> int:
    return _run(args, lambda library, **options: scan_paths(library, args.paths, **options))


def run_rescan(args: argparse.Namespace) -> int:
    return _run(args, rescan_library)


def _run(args: argparse.Namespace, scan: Callable[..., ScanSummary]) -> int:
    library = open_from_args(args, create=True)
    progress = ProgressLine(sys.stderr)
    with stop_on_interrupt() as stop:
        try:
            summary = scan(library, progress=progress, should_stop=stop.is_set, workers=args.workers)
        finally:
            progress.clear()
    if args.json:
        print_json(summary.as_dict())
    else:
        _print_summary(library, summary)
    library.close()
    return 130 if summary.cancelled else 0


def _print_summary(library: Library, summary: ScanSummary) -> None:
    print(
        f"{'Cancelled' if summary.cancelled else 'Done'} in {summary.seconds:.1f} s: "
        f"{summary.added:,} added, {summary.updated:,} updated, {summary.unchanged:,} unchanged, "
        f"{summary.missing:,} missing, {summary.restored:,} back again, {summary.errors:,} with problems"
    )
    if summary.errors:
        problems = [(t.path, t.error or "") for t in library.problems(SHOWN_PROBLEMS) if t.status == "error"]
        problems += library.scan_errors()[: SHOWN_PROBLEMS - len(problems)]
        for path, reason in problems[:SHOWN_PROBLEMS]:
            print(f"  {display_path(path)}: {reason}")
        if summary.errors > len(problems):
            print("  ... and more: crate-cli ls error:yes")
