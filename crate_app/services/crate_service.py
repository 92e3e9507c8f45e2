"""Crate edits for the window: the crate tree read off the GUI thread, every change written on one
writer thread in order, and each change an undoable command on a QUndoStack.

An edit is a plain object (``CrateEdit``) with ``apply(library)`` and ``revert(library)``; both run on
the service's single writer thread, one after the other in the order they were asked for, so that the
window never waits for SQLite (adding 100,000 tracks takes a second or so) and an undo can never
overtake the edit it undoes.  ``submit(edit)`` pushes a ``QUndoCommand`` whose ``redo()`` / ``undo()``
queue ``apply`` / ``revert``; an edit that failed the first time does nothing when undone.

An edit that made nodes keeps what ``delete_node`` returned when it is undone, and redoing it restores
that snapshot, so the nodes come back with the same ids and the commands above it on the stack still
name the right nodes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from crate_app import crates
from crate_app.domain.crates import CrateNode, EntryChange, kind_noun
from crate_app.domain.errors import CrateError
from crate_app.domain.search import QuerySyntaxError, parse_query
from crate_app.services.jobs import FunctionJob, Job, JobRunner, JobState
from crate_app.store.library import Library
from crate_app.store.view import TrackView

# After tracks' values changed (analysis, tag edits, renames), smart crates are counted again this long
# after the first change, and then no sooner than RECOUNT_COST_FACTOR times the last count took (a
# smart crate of 470,000 matches over 1M tracks takes a second or two of a core to count: an analysis
# saving results every second recounts at most a tenth of a core's worth).
RECOUNT_AFTER_CHANGES_MS = 1_500
RECOUNT_COST_FACTOR = 10


@dataclass
class EditOutcome:
    """What one run of ``apply`` or ``revert`` changed, for the window to show and refresh."""

    message: str = ""
    entries_changed: set[int] = field(default_factory=set)  # crates whose tracks changed
    select_node: int | None = None  # a node the sidebar should select (a new crate)


class CrateEdit:
    """One undoable change; ``apply`` and ``revert`` run on the writer thread (no Qt in them)."""

    text = "Edit crates"

    def apply(self, library: Library) -> EditOutcome:
        raise NotImplementedError

    def revert(self, library: Library) -> EditOutcome:
        raise NotImplementedError


class NodeMakingEdit(CrateEdit):
    """An edit that makes one node (and what is inside it): undone by deleting it, redone by restoring
    the deleted snapshot (same ids, same entries, same order)."""

    def __init__(self) -> None:
        self.node_id: int | None = None
        self._snapshot: Any = None

    def make(self, library: Library) -> CrateNode:
        raise NotImplementedError

    def apply(self, library: Library) -> EditOutcome:
        if self._snapshot is None:
            node = self.make(library)
            self.node_id = node.id
        else:
            crates.restore_subtree(library, self._snapshot)
            self._snapshot = None
        return EditOutcome(self.text, select_node=self.node_id)

    def revert(self, library: Library) -> EditOutcome:
        assert self.node_id is not None
        self._snapshot = crates.delete_node(library, self.node_id)
        return EditOutcome(f"Undone: {self.text}")


class CreateNode(NodeMakingEdit):
    def __init__(self, parent_id: int | None, name: str, kind: str, **smart: Any) -> None:
        super().__init__()
        self.parent_id, self.name, self.kind, self.smart = parent_id, name, kind, smart
        self.text = f"New {kind_noun(kind)} \u201c{name}\u201d"

    def make(self, library: Library) -> CrateNode:
        return crates.create_node(library, self.parent_id, self.name, self.kind, **self.smart)


class NewCrateWithTracks(NodeMakingEdit):
    def __init__(self, parent_id: int | None, name: str, track_ids: Sequence[int]) -> None:
        super().__init__()
        self.parent_id, self.name, self.track_ids = parent_id, name, list(track_ids)
        self.text = f"New crate \u201c{name}\u201d with {_tracks(len(self.track_ids))}"

    def make(self, library: Library) -> CrateNode:
        node = crates.create_node(library, self.parent_id, self.name, "crate")
        crates.add_tracks(library, node.id, self.track_ids)
        return node


class DuplicateNode(NodeMakingEdit):
    def __init__(self, node: CrateNode) -> None:
        super().__init__()
        self.source_id = node.id
        self.text = f"Duplicate \u201c{node.name}\u201d"

    def make(self, library: Library) -> CrateNode:
        return crates.duplicate_node(library, self.source_id)


class DeleteNode(CrateEdit):
    def __init__(self, node: CrateNode) -> None:
        self.node_id = node.id
        self.text = f"Delete \u201c{node.name}\u201d"
        self._snapshot: Any = None

    def apply(self, library: Library) -> EditOutcome:
        self._snapshot = crates.delete_node(library, self.node_id)
        return EditOutcome(self.text)

    def revert(self, library: Library) -> EditOutcome:
        crates.restore_subtree(library, self._snapshot)
        return EditOutcome(f"Undone: {self.text}", {self.node_id}, select_node=self.node_id)


class RenameNode(CrateEdit):
    def __init__(self, node: CrateNode, new_name: str) -> None:
        self.node_id, self.old_name, self.new_name = node.id, node.name, new_name
        self.text = f"Rename \u201c{node.name}\u201d to \u201c{new_name}\u201d"

    def apply(self, library: Library) -> EditOutcome:
        crates.rename_node(library, self.node_id, self.new_name)
        return EditOutcome(self.text)

    def revert(self, library: Library) -> EditOutcome:
        crates.rename_node(library, self.node_id, self.old_name)
        return EditOutcome(f"Undone: {self.text}")


class MoveNode(CrateEdit):
    def __init__(self, node: CrateNode, new_parent_id: int | None, position: int | None) -> None:
        self.node_id = node.id
        self.old_parent_id, self.old_position = node.parent_id, node.position
        self.new_parent_id, self.new_position = new_parent_id, position
        self.text = f"Move \u201c{node.name}\u201d"

    def apply(self, library: Library) -> EditOutcome:
        crates.move_node(library, self.node_id, self.new_parent_id, self.new_position)
        return EditOutcome(self.text)

    def revert(self, library: Library) -> EditOutcome:
        crates.move_node(library, self.node_id, self.old_parent_id, self.old_position)
        return EditOutcome(f"Undone: {self.text}")


class SetLook(CrateEdit):
    """A node's colour (None: none) and note, undone by giving back the old ones."""

    def __init__(self, node: CrateNode, color: str | None, note: str) -> None:
        self.node_id = node.id
        self.old, self.new = (node.color, node.note), (color, note)
        what = "note" if color == node.color else "colour"
        self.text = f"Set the {what} of \u201c{node.name}\u201d"

    def _set(self, library: Library, look: tuple[str | None, str]) -> None:
        crates.set_look(library, self.node_id, *look)

    def apply(self, library: Library) -> EditOutcome:
        self._set(library, self.new)
        return EditOutcome(self.text)

    def revert(self, library: Library) -> EditOutcome:
        self._set(library, self.old)
        return EditOutcome(f"Undone: {self.text}")


@dataclass(frozen=True)
class SmartRule:
    """A smart crate's saved query, sort and limit."""

    query: str
    sort: str | None = None
    descending: bool = False
    limit: int | None = None


class UpdateSmart(CrateEdit):
    def __init__(self, node: CrateNode, rule: SmartRule) -> None:
        self.node_id = node.id
        self.old = SmartRule(node.query or "", node.sort, node.descending, node.limit)
        self.new = rule
        self.text = f"Edit smart crate \u201c{node.name}\u201d"

    def _set(self, library: Library, rule: SmartRule) -> None:
        crates.update_smart(library, self.node_id, rule.query, rule.sort, rule.descending, rule.limit)

    def apply(self, library: Library) -> EditOutcome:
        self._set(library, self.new)
        return EditOutcome(self.text, {self.node_id})

    def revert(self, library: Library) -> EditOutcome:
        self._set(library, self.old)
        return EditOutcome(f"Undone: {self.text}", {self.node_id})


IdReader = Callable[[], list[int]]  # reads track ids when called (on the writer thread)


def _ids_or_reader(track_ids: Sequence[int] | IdReader) -> tuple[IdReader | None, list[int]]:
    """(reader, []) for a reader of ids, (None, the ids without repeats) for ids."""
    if callable(track_ids):
        return track_ids, []
    return None, list(dict.fromkeys(track_ids))


def _tracks(count: int) -> str:
    return f"{count:,} track" + ("" if count == 1 else "s")


class AddTracks(CrateEdit):
    """Append tracks to a crate (or insert them at ``position``); undone by removing those it added."""

    def __init__(
        self,
        crate: CrateNode,
        track_ids: Sequence[int] | IdReader,
        position: int | None = None,
        count: int | None = None,
    ) -> None:
        self.crate_id, self.crate_name = crate.id, crate.name
        self._read_ids, self.track_ids = _ids_or_reader(track_ids)
        self.position = position
        self.added: list[int] = []  # the tracks this edit put in (not those already there)
        self._applied = False
        shown = len(self.track_ids) if count is None else count
        self.text = f"Add {_tracks(shown)} to \u201c{crate.name}\u201d"

    def resolve(self, library: Library) -> list[int]:
        if self._read_ids is not None:  # the rows selected, read here on the writer thread
            self.track_ids, self._read_ids = list(dict.fromkeys(self._read_ids())), None
        return self.track_ids

    def apply(self, library: Library) -> EditOutcome:
        first = self._applied is False
        wanted = self.resolve(library) if first else self.added
        change = crates.add_tracks(library, self.crate_id, wanted, self.position)
        self._applied = True
        if first:
            self.added = list(change.added)
        message = f"Added {_tracks(len(change.added))} to \u201c{self.crate_name}\u201d"
        if first and change.already:
            message += f" ({len(change.already):,} already in it)"
        return EditOutcome(message, {self.crate_id})

    def revert(self, library: Library) -> EditOutcome:
        if self.added:
            crates.remove_tracks(library, self.crate_id, self.added)
        return EditOutcome(f"Undone: added {_tracks(len(self.added))}", {self.crate_id})


class AddPaths(AddTracks):
    """Add the library's tracks in some folders or files (scanned just before) to a crate, by path."""

    def __init__(self, crate: CrateNode, paths: Sequence[str]) -> None:
        super().__init__(crate, [])
        self.paths = list(paths)
        self.text = f"Add files to \u201c{crate.name}\u201d"

    def resolve(self, library: Library) -> list[int]:
        return track_ids_under(library, self.paths)


def track_ids_under(library: Library, paths: Iterable[str]) -> list[int]:
    """Ids of the library's tracks at or below ``paths`` (folders or files), each path's in path order."""
    ids: list[int] = []
    for path in paths:
        states = library.file_states_under(path) if os.path.isdir(path) else library.file_states_of([path])
        ids.extend(states[p].id for p in sorted(states))
    return list(dict.fromkeys(ids))


class RemoveTracks(CrateEdit):
    """Remove tracks from a crate; undone by putting each back where it was."""

    def __init__(
        self, crate: CrateNode, track_ids: Sequence[int] | IdReader, count: int | None = None
    ) -> None:
        self.crate_id, self.crate_name = crate.id, crate.name
        self._read_ids, self.track_ids = _ids_or_reader(track_ids)
        self._change: Any = None
        shown = len(self.track_ids) if count is None else count
        self.text = f"Remove {_tracks(shown)} from \u201c{crate.name}\u201d"

    def apply(self, library: Library) -> EditOutcome:
        if self._read_ids is not None:
            self.track_ids, self._read_ids = list(dict.fromkeys(self._read_ids())), None
        self._change = crates.remove_tracks(library, self.crate_id, self.track_ids)
        removed = len(self._change.removed)
        return EditOutcome(f"Removed {_tracks(removed)} from \u201c{self.crate_name}\u201d", {self.crate_id})

    def revert(self, library: Library) -> EditOutcome:
        crates.restore_entries(library, self._change)
        return EditOutcome(f"Undone: removed {_tracks(len(self._change.removed))}", {self.crate_id})


class ReorderTracks(CrateEdit):
    """Move some of a crate's tracks to ``to_position`` (in crate order); undone by taking them out and
    putting each back at the position it had."""

    def __init__(self, crate: CrateNode, track_ids: Sequence[int], to_position: int) -> None:
        self.crate_id = crate.id
        self.track_ids = list(dict.fromkeys(track_ids))
        self.to_position = to_position
        self._old_positions: dict[int, int] = {}
        self.text = f"Reorder \u201c{crate.name}\u201d"

    def apply(self, library: Library) -> EditOutcome:
        moving = set(self.track_ids)
        self._old_positions = {
            track_id: position
            for position, track_id in enumerate(crates.crate_track_ids(library, self.crate_id))
            if track_id in moving
        }
        crates.move_entries(library, self.crate_id, self.track_ids, self.to_position)
        return EditOutcome(f"Moved {_tracks(len(self.track_ids))}", {self.crate_id})

    def revert(self, library: Library) -> EditOutcome:
        taken = crates.remove_tracks(library, self.crate_id, list(self._old_positions))
        added_at = dict(zip(taken.removed, taken.removed_added_at, strict=True))
        back = sorted(self._old_positions, key=self._old_positions.__getitem__)
        crates.restore_entries(
            library,
            EntryChange(
                self.crate_id,
                removed=tuple(back),
                removed_positions=tuple(self._old_positions[t] for t in back),
                removed_added_at=tuple(added_at[t] for t in back),
            ),
        )
        return EditOutcome(f"Undone: {self.text}", {self.crate_id})


class CompoundEdit(CrateEdit):
    """Several edits as one step (moving tracks between crates = add here, remove there)."""

    def __init__(self, text: str, edits: Sequence[CrateEdit]) -> None:
        self.text = text
        self.edits = list(edits)

    def apply(self, library: Library) -> EditOutcome:
        return _merge([edit.apply(library) for edit in self.edits])

    def revert(self, library: Library) -> EditOutcome:
        outcome = _merge([edit.revert(library) for edit in reversed(self.edits)])
        outcome.message = f"Undone: {self.text}"
        return outcome


def _merge(outcomes: list[EditOutcome]) -> EditOutcome:
    merged = EditOutcome("; ".join(o.message for o in outcomes if o.message))
    for outcome in outcomes:
        merged.entries_changed |= outcome.entries_changed
        merged.select_node = outcome.select_node or merged.select_node
    return merged


class CratesFromFolders(NodeMakingEdit):
    """A folder node named after ``folder`` with one crate per subfolder (its tracks, by path); the
    tracks directly in ``folder`` go into a crate of the folder's own name.  ``folder`` was scanned
    just before."""

    def __init__(self, parent_id: int | None, folder: str) -> None:
        super().__init__()
        self.parent_id = parent_id
        self.folder = os.path.normpath(folder)
        self.name = os.path.basename(self.folder) or self.folder
        self.text = f"Create crates from \u201c{self.name}\u201d"
        self.crates_made = 0

    def make(self, library: Library) -> CrateNode:
        top = crates.create_node(library, self.parent_id, self.name, "folder")
        states = library.file_states_under(self.folder)
        groups: dict[str, list[tuple[str, int]]] = {}
        for path, state in states.items():
            relative = os.path.relpath(path, self.folder)
            first = relative.split(os.sep, 1)[0] if os.sep in relative else ""
            groups.setdefault(first, []).append((path, state.id))
        for sub in sorted(groups, key=lambda name: (name == "", name.casefold())):
            crate = crates.create_node(library, top.id, sub or self.name, "crate")
            crates.add_tracks(library, crate.id, [track_id for _, track_id in sorted(groups[sub])])
            self.crates_made += 1
        return top

    def apply(self, library: Library) -> EditOutcome:
        outcome = super().apply(library)
        outcome.message = f"Created {self.crates_made:,} crate(s) in \u201c{self.name}\u201d"
        return outcome


class _EditCommand(QUndoCommand):
    """The undo stack's handle on one edit: redo/undo queue the edit's apply/revert on the writer."""

    def __init__(self, service: CrateService, edit: CrateEdit) -> None:
        super().__init__(edit.text)
        self.service = service
        self.edit = edit
        self.failed = False  # the first apply failed: nothing to undo
        self._applied_once = False

    def redo(self) -> None:  # Qt override
        first, self._applied_once = not self._applied_once, True
        self.service._run(self, self.edit.apply, first=first)

    def undo(self) -> None:  # Qt override
        if self.failed:
            self.setObsolete(True)
            return
        self.service._run(self, self.edit.revert)


class CrateService(QObject):
    """The crate tree and its edits for one library; see the module docstring.

    Signals: ``nodes_loaded(list[CrateNode])`` with the whole tree and its counts (after every edit and
    on ``reload()``); ``entries_changed(set[int])`` with the crates whose tracks changed;
    ``edited(EditOutcome)`` after each apply or revert; ``failed(str)`` for an edit that could not be
    made (in words); ``busy_changed(bool)`` while edits are being written.
    """

    nodes_loaded = Signal(object)
    entries_changed = Signal(object)
    edited = Signal(object)
    failed = Signal(str)
    busy_changed = Signal(bool)
    query_counted = Signal(int, object, str)  # token from count_query(), count, problem in words

    def __init__(self, library: Library, scan_service: Any = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.scan_service = scan_service
        self.undo_stack = QUndoStack(self)
        self._writer = JobRunner(max_threads=1, parent=self)
        self._writer.busy_changed.connect(self.busy_changed)
        self._reader = JobRunner(max_threads=1, parent=self)
        self._nodes: list[CrateNode] = []
        self._by_id: dict[int, CrateNode] = {}
        self._load_generation = 0
        self._smart_counts: dict[int, int] = {}  # smart crates' counts, as last counted
        self._recount_all = False
        self._recount_ids: set[int] = set()
        self._count_token = 0
        self._first_runs: dict[Job, _EditCommand] = {}  # first applies, to mark the failed ones
        self._after_scan: list[Callable[[], None]] = []
        self._last_count_seconds = 0.0  # how long counting the smart crates took last time
        self._recount_timer = QTimer(self)
        self._recount_timer.setSingleShot(True)
        self._recount_timer.timeout.connect(self._on_recount_timer_timeout)
        if scan_service is not None:
            scan_service.running_changed.connect(self._on_scan_service_running_changed)

    # -- the tree -------------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[CrateNode]:
        """The tree as last loaded (parents before children, siblings in order)."""
        return self._nodes

    def node(self, node_id: int | None) -> CrateNode | None:
        return self._by_id.get(node_id) if node_id is not None else None

    def reload(self, recount_smart: bool = True) -> None:
        """Read the tree and its crates' counts again, on the reader thread (``nodes_loaded`` when
        done), then count the smart crates (``recount_smart``: all of them; otherwise those never
        counted, those asked for by ``recount()`` and those whose rule names crates), each COUNT on
        the reader thread, ``nodes_loaded`` again with the counts: a smart crate of 200,000 matches
        takes a few hundred ms to count, the tree with its crates' stored counts a few ms."""
        self._load_generation += 1
        generation = self._load_generation
        library = self.library
        self._recount_all = self._recount_all or recount_smart

        def load(job: Job) -> tuple[int, list[CrateNode]] | None:
            if generation != self._load_generation:
                return None  # a newer reload is queued
            try:
                return generation, crates.list_nodes(library, with_counts=True, count_smart=False)
            finally:
                library.close()

        job = FunctionJob(load, "Reading crates")
        job.signals.finished.connect(self._on_load_finished)
        job.signals.failed.connect(self.failed)
        self._reader.start(job)

    def load_now(self) -> list[CrateNode]:
        """Read the tree on this thread (tests, and the first paint of a small library)."""
        nodes = crates.list_nodes(self.library, with_counts=True)
        self._smart_counts = {
            n.id: n.track_count for n in nodes if n.kind == "smart" and n.track_count is not None
        }
        self._set_nodes(nodes)
        return self._nodes

    def _on_load_finished(self, result: tuple[int, list[CrateNode]] | None) -> None:
        if result is None or result[0] != self._load_generation:
            return
        nodes = result[1]
        smart = [node for node in nodes if node.kind == "smart" and not node.error]
        recount = [
            node.id
            for node in smart
            if self._recount_all
            or node.id not in self._smart_counts
            or node.id in self._recount_ids
            or "crate" in (node.query or "").casefold()  # membership rules follow crate edits
        ]
        self._recount_all, self._recount_ids = False, set()
        self._set_nodes(nodes)
        if recount:
            self._count_smart(result[0], recount)

    def recount(self, node_ids: Iterable[int]) -> None:
        """Count these smart crates again at the next ``reload()`` (their rule changed)."""
        self._recount_ids.update(node_ids)

    def tracks_changed(self, _track_ids: object = None) -> None:
        """Tracks' values changed (analysis results, tag edits, renames, a rescan): smart crates may
        match other tracks now.  They are counted again on the reader thread shortly after (see
        RECOUNT_AFTER_CHANGES_MS), once for a burst of changes."""
        if not self._recount_timer.isActive():
            delay = self._last_count_seconds * 1000 * RECOUNT_COST_FACTOR
            self._recount_timer.start(int(max(RECOUNT_AFTER_CHANGES_MS, delay)))

    def _on_recount_timer_timeout(self) -> None:
        if any(node.kind == "smart" for node in self._nodes):
            self.reload(recount_smart=True)

    def _count_smart(self, generation: int, node_ids: list[int]) -> None:
        library = self.library

        def count(job: Job) -> tuple[int, dict[int, int], float] | None:
            counts: dict[int, int] = {}
            started = time.perf_counter()
            try:
                for node_id in node_ids:
                    if generation != self._load_generation:
                        return None  # the tree is being read again: so are these
                    counts.update(crates.count_smart_crates(library, [node_id]))
            finally:
                library.close()
            return generation, counts, time.perf_counter() - started

        job = FunctionJob(count, "Counting smart crates")
        job.signals.finished.connect(self._on_smart_counted)
        job.signals.failed.connect(self.failed)
        self._reader.start(job)

    def _on_smart_counted(self, result: tuple[int, dict[int, int], float] | None) -> None:
        if result is None or result[0] != self._load_generation:
            return
        self._smart_counts.update(result[1])
        self._last_count_seconds = result[2]
        self._set_nodes(self._nodes)

    def _set_nodes(self, nodes: list[CrateNode]) -> None:
        counts = self._smart_counts
        self._nodes = [
            replace(node, track_count=counts[node.id])
            if node.kind == "smart" and not node.error and node.id in counts
            else node
            for node in nodes
        ]
        self._by_id = {node.id: node for node in self._nodes}
        self.nodes_loaded.emit(self._nodes)

    def count_query(self, rule: SmartRule) -> int:
        """Count the tracks a smart crate's rule matches, on the reader thread; ``query_counted(token,
        count, problem)`` follows with the token returned here (a rule that does not parse: the
        problem in words, with its position)."""
        self._count_token += 1
        token = self._count_token
        library = self.library

        def count(job: Job) -> tuple[int, int | None, str]:
            if token != self._count_token:
                return token, None, ""  # a newer rule is waiting
            try:
                query = parse_query(rule.query)
                total = TrackView(library, query).count()
            except QuerySyntaxError as exc:
                return token, None, f"{exc} (at character {exc.position + 1})"
            except CrateError as exc:
                return token, None, str(exc)
            finally:
                library.close()
            return token, total if rule.limit is None else min(total, rule.limit), ""

        job = FunctionJob(count, "Counting a smart crate")
        job.signals.finished.connect(self._on_count_finished)
        self._reader.start(job)
        return token

    def _on_count_finished(self, result: tuple[int, int | None, str]) -> None:
        token, count, problem = result
        if token == self._count_token:
            self.query_counted.emit(token, count, problem)

    def crates_of_track(self, track_id: int) -> list[CrateNode]:
        """The crates a track is in (one indexed query: fine on the GUI thread)."""
        return crates.crates_of_track(self.library, track_id)

    # -- edits ----------------------------------------------------------------------------------------
    @property
    def is_busy(self) -> bool:
        return self._writer.is_busy

    def submit(self, edit: CrateEdit) -> None:
        """Apply ``edit`` on the writer thread and put it on the undo stack."""
        self.undo_stack.push(_EditCommand(self, edit))

    def create(self, parent_id: int | None, name: str, kind: str, **smart: Any) -> None:
        self.submit(CreateNode(parent_id, name, kind, **smart))

    def submit_new_crate_with(self, parent_id: int | None, name: str, track_ids: Sequence[int]) -> None:
        self.submit(NewCrateWithTracks(parent_id, name, track_ids))

    def rename(self, node: CrateNode, name: str) -> None:
        if name != node.name:
            self.submit(RenameNode(node, name))

    def move(self, node: CrateNode, new_parent_id: int | None, position: int | None) -> None:
        self.submit(MoveNode(node, new_parent_id, position))

    def delete(self, node: CrateNode) -> None:
        self.submit(DeleteNode(node))

    def duplicate(self, node: CrateNode) -> None:
        self.submit(DuplicateNode(node))

    def set_color(self, node: CrateNode, color: str | None) -> None:
        """Give a node a colour (``#rrggbb``; None: none)."""
        if (color or None) != (node.color or None):
            self.submit(SetLook(node, color or None, node.note))

    def set_note(self, node: CrateNode, note: str) -> None:
        """Give a node a note (empty: none)."""
        if note != node.note:
            self.submit(SetLook(node, node.color, note))

    def update_smart(self, node: CrateNode, rule: SmartRule) -> None:
        self.submit(UpdateSmart(node, rule))

    def add_tracks(
        self,
        crate: CrateNode,
        track_ids: Sequence[int] | IdReader,
        position: int | None = None,
        count: int | None = None,
    ) -> None:
        """Add tracks to a crate; ``track_ids`` may be a function that reads them (a big selection's
        rows, read on the writer thread), with ``count`` the number it will read, for the undo text."""
        self.submit(AddTracks(crate, track_ids, position, count))

    def remove_tracks(
        self, crate: CrateNode, track_ids: Sequence[int] | IdReader, count: int | None = None
    ) -> None:
        """Take tracks out of a crate (``track_ids`` as for ``add_tracks``)."""
        self.submit(RemoveTracks(crate, track_ids, count))

    def move_tracks(self, source: CrateNode, target: CrateNode, track_ids: Sequence[int]) -> None:
        """Move tracks from one crate to another (one undo step)."""
        text = f"Move {_tracks(len(track_ids))} to \u201c{target.name}\u201d"
        self.submit(CompoundEdit(text, [AddTracks(target, track_ids), RemoveTracks(source, track_ids)]))

    def reorder(self, crate: CrateNode, track_ids: Sequence[int], to_position: int) -> None:
        self.submit(ReorderTracks(crate, track_ids, to_position))

    def add_paths(self, crate: CrateNode, paths: Sequence[str]) -> None:
        """Scan folders or files into the library, then add their tracks to ``crate``."""
        paths = [os.path.abspath(p) for p in paths]
        self._after_scanning(paths, lambda: self.submit(AddPaths(crate, paths)))

    def crates_from_folders(self, parent_id: int | None, folder: str) -> None:
        """Scan ``folder``, then make a folder node of its name with one crate per subfolder."""
        folder = os.path.abspath(folder)
        self._after_scanning([folder], lambda: self.submit(CratesFromFolders(parent_id, folder)))

    def _after_scanning(self, paths: list[str], then: Callable[[], None]) -> None:
        if self.scan_service is None:
            then()
            return
        self._after_scan.append(then)
        self.scan_service.scan(paths)
        if not self.scan_service.is_running:  # nothing to scan (e.g. no such folder)
            self._on_scan_service_running_changed(False)

    def _on_scan_service_running_changed(self, running: bool) -> None:
        if running:
            return
        self.reload()  # the scan may have changed what smart crates match
        waiting, self._after_scan = self._after_scan, []
        for then in waiting:
            then()

    def _run(
        self, command: _EditCommand, step: Callable[[Library], EditOutcome], *, first: bool = False
    ) -> None:
        library = self.library

        def write(job: Job) -> EditOutcome:
            try:
                return step(library)
            finally:
                library.close()  # this pool thread's connection

        job = FunctionJob(write, command.text())
        if first:
            self._first_runs[job] = command
        job.signals.finished.connect(self._on_write_finished)
        job.signals.failed.connect(self._on_write_failed)
        job.signals.ended.connect(self._on_write_ended)
        self._writer.start(job)

    def _on_write_finished(self, outcome: EditOutcome) -> None:
        self.edited.emit(outcome)
        if outcome.entries_changed:
            self.entries_changed.emit(set(outcome.entries_changed))
        self.recount(outcome.entries_changed)  # a smart crate's rule changed: its count too
        self.reload(recount_smart=False)

    def _on_write_failed(self, message: str) -> None:
        self.failed.emit(message)
        self.reload(recount_smart=False)

    def _on_write_ended(self, job: Job) -> None:
        command = self._first_runs.pop(job, None)
        if command is not None and job.state is JobState.FAILED:
            command.failed = True  # nothing was changed: undoing it does nothing

    # -- lifetime -------------------------------------------------------------------------------------
    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until queued edits and reads are written (tests, shutdown)."""
        return self._writer.wait(timeout_ms) and self._reader.wait(timeout_ms)

    def set_library(self, library: Library) -> None:
        """Edit another library from now on (its undo history starts empty)."""
        self.wait()
        self.undo_stack.clear()
        self.library = library
        self._smart_counts.clear()
        self._set_nodes([])
        self.reload()

    def shutdown(self) -> None:
        self._recount_timer.stop()
        self._load_generation += 1
        self._writer.wait()
        self._reader.shutdown()
