"""``crate-cli rename``: batch renames and moves from a tag template, journaled, resumable, undoable.

crate-cli rename --template T [QUERY] [--dest DIR] [--dry-run] [--json]
crate-cli rename --resume [BATCH]
crate-cli rename --undo BATCH
crate-cli rename --list
"""

from __future__ import annotations

import argparse
import sys

from crate_app.cli.common import CliError, ProgressLine, open_from_args, print_json, stop_on_interrupt
from crate_app.domain.keys import KeyNotation
from crate_app.domain.search import parse_query
from crate_app.domain.track import display_path
from crate_app.rename import executor
from crate_app.rename.batch import RenameRequest, plan_for_tracks, select_tracks
from crate_app.store import journal
from crate_app.store.library import Library


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "rename",
        help="rename/move files from a tag template (previewable, resumable, undoable)",
        description="Rename and move tracks from a template such as "
        "'{albumartist|artist}/{album}/{track:02} {title}'. The plan is stored as a journal before any "
        "file moves, so an interrupted batch can be resumed (--resume) or undone (--undo).",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--template", "-t", metavar="T", help="the naming template")
    action.add_argument("--resume", nargs="?", const=-1, type=int, metavar="BATCH",
                        help="finish an interrupted or paused batch (default: the latest)")  # fmt: skip
    action.add_argument("--undo", type=int, metavar="BATCH", help="move a batch's files back")
    action.add_argument("--list", action="store_true", help="list recent batches")
    parser.add_argument("query", nargs="?", default="", metavar="QUERY", help="which tracks (default: all)")
    parser.add_argument("--dest", metavar="DIR", help="put files under DIR instead of their library folder")
    parser.add_argument("--dry-run", action="store_true", help="show the plan, move nothing")
    parser.add_argument("--json", action="store_true", help="JSON output (the summary is the last line)")
    parser.add_argument(
        "--sidecars", action="store_true", help="carry .cue/.lrc/.txt files with the same name"
    )
    parser.add_argument("--remove-empty-folders", action="store_true", help="remove folders left empty")
    parser.add_argument("--key-notation", choices=[n.value for n in KeyNotation], default="camelot",
                        help="notation of {key} (default: camelot)")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    library = open_from_args(args, create=False)
    try:
        if args.list:
            return _list(library, args)
        if args.undo is not None:
            if journal.batch_info(library, args.undo) is None:
                raise CliError(f"no rename batch {args.undo} (see crate-cli rename --list)")
            return _execute(library, executor.create_undo(library, args.undo), args)
        if args.resume is not None:
            return _execute(library, _batch_to_resume(library, args.resume), args)
        return _new_batch(library, args)
    finally:
        library.close()


def _batch_to_resume(library: Library, wanted: int) -> int:
    unfinished = journal.unfinished_batches(library)
    if wanted == -1:
        if not unfinished:
            raise CliError("no interrupted or paused rename batch to resume")
        return unfinished[-1].id
    info = journal.batch_info(library, wanted)
    if info is None:
        raise CliError(f"no rename batch {wanted} (see crate-cli rename --list)")
    if info.status not in journal.UNFINISHED_STATUSES:
        raise CliError(f"batch {wanted} is {info.status}; only paused or interrupted batches can be resumed")
    return wanted


def _new_batch(library: Library, args: argparse.Namespace) -> int:
    query = parse_query(args.query) if args.query else None
    request = RenameRequest(
        template=args.template,
        destination=args.dest,
        key_notation=KeyNotation(args.key_notation),
        carry_sidecars=args.sidecars,
        remove_empty_folders=args.remove_empty_folders,
    )
    tracks = select_tracks(library, query)
    plan = plan_for_tracks(library, tracks, request)
    for failure in plan.failures:
        print(f"cannot rename {display_path(failure.src)}: {failure.reason}", file=sys.stderr)
    if plan.empty_fields:
        print(f"note: {plan.empty_fields_note()}", file=sys.stderr)
    if args.dry_run:
        for move in plan.moves:
            if args.json:
                print_json(
                    {"src": display_path(move.src), "dst": display_path(move.dst), "kind": move.kind.value}
                )
            else:
                print(f"{display_path(move.src)}\n  -> {display_path(move.dst)}")
        summary = {
            "batch": None,
            "planned": plan.changed_count,
            "moved": 0,
            "skipped": plan.unchanged_count,
            "failed": len(plan.failures),
            "conflicts": len(plan.conflicts),
            "dry_run": True,
        }
        _print_summary(summary, args)
        return 0
    if not plan.steps:
        _print_summary({"batch": None, "planned": 0, "moved": 0, "skipped": plan.unchanged_count,
                        "failed": len(plan.failures), "conflicts": 0}, args)  # fmt: skip
        return 0 if not plan.failures else 1
    batch = executor.start_batch(
        library, plan, description=request.describe(), remove_empty_folders=request.remove_empty_folders
    )
    return _execute(library, batch, args, plan_failures=len(plan.failures))


def _execute(library: Library, batch: int, args: argparse.Namespace, plan_failures: int = 0) -> int:
    line = ProgressLine(label=f"batch {batch}: ")
    with stop_on_interrupt() as stop:
        result = executor.run_batch(library, batch, progress=line, should_stop=stop.is_set)
    line.clear()
    for path, reason in result.errors:
        print(f"not moved: {display_path(path)}: {reason}", file=sys.stderr)
    if result.status == "paused":
        print(f"paused; continue with: crate-cli rename --resume {batch}", file=sys.stderr)
    summary = result.as_dict()
    summary["failed"] = result.failed + plan_failures
    summary.pop("errors")
    _print_summary(summary, args)
    return 0 if result.failed + plan_failures == 0 else 1


def _print_summary(summary: dict[str, object], args: argparse.Namespace) -> None:
    if args.json:
        print_json(summary)
    else:
        print(", ".join(f"{key} {value}" for key, value in summary.items() if value is not None))


def _list(library: Library, args: argparse.Namespace) -> int:
    batches = journal.list_batches(library)
    if args.json:
        for info in batches:
            print_json(info.as_dict())
        return 0
    if not batches:
        print("no rename batches yet")
    for info in batches:
        print(
            f"{info.id:>5}  {info.status:<9}  {info.done:>7,}/{info.total:<7,} "
            f"{'failed ' + str(info.failed) if info.failed else '':<10}  {info.description}"
        )
    return 0
