"""``crate-cli crate ...``: the crate tree from a terminal (list, new, add, remove, rm, mv).

Paths name nodes from the top, names joined by ``/`` (``Sets/2026/Berlin``); a ``/`` or ``\\`` inside
a name is written ``\\/`` or ``\\\\``.  Names are compared case-insensitively.  Exit codes: 0 done,
2 bad input (a query that does not parse, a folder where a crate is needed, a name taken...),
3 no such crate.
"""

from __future__ import annotations

import argparse
import sys

from crate_app import crates
from crate_app.cli.common import CliError, open_from_args, print_json
from crate_app.domain.crates import CrateNode, CrateTreeError, kind_noun
from crate_app.domain.search import QuerySyntaxError, parse_query
from crate_app.store.library import Library
from crate_app.store.schema import SORTABLE_COLUMNS


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "crate",
        help="folders, crates and smart crates",
        description="Folders, crates and smart crates. PATH names one from the top: Sets/2026/Berlin "
        "(a '/' inside a name is written '\\/'). Names ignore case.",
    )
    actions = parser.add_subparsers(dest="crate_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="the tree, with each crate's number of tracks")
    listing.add_argument("--json", action="store_true", help="one JSON object per node")
    listing.set_defaults(run=run_list)

    new = actions.add_parser("new", help="a new crate (or smart crate); folders on the way are created")
    new.add_argument("path", metavar="PATH")
    new.add_argument("--smart", metavar="QUERY", help="make a smart crate of the tracks matching QUERY")
    new.add_argument("--folder", action="store_true", help="make a folder instead of a crate")
    new.add_argument("--sort", choices=SORTABLE_COLUMNS, metavar="FIELD", help="a smart crate's sort")
    new.add_argument("--desc", action="store_true", help="a smart crate's sort, descending")
    new.add_argument("--limit", type=int, metavar="N", help="a smart crate keeps only its first N tracks")
    new.add_argument("--json", action="store_true", help="print the new node as JSON")
    new.set_defaults(run=run_new)

    add = actions.add_parser("add", help="append the tracks matching QUERY to a crate")
    add.add_argument("path", metavar="PATH")
    add.add_argument("query", nargs="+", metavar="QUERY", help="search ('' for every track)")
    add.add_argument(
        "--sort", default="artist", choices=(*SORTABLE_COLUMNS, "id"), metavar="FIELD",
        help="the order they are appended in (default artist, as the library)",
    )  # fmt: skip
    add.add_argument("--desc", action="store_true", help="descending order")
    add.add_argument("--json", action="store_true", help="end with one JSON object: added, already, tracks")
    add.set_defaults(run=run_add)

    remove = actions.add_parser("remove", help="take the tracks matching QUERY out of a crate")
    remove.add_argument("path", metavar="PATH")
    remove.add_argument("query", nargs="+", metavar="QUERY", help="search ('' for every track)")
    remove.add_argument(
        "--json", action="store_true", help="end with one JSON object: removed, absent, tracks"
    )
    remove.set_defaults(run=run_remove)

    rm = actions.add_parser("rm", help="delete a crate (a folder only with --recursive)")
    rm.add_argument("path", metavar="PATH")
    rm.add_argument("--recursive", "-r", action="store_true", help="also delete a folder and all in it")
    rm.set_defaults(run=run_rm)

    mv = actions.add_parser("mv", help="rename or move a crate or folder")
    mv.add_argument("path", metavar="PATH")
    mv.add_argument("new_path", metavar="NEWPATH", help="its new path (an existing folder: move into it)")
    mv.set_defaults(run=run_mv)


def node_json(node: CrateNode) -> dict[str, object]:
    value: dict[str, object] = {
        "id": node.id,
        "path": node.path,
        "name": node.name,
        "kind": node.kind,
        "tracks": node.track_count,
        "query": node.query if node.is_smart else None,
    }
    if node.is_smart:
        value.update(sort=node.sort, descending=node.descending, limit=node.limit)
    if node.error:
        value["error"] = node.error
    return value


def run_list(args: argparse.Namespace) -> int:
    library = open_from_args(args, create=False)
    nodes = crates.list_nodes(library)
    depth: dict[int, int] = {}
    for node in nodes:
        depth[node.id] = 0 if node.parent_id is None else depth[node.parent_id] + 1
        if args.json:
            print_json(node_json(node))
            continue
        label = f"{node.name}/" if node.is_folder else node.name
        line = "  " * depth[node.id] + label
        if node.error:
            line += f"  [error: {node.error}]"
        elif node.track_count is not None:
            line += (
                f"  ({node.track_count:,} tracks{', smart: ' + (node.query or '') if node.is_smart else ''})"
            )
        print(line)
    if not nodes and not args.json:
        print("no crates yet (crate-cli crate new PATH)", file=sys.stderr)
    library.close()
    return 0


def _parse(text: str, what: str = "query"):
    try:
        return parse_query(text)
    except QuerySyntaxError as exc:
        raise CliError(f"bad {what} at position {exc.position + 1}: {exc}") from None


def run_new(args: argparse.Namespace) -> int:
    if args.smart is not None:
        _parse(args.smart, "smart crate query")
        kind = "smart"
        smart = {"query": args.smart, "sort": args.sort, "descending": args.desc, "limit": args.limit}
    else:
        if args.sort or args.desc or args.limit is not None:
            raise CliError("--sort, --desc and --limit describe a smart crate: give --smart QUERY too")
        kind = "folder" if args.folder else "crate"
        smart = {}
    library = open_from_args(args, create=True)
    node = crates.create_path(library, args.path, kind, **smart)
    if args.json:
        print_json(node_json(node))
    else:
        print(
            f"created the {kind_noun(node.kind)} '{node.path}'"
            + (f" ({node.track_count:,} tracks)" if node.is_smart else "")
        )
    library.close()
    return 0


def _crate(library: Library, path: str) -> CrateNode:
    node = crates.node_by_path(library, path, with_counts=False)
    if node.is_folder:
        raise CrateTreeError(f"'{node.path}' is a folder: give a crate's path (crate-cli crate list)")
    if node.is_smart:
        raise CrateTreeError(f"'{node.path}' is a smart crate: its tracks follow its query "
                             f"({node.query}); add to or remove from a crate instead")  # fmt: skip
    return node


def run_add(args: argparse.Namespace) -> int:
    query = _parse(" ".join(args.query))
    library = open_from_args(args, create=False)
    node = _crate(library, args.path)
    ids = (
        list(library.iter_track_ids(query, args.sort))
        if not args.desc
        else _descending_ids(library, query, args.sort)
    )
    change = crates.add_tracks(library, node.id, ids)
    if args.json:
        print_json({"added": len(change.added), "already": len(change.already), "tracks": change.tracks})
    else:
        print(f"added {len(change.added):,} tracks to '{node.path}' ({len(change.already):,} were in it "
              f"already); it has {change.tracks:,} tracks")  # fmt: skip
    library.close()
    return 0


def _descending_ids(library: Library, query, sort: str) -> list[int]:
    from crate_app.store.view import SortOrder, TrackView

    sql, params = TrackView(library, query, SortOrder(sort, True)).ordered_ids_sql()
    return [track_id for (track_id,) in library.execute(sql, params)]


def run_remove(args: argparse.Namespace) -> int:
    query = _parse(" ".join(args.query))
    library = open_from_args(args, create=False)
    node = _crate(library, args.path)
    change = crates.remove_tracks(library, node.id, library.iter_track_ids(query))
    if args.json:
        print_json({"removed": len(change.removed), "absent": len(change.absent), "tracks": change.tracks})
    else:
        print(f"removed {len(change.removed):,} tracks from '{node.path}' ({len(change.absent):,} matching "
              f"tracks were not in it); it has {change.tracks:,} tracks")  # fmt: skip
    library.close()
    return 0


def run_rm(args: argparse.Namespace) -> int:
    library = open_from_args(args, create=False)
    node = crates.node_by_path(library, args.path, with_counts=False)
    if node.is_folder and not args.recursive:
        inside = len(crates.children_of(library, node.id))
        raise CrateTreeError(f"'{node.path}' is a folder ({inside} inside): delete it with --recursive")
    taken = crates.delete_node(library, node.id)
    crates_inside = sum(1 for n in taken.nodes if not n.is_folder)
    detail = f"{taken.track_entries:,} crate entries" + (
        f" in {crates_inside} crates" if node.is_folder else ""
    )
    print(f"deleted the {node.kind} '{node.path}' ({detail}; the tracks stay in the library)")
    library.close()
    return 0


def run_mv(args: argparse.Namespace) -> int:
    from crate_app.domain.crates import join_path, split_path

    library = open_from_args(args, create=False)
    node = crates.node_by_path(library, args.path, with_counts=False)
    names = split_path(args.new_path)
    try:
        target = crates.node_by_path(library, args.new_path, with_counts=False)
    except CrateTreeError:
        target = None
    if target is not None and target.is_folder and target.id != node.id:
        parent_id, name = target.id, node.name  # into an existing folder, keeping its name
    elif target is not None and target.id != node.id:
        raise CrateTreeError(f"'{target.path}' exists already (a {target.kind})")
    else:
        parent_id = None
        if len(names) > 1:
            parent_path = join_path(names[:-1])
            try:
                parent_id = crates.node_by_path(library, parent_path, with_counts=False).id
            except CrateTreeError:
                parent_id = crates.create_path(library, parent_path, "folder").id
        name = names[-1]
    if parent_id != node.parent_id:
        crates.move_node(library, node.id, parent_id)
    if name != node.name:
        crates.rename_node(library, node.id, name)
    moved = crates.node_by_id(library, node.id, with_counts=False)
    print(f"moved '{node.path}' to '{moved.path}'")
    library.close()
    return 0
