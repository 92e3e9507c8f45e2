"""``crate-cli backup {list,create,restore}``: the library's rotating backups."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from crate_app.cli.common import CliError, library_path, print_json, whole_number
from crate_app.hygiene import backup


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "backup",
        help="list, create or restore backups of the library",
        description="Backups are copies of the library file in your data folder, made with SQLite's "
        "online backup API. Restore takes the newest one that passes SQLite's quick_check (or the one "
        "named) and keeps the current file aside, never deletes it.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the backups, newest first")
    listing.add_argument("--json", action="store_true", help="one JSON object per backup")
    listing.set_defaults(run=run_list)
    create = actions.add_parser("create", help="make a backup now")
    create.add_argument(
        "--keep",
        type=whole_number(1),
        default=backup.DEFAULT_KEEP,
        help="backups kept (default: %(default)s)",
    )
    create.add_argument("--json", action="store_true", help="the new backup as one JSON object")
    create.set_defaults(run=run_create)
    restore = actions.add_parser("restore", help="put a backup in place of the library")
    restore.add_argument("backup", nargs="?", help="the backup file (default: the newest one that verifies)")
    restore.add_argument("--json", action="store_true", help="what was done as one JSON object")
    restore.set_defaults(run=run_restore)


def _describe(info: backup.BackupInfo) -> dict[str, object]:
    return {
        "path": str(info.path),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(info.created)),
        "size": info.size,
    }


def run_list(args: argparse.Namespace) -> int:
    backups = backup.list_backups(library_path(args))
    for info in backups:
        if args.json:
            print_json(_describe(info))
        else:
            described = _describe(info)
            print(f"{described['created']}  {info.size / 1e6:>10.1f} MB  {info.path}")
    if not backups and not args.json:
        print(f"no backups of {library_path(args)} yet (crate-cli backup create makes one)")
    return 0


def run_create(args: argparse.Namespace) -> int:
    info = backup.create_backup(library_path(args), keep=args.keep)
    if args.json:
        print_json(_describe(info))
    else:
        print(f"backed up to {info.path} ({info.size / 1e6:.1f} MB)")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    target = library_path(args)
    if args.backup:
        chosen = Path(args.backup)
        if not chosen.is_file():
            raise CliError(f"no backup file at {chosen}")
    else:
        newest = backup.newest_good_backup(target)
        if newest is None:
            raise CliError(f"no backup of {target} verifies (crate-cli backup list shows them)")
        chosen = newest.path
    aside = backup.restore(target, chosen)
    if args.json:
        print_json(
            {"restored": str(chosen), "library": str(target), "set_aside": str(aside) if aside else None}
        )
    else:
        print(f"restored {target} from {chosen}")
        if aside:
            print(f"the previous library file is kept as {aside}")
    return 0
