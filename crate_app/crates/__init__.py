"""Crates: the tree of folders, crates and smart crates, and each crate's ordered tracks (no Qt).

The window, the command line and the exchange formats all go through these functions; each change is
one transaction.  Smart crates are evaluated in SQL by the store (``store.filters``,
``store.view.TrackView(crate_id=...)``).
"""

from crate_app.crates.entries import (
    add_tracks,
    crate_track_ids,
    crates_of_track,
    entry_positions,
    hand_over_memberships,
    move_entries,
    remove_tracks,
    restore_entries,
    take_back_memberships,
)
from crate_app.crates.tree import (
    children_of,
    count_smart_crates,
    create_node,
    create_path,
    delete_node,
    duplicate_node,
    list_nodes,
    move_node,
    node_by_id,
    node_by_path,
    rename_node,
    restore_subtree,
    set_look,
    snapshot,
    update_smart,
)
from crate_app.domain.crates import CrateNode, CrateTreeError, DeletedSubtree, EntryChange
from crate_app.store.filters import SmartQueryError

__all__ = [
    "CrateNode",
    "CrateTreeError",
    "DeletedSubtree",
    "EntryChange",
    "SmartQueryError",
    "add_tracks",
    "children_of",
    "count_smart_crates",
    "crate_track_ids",
    "crates_of_track",
    "create_node",
    "create_path",
    "delete_node",
    "duplicate_node",
    "entry_positions",
    "hand_over_memberships",
    "list_nodes",
    "move_entries",
    "move_node",
    "node_by_id",
    "node_by_path",
    "remove_tracks",
    "rename_node",
    "restore_entries",
    "restore_subtree",
    "set_look",
    "snapshot",
    "take_back_memberships",
    "update_smart",
]
