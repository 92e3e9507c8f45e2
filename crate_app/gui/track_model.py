"""The track table's model: a window onto a library of up to millions of tracks.

``rowCount()`` is the count of the current search; ``data()`` serves rows from an LRU cache of pages.
A search or sort change never runs on the GUI thread: the count and the first page are computed on a
single worker thread (stale requests are skipped) and applied when they come back.  Unfiltered views
page by keyset seeks on the sort index (``TrackView``); a big one is then warmed on a second thread
(its sort key read every 2,000 rows, 0.1-0.2 s for 1M tracks), so that a jump anywhere skips at most
1,000 index entries.  A search materialises the matching ids in sort order once on the worker
(8 bytes a row), after which any page is one ``tracks_by_ids`` away.

``refresh()`` re-counts after tracks were added (a scan) and keeps the selection, the current row
and a pinned row (the top visible one) on the same tracks; ``refresh_tracks(ids)`` re-reads some
tracks and emits ``dataChanged`` for the rows that are loaded.
"""

from __future__ import annotations

import array
import queue
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from PySide6.QtCore import (
    QAbstractTableModel,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from crate_app.crates import entry_positions
from crate_app.domain.colors import TRACK_COLORS
from crate_app.domain.keys import KeyNotation, format_key_code
from crate_app.domain.search import And, ParsedQuery
from crate_app.domain.track import TrackRecord, TrackStatus, display_path
from crate_app.gui.track_drag import MAX_URIS, TRACKS_MIME, tracks_from_mime, tracks_mime
from crate_app.services.jobs import FunctionJob, Job, JobRunner
from crate_app.store.filters import where_clause
from crate_app.store.library import Library
from crate_app.store.schema import sort_expression
from crate_app.store.view import SortOrder, TrackView

PAGE_SIZE = 100
MAX_PAGES = 100  # 10,000 rows kept (about 13 MB of records)
MAX_FORMATTED_ROWS = 5_000  # display texts kept for the rows painted recently
# An unfiltered view of more than WARM_MIN_ROWS is warmed on a background thread: one row read every
# ANCHOR_STEP rows.  At once after a sort or search change; after a refresh (a refresh makes the anchors
# stale), once no other refresh came for WARM_AFTER_REFRESH_MS (the window refreshes a big library
# every 2 s at most while a scan runs).
WARM_MIN_ROWS = 20_000
WARM_AFTER_REFRESH_MS = 100
ANCHOR_STEP = 2_000
# A crate (or smart crate) in another order than its own, before its ids in that order are read (a
# second or so of a core for 100,000 tracks, on the warming thread): a page more than this many of its
# rows away from a known one is not read on the GUI thread (walking the library's sort index to it,
# testing each track's membership, took up to 0.7 s); its rows show empty until the ids are in.
CHEAP_SKIP = 1_000
# SQLite memory of the model's two connections (GUI thread, worker): small caches, no memory map,
# so that the window's resident memory stays low (the OS caches the file anyway).
GUI_CACHE_MB, WORKER_CACHE_MB = 16, 8

_DISPLAY = Qt.ItemDataRole.DisplayRole
_ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_OK = TrackStatus.OK.value
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_DRAG_ROW_FLAGS = _ROW_FLAGS | Qt.ItemFlag.ItemIsDragEnabled
_REORDER_ROW_FLAGS = _DRAG_ROW_FLAGS | Qt.ItemFlag.ItemIsDropEnabled
_DROP_FLAGS, _NO_FLAGS = Qt.ItemFlag.ItemIsDropEnabled, Qt.ItemFlag.NoItemFlags

_VERTICAL = QAbstractTableModel.LayoutChangeHint.VerticalSortHint
_LAYOUT_ARGS = ("QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint")  # the overload
TrackRole = Qt.ItemDataRole.UserRole + 1  # the TrackRecord of a row
TrackIdRole = Qt.ItemDataRole.UserRole + 2


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(round(seconds), 60)
    if minutes >= 60:
        return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def _date(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(timestamp)) if timestamp else ""


@dataclass(frozen=True)
class Column:
    name: str  # also the sort column of the store
    title: str
    text: Callable[[TrackRecord], str]
    width: int = 140
    numeric: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("artist", "Artist", lambda t: t.artist or "", 180),
    Column("title", "Title", lambda t: t.title or "", 240),
    Column("album", "Album", lambda t: t.album or "", 180),
    Column("genre", "Genre", lambda t: t.genre or "", 110),
    Column("bpm", "BPM", lambda t: f"{t.bpm:.1f}" if t.bpm is not None else "", 60, True),
    Column("key", "Key", lambda t: "", 50),  # formatted with the chosen notation
    Column("duration", "Time", lambda t: _duration(t.duration), 60, True),
    Column("year", "Year", lambda t: str(t.year) if t.year is not None else "", 50, True),
    Column("bitrate", "Bitrate", lambda t: str(t.bitrate) if t.bitrate is not None else "", 60, True),
    Column("format", "Format", lambda t: t.format, 60),
    Column("date_added", "Added", lambda t: _date(t.date_added), 90, True),
    Column("path", "Path", lambda t: display_path(t.path), 400),
    Column("position", "#", lambda t: "", 50, True),  # a crate's own order (shown in crate views)
    Column("waveform", "Waveform", lambda t: "", 90),  # drawn by gui.waveform_column (not sortable)
    Column("rating", "Rating", lambda t: "\u2605" * t.rating if t.rating else "", 80),  # + the colour
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
# The order a new window shows (by name): what DJs pick by (BPM, key, time) right after the names, so
# that it is in sight at 1280 px beside the sidebar and the track panel; the waveform after them.
DEFAULT_COLUMN_ORDER = (
    "artist", "title", "bpm", "key", "duration", "waveform", "rating", "album", "genre", "year",
    "bitrate", "format", "date_added", "path", "position",
)  # fmt: skip
# Orders earlier versions saved without the user choosing them (a crate view moves "#" first; it is
# ignored in the comparison): the designed order, and the same with the waveform inserted after the title.
_EARLIER_DEFAULTS = (
    tuple(n for n in COLUMN_NAMES if n not in ("position", "waveform", "rating")),
    ("artist", "title", "waveform", "album", "genre", "bpm", "key", "duration", "year", "bitrate",
     "format", "date_added", "path"),
)  # fmt: skip


def column_order_to_show(saved: tuple[str, ...]) -> tuple[str, ...]:
    """The visual order to show for a remembered one: the default for none or an earlier version's
    default; the user's own order otherwise, with columns it does not know yet added at the end."""
    known = tuple(name for name in saved if name in COLUMN_NAMES)
    if not known or tuple(n for n in known if n != "position") in _EARLIER_DEFAULTS:
        return DEFAULT_COLUMN_ORDER
    return known + tuple(name for name in DEFAULT_COLUMN_ORDER if name not in known)


_KEY_COLUMN = COLUMN_NAMES.index("key")
POSITION_COLUMN = COLUMN_NAMES.index("position")
WAVEFORM_COLUMN = COLUMN_NAMES.index("waveform")
_RATING_COLUMN = COLUMN_NAMES.index("rating")
_TRACK_COLORS = {name: QColor(value) for name, value in TRACK_COLORS.items()}  # the swatch beside the stars


class RowSource(Protocol):
    count: int

    def rows(self, offset: int, limit: int) -> list[TrackRecord]: ...

    def row_of_id(self, track_id: int) -> int | None: ...


class _KnownCountView(TrackView):
    """A TrackView whose count was computed already (on the worker, or for the previous sort)."""

    def __init__(
        self,
        library: Library,
        query: ParsedQuery | None,
        order: SortOrder,
        count: int,
        crate_id: int | None = None,
    ) -> None:
        super().__init__(library, query, order, crate_id)
        self._known_count = count

    def count(self) -> int:
        return self._known_count


class KeysetSource:
    """The whole library, or one crate or smart crate, in one sort order, paged by keyset seeks (no
    search: nothing to materialise, so that the first rows of a crate of 100,000 tracks come at once)."""

    def __init__(self, library: Library, order: SortOrder, count: int, crate_id: int | None = None) -> None:
        self.count = count
        self.order = order
        self.crate_id = crate_id
        self.is_warm = False  # knows the sort key every ANCHOR_STEP rows
        self._library = library
        self._view = _KnownCountView(library, None, order, count, crate_id)
        self._found: queue.SimpleQueue[tuple[int, tuple[object, int]]] = queue.SimpleQueue()
        self._ids: array.array | None = None  # a crate's ids in this order, once warm() read them

    def rows(self, offset: int, limit: int) -> list[TrackRecord]:
        if (ids := self._ids) is not None:
            return self._library.tracks_by_ids(ids[offset : offset + limit])
        self._take_anchors()
        return self._view.rows(offset, limit)

    def _take_anchors(self) -> None:
        while True:  # anchors found by warm() meanwhile (on its thread) are taken over here
            try:
                self._view.remember(*self._found.get_nowait())
            except queue.Empty:
                break

    def is_far(self, offset: int, limit: int) -> bool:
        """Whether ``rows(offset, limit)`` would walk far through another order's index, testing each
        track for membership: a crate (or smart crate) in another order than its own, before ``warm()``
        has read its ids in that order, asked for rows more than CHEAP_SKIP rows from a known one."""
        if self._ids is not None or self.crate_id is None or self.is_warm or self._view.in_crate_order:
            return False
        self._take_anchors()
        return self._view.rows_to_skip(offset, limit) > CHEAP_SKIP

    def row_of_id(self, track_id: int) -> int | None:
        if (ids := self._ids) is not None:
            try:
                return ids.index(track_id)
            except ValueError:
                return None
        return self._view.row_of_id(track_id)

    def ids_of_rows(self, first: int, last: int) -> list[int]:
        if (ids := self._ids) is not None:
            return ids[first : last + 1].tolist()
        return self._view.ids_of_rows(first, last)

    def warm(self, step: int, should_stop: Callable[[], bool]) -> bool:
        """Read the sort key every ``step`` rows (on a background thread), so that a jump anywhere skips
        fewer than ``step`` index entries.  Coarse to fine: the middle first, then the quarters, ... down
        to one key every 32 steps, then the rest in order; each key found is used by ``rows()`` at once,
        so that jumps made during warming already skip less.  False if ``should_stop()`` said so.
        A crate (or smart crate) in another order than its own has its ids read in that order once
        instead (a page is then one lookup by id): its rows are found by filtering a sort index, so
        every skipped row costs a membership test there."""
        view = _KnownCountView(self._library, None, self.order, self.count, self.crate_id)  # this thread's
        if self.crate_id is not None:
            if not view.in_crate_order:
                loaded = IdListSource.of_view(view, should_stop)
                if loaded is None:
                    return False
                self._ids = loaded.ids  # one assignment: rows() on the GUI thread takes it from now
            self.is_warm = True
            return True
        for row in _coarse_to_fine(step, self.count):
            if should_stop():
                return False
            view.rows(row, 1)
            key = view.anchor(row)
            if key is not None:
                self._found.put((row, key))
        self.is_warm = True
        return True


def _coarse_to_fine(step: int, count: int) -> list[int]:
    """Rows ``step``, ``2 * step``, ... below ``count``: halvings first (to every 32nd), then in order."""
    multiples = range(1, (count - 1) // step + 1)
    coarse = sorted((k for k in multiples if k % 32 == 0), key=lambda k: (-(k & -k), k))
    return [k * step for k in (*coarse, *(k for k in multiples if k % 32))]


class IdListSource:
    """The ids of a search's matches in sort order, materialised once; a page is one lookup by id."""

    def __init__(self, library: Library, ids: array.array) -> None:
        self.library = library
        self.ids = ids
        self.count = len(ids)

    @classmethod
    def load(
        cls,
        library: Library,
        query: ParsedQuery | None,
        order: SortOrder,
        should_stop: Callable[[], bool] | None = None,
    ) -> IdListSource | None:
        """The ids matching ``query`` in ``order``; None if ``should_stop()`` said so meanwhile."""
        where, params = where_clause(query, library)
        expr = sort_expression(order.column)
        direction = " DESC" if order.descending else ""
        cursor = library.execute(
            f"SELECT id FROM tracks WHERE {where} ORDER BY {expr}{direction}, id{direction}", params
        )
        ids = array.array("q")
        while chunk := cursor.fetchmany(20_000):
            if should_stop is not None and should_stop():
                cursor.close()
                return None
            ids.extend(row[0] for row in chunk)
        return cls(library, ids)

    def rows(self, offset: int, limit: int) -> list[TrackRecord]:
        return self.library.tracks_by_ids(self.ids[offset : offset + limit])

    @classmethod
    def of_view(cls, view: TrackView, should_stop: Callable[[], bool] | None = None) -> IdListSource | None:
        """The ids of a (crate's) view in its order; None if ``should_stop()`` said so meanwhile."""
        sql, params = view.ordered_ids_sql()
        cursor = view.library.execute(sql, params)
        ids = array.array("q")
        while chunk := cursor.fetchmany(20_000):
            if should_stop is not None and should_stop():
                cursor.close()
                return None
            ids.extend(row[0] for row in chunk)
        return cls(view.library, ids)

    def row_of_id(self, track_id: int) -> int | None:
        try:
            return self.ids.index(track_id)
        except ValueError:
            return None

    def ids_of_rows(self, first: int, last: int) -> list[int]:
        return self.ids[first : last + 1].tolist()


@dataclass
class _Request:
    generation: int
    query: ParsedQuery | None
    order: SortOrder
    refresh: bool  # keep rows in place (new tracks arrived) rather than start a new view
    known_count: int | None  # the whole library's count, if still valid
    ids_to_find: list[int] = field(default_factory=list)
    pages_wanted: list[int] = field(default_factory=lambda: [0])
    crate_id: int | None = None  # a crate's (or smart crate's) tracks rather than the library's
    base: ParsedQuery | None = None  # what the view is narrowed to before the search (in ``query``)
    searching: bool = False  # ``query`` holds a search


@dataclass
class _Loaded:
    request: _Request
    source: RowSource
    pages: dict[int, list[TrackRecord]]
    rows_of_ids: dict[int, int | None]
    library_count: int
    seconds: float
    scope_count: int = 0  # the crate's tracks without the search (the library's outside a crate)


class _LoadJob(Job):
    """Computes a view (count, first pages, where some tracks are now) on the model's worker."""

    def __init__(self, library: Library, request: _Request, is_current: Callable[[int], bool]) -> None:
        super().__init__("Loading tracks")
        self.library = library
        self.request = request
        self._is_current = is_current

    def work(self) -> _Loaded | None:
        request = self.request
        if not self._is_current(request.generation):
            return None  # a newer search or sort came in while this one waited
        started = time.perf_counter()
        self.library.limit_memory(WORKER_CACHE_MB, 0)
        source: RowSource
        library_count = request.known_count
        if library_count is None:
            library_count = self.library.count()
        scope_count = library_count
        if request.crate_id is not None and request.query is None:
            # A crate or smart crate without a search: counted, then paged by seeks (never all its ids
            # read before the first rows show: seconds for 100,000 tracks).
            scope_count = TrackView(self.library, None, request.order, request.crate_id).count()
            source = KeysetSource(self.library, request.order, scope_count, request.crate_id)
        elif request.crate_id is not None:
            view = TrackView(self.library, request.query, request.order, request.crate_id)
            loaded = IdListSource.of_view(view, lambda: not self._is_current(request.generation))
            if loaded is None:
                return None
            source = loaded
            scope_count = source.count
            if request.searching:
                scope_count = TrackView(self.library, None, request.order, request.crate_id).count()
        elif request.query is None:
            source = KeysetSource(self.library, request.order, library_count)
        else:
            loaded = IdListSource.load(
                self.library, request.query, request.order, lambda: not self._is_current(request.generation)
            )
            if loaded is None:
                return None
            source = loaded
            if request.base is not None:
                scope_count = source.count
                if request.searching:
                    scope_count = TrackView(self.library, request.base).count()
        rows_of_ids = {track_id: source.row_of_id(track_id) for track_id in request.ids_to_find}
        pages_wanted = set(request.pages_wanted)
        pages_wanted.update(row // PAGE_SIZE for row in rows_of_ids.values() if row is not None)
        pages = {}
        for page in sorted(pages_wanted):
            if page * PAGE_SIZE < source.count:
                pages[page] = source.rows(page * PAGE_SIZE, PAGE_SIZE)
        seconds = time.perf_counter() - started
        return _Loaded(request, source, pages, rows_of_ids, library_count, seconds, scope_count)


class TrackTableModel(QAbstractTableModel):
    """The library's tracks for a QTableView; see the module docstring.

    Signals: ``loading_changed(bool)`` while a search, sort or refresh is being computed;
    ``view_applied()`` when its result is in the model (rows shown); ``pinned_row_moved(row)`` after
    a refresh, with the new row of the track that ``refresh(pin_row=...)`` was asked to keep;
    ``failed(str)`` when a query failed; ``reorder_requested(track_ids, position)`` when rows of a
    crate shown in its own order were dragged to another place (the crate service moves them).

    ``set_scope(id, kind)`` shows a crate's (or smart crate's) tracks instead of the library's: the same
    paging, search and sorting, plus the ``#`` column (the crate's own order, sort order "position").
    """

    loading_changed = Signal(bool)
    view_applied = Signal()
    pinned_row_moved = Signal(int)
    failed = Signal(str)
    reorder_requested = Signal(object, int)

    def __init__(
        self, library: Library, order: SortOrder | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.library = library
        self._runner = JobRunner(max_threads=1, parent=self)
        self._runner.pool.setExpiryTimeout(-1)  # keep the worker (and its warm SQLite connection)
        self._background = JobRunner(max_threads=1, parent=self)
        self._query: ParsedQuery | None = None
        self._order = order if order is not None and order.column != "position" else SortOrder("artist")
        self._source: RowSource | None = None
        self._count = 0
        self._library_count: int | None = None  # COUNT(*) of the whole library, while valid
        self._pages: OrderedDict[int, list[TrackRecord]] = OrderedDict()
        self._row_of_loaded_id: dict[int, int] = {}
        self._generation = 0
        self._applied_generation = 0
        self._key_notation = KeyNotation.CAMELOT
        self._pin_id: int | None = None
        library.limit_memory(GUI_CACHE_MB, 0)
        self._warm_timer = QTimer(self)  # warms the view once the refreshes of a scan pause
        self._warm_timer.setSingleShot(True)
        self._warm_timer.setInterval(WARM_AFTER_REFRESH_MS)
        self._warm_timer.timeout.connect(self._start_warming)
        self._recount_pending = False  # tracks were added: the next load must count again
        self._missing_brush = QBrush(QColor(150, 150, 150))
        self._error_brush = QBrush(QColor(200, 60, 60))
        self._right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._left = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self._alignments = [self._right if column.numeric else self._left for column in COLUMNS]
        self._texts: dict[int, tuple[str, ...]] = {}
        self._crate_id: int | None = None
        self._crate_kind: str | None = None
        self._base_query: ParsedQuery | None = None
        self._scope_count: int | None = None
        self._positions: dict[int, int] = {}  # track id -> position in the crate, for loaded rows
        self._tracked: list[tuple[int, int, int]] = []
        self._reorderable = False  # in_crate_order, kept for flags()
        # Pages asked for while their rows were far to read (KeysetSource.is_far): read once warm.
        self._deferred_pages: OrderedDict[int, None] = OrderedDict()
        self.load()

    # -- what is shown --------------------------------------------------------------------------------
    @property
    def query(self) -> ParsedQuery | None:
        return self._query

    @property
    def order(self) -> SortOrder:
        return self._order

    @property
    def library_count(self) -> int | None:
        """Tracks in the whole library, as of the last load (None before the first)."""
        return self._library_count

    @property
    def is_warm(self) -> bool:
        """Whether a jump anywhere is one short seek: the ids of a search, or a warmed keyset view."""
        source = self._source
        return not isinstance(source, KeysetSource) or source.is_warm or source.count <= WARM_MIN_ROWS

    @property
    def crate_id(self) -> int | None:
        """The crate shown (None: the library)."""
        return self._crate_id

    @property
    def crate_kind(self) -> str | None:
        return self._crate_kind

    @property
    def base_query(self) -> ParsedQuery | None:
        return self._base_query

    @property
    def scope_count(self) -> int | None:
        """Tracks in the crate shown (without the search), or in the library outside a crate."""
        if self._crate_id is None and self._base_query is None:
            return self._library_count
        return self._scope_count

    @property
    def in_crate_order(self) -> bool:
        """Rows are a static crate's tracks in its own order, unfiltered: dragging them reorders it."""
        return self._crate_kind == "crate" and self._order == SortOrder("position") and self._query is None

    @property
    def is_loading(self) -> bool:
        return self._applied_generation != self._generation

    @property
    def key_notation(self) -> KeyNotation:
        return self._key_notation

    def set_query(self, query: ParsedQuery | None) -> None:
        """Show the tracks matching ``query`` (None or empty: all); applied when the worker is done."""
        if query is not None and query.is_empty:
            query = None
        if query == self._query:
            return
        self._query = query
        self.load()

    def set_order(self, order: SortOrder) -> None:
        if order == self._order:
            return
        self._order = order
        self.load()

    def set_scope(
        self,
        crate_id: int | None,
        kind: str | None = None,
        order: SortOrder | None = None,
        base_query: ParsedQuery | None = None,
    ) -> None:
        """Show a crate's tracks (``kind`` "crate" or "smart"), or the library's (None), in ``order``
        (kept as it is if None); ``base_query`` narrows what is shown before the search does (a
        folder's crates, the problem tracks)."""
        self._base_query = base_query
        self._crate_id = crate_id
        self._crate_kind = kind if crate_id is not None else None
        if order is not None:
            self._order = order
        if self._order.column == "position" and self._crate_kind != "crate":
            self._order = SortOrder("artist")
        self._scope_count = None
        self.load()

    def set_key_notation(self, notation: KeyNotation) -> None:
        if notation is self._key_notation:
            return
        self._key_notation = notation
        self._texts.clear()
        if self._count:
            self.dataChanged.emit(self.index(0, _KEY_COLUMN), self.index(self._count - 1, _KEY_COLUMN))
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, _KEY_COLUMN, _KEY_COLUMN)

    def set_library(self, library: Library) -> None:
        """Show another library (wait for pending queries of the old one first)."""
        self._generation += 1
        self.wait()
        self.beginResetModel()
        self.library = library
        library.limit_memory(GUI_CACHE_MB, 0)
        self._source, self._count, self._library_count = None, 0, None
        self._clear_cache()
        self.endResetModel()
        self.load()

    def load(self) -> None:
        """Recompute the view for the current query and order (results arrive asynchronously)."""
        self._start(refresh=False)

    def refresh(self, pin_row: int | None = None) -> None:
        """Tracks were added or changed: re-count and re-read, keeping rows on the same tracks.

        ``pin_row``: a row (e.g. the top visible one) whose track should be found again; its new row
        comes back through ``pinned_row_moved``.
        """
        if self._source is None:
            self._start(refresh=False, recount=True)
            return
        wanted: list[int] = []
        self._pin_id = None
        if pin_row is not None and pin_row > 0 and (pinned := self.track_at(pin_row, load=False)):
            self._pin_id = pinned.id
            wanted.append(pinned.id)
        self._tracked = []  # (row, column, track id) of the persistent indexes that follow their track
        for persistent in self.persistentIndexList()[:50]:
            record = self.track_at(persistent.row(), load=False)
            if record is not None:
                self._tracked.append((persistent.row(), persistent.column(), record.id))
                if record.id not in wanted:
                    wanted.append(record.id)
        self._start(refresh=True, ids_to_find=wanted, recount=True)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until pending queries are done (tests, shutdown); results still arrive as events."""
        return self._runner.wait(timeout_ms) and self._background.wait(timeout_ms)

    def shutdown(self) -> None:
        self._generation += 1
        self._warm_timer.stop()
        self._runner.shutdown()
        self._background.shutdown()

    # -- tracks ---------------------------------------------------------------------------------------
    def track_at(self, row: int, *, load: bool = True) -> TrackRecord | None:
        """The track on ``row`` (loading its page unless ``load`` is False)."""
        if not 0 <= row < self._count:
            return None
        page_no, within = divmod(row, PAGE_SIZE)
        page = self._pages.get(page_no)
        if page is None:
            if not load or self._defer_page(page_no):
                return None
            page = self._load_page(page_no)
        else:
            self._pages.move_to_end(page_no)
        return page[within] if within < len(page) else None

    def refresh_tracks(self, ids: Iterable[int]) -> int:
        """Re-read these tracks (e.g. after analysis) and update their rows in place.

        Only rows that are loaded are touched (others are read when they are scrolled to); each
        changed row emits ``dataChanged``, never a reset.  Rows stay where they are even if the sort
        column changed (``refresh()`` re-sorts).  Returns the number of rows updated.
        """
        loaded = [track_id for track_id in ids if track_id in self._row_of_loaded_id]
        if not loaded:
            return 0
        changed_rows: list[int] = []
        for record in self.library.tracks_by_ids(loaded):
            row = self._row_of_loaded_id.get(record.id)
            if row is None:
                continue
            page = self._pages.get(row // PAGE_SIZE)
            if page is not None:
                page[row % PAGE_SIZE] = record
                self._texts.pop(row, None)
                changed_rows.append(row)
        last_column = len(COLUMNS) - 1
        for first, last in _runs(sorted(changed_rows)):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))
        return len(changed_rows)

    # -- Qt model API ---------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        # Called a few thousand times per repaint: the display texts of a row are formatted once.
        if role == _DISPLAY:
            row = index.row()
            texts = self._texts.get(row)
            if texts is None:
                texts = self._format_row(row)
                if texts is None:
                    return None
            return texts[index.column()]
        if role == _ALIGNMENT:
            return self._alignments[index.column()]
        if role == _DECORATION:
            if index.column() != _RATING_COLUMN:
                return None
            record = self.track_at(index.row(), load=False)  # the row's texts loaded it
            return _TRACK_COLORS.get(record.color) if record is not None and record.color else None
        if role == _FOREGROUND:
            texts = self._texts.get(index.row())
            if texts is not None and texts[-1] == _OK:  # the status is kept after the texts
                return None
            record = self.track_at(index.row())
            if record is None or record.status == _OK:
                return None
            return self._missing_brush if record.status == TrackStatus.MISSING else self._error_brush
        if role == _TOOLTIP:
            record = self.track_at(index.row())
            if record is None:
                return None
            if record.status != _OK:
                return f"{display_path(record.path)}\n{record.status}: {record.error or 'file not found'}"
            return display_path(record.path) if COLUMNS[index.column()].name == "path" else None
        if role == TrackRole:
            return self.track_at(index.row())
        if role == TrackIdRole:
            record = self.track_at(index.row())
            return record.id if record is not None else None
        return None

    def _format_row(self, row: int) -> tuple[str, ...] | None:
        record = self.track_at(row)
        if record is None:
            return None
        texts = (
            *(
                format_key_code(record.key, self._key_notation)
                if number == _KEY_COLUMN
                else self._position_text(row, record.id)
                if number == POSITION_COLUMN
                else column.text(record)
                for number, column in enumerate(COLUMNS)
            ),
            record.status,
        )
        if len(self._texts) >= MAX_FORMATTED_ROWS:
            self._texts.clear()
        self._texts[row] = texts
        return texts

    def _position_text(self, row: int, track_id: int) -> str:
        if self._crate_kind != "crate":
            return ""
        if self.in_crate_order:
            return str(row + 1)
        position = self._positions.get(track_id)
        return str(position + 1) if position is not None else ""

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return self._right if COLUMNS[section].numeric else self._left
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        # Qt asks for every cell of a selection (1.3M calls for 100,000 rows): constants only here.
        if not index.isValid():
            return _DROP_FLAGS if self._reorderable else _NO_FLAGS
        return _REORDER_ROW_FLAGS if self._reorderable else _DRAG_ROW_FLAGS

    # -- drag and drop --------------------------------------------------------------------------------
    def ids_of_rows(self, rows: Iterable[int]) -> list[int]:
        """The track ids on these rows, in row order (runs of rows are read at once, not row by row)."""
        if self._source is None:
            return []
        wanted = sorted({row for row in rows if 0 <= row < self._count})
        ids: list[int] = []
        for first, last in _runs(wanted):
            ids.extend(self._source.ids_of_rows(first, last))  # type: ignore[attr-defined]
        return ids

    def ids_reader(self, runs: Iterable[tuple[int, int]]) -> Callable[[], list[int]]:
        """A function that reads the track ids on these runs of rows ((first, last), in any order) as
        the table shows them now, in row order; safe to call on any thread, so that the ids of a
        selection of 100,000 rows are read off the GUI thread."""
        source = self._source
        if source is None:
            return list
        merged = merge_runs([(max(0, first), min(last, self._count - 1)) for first, last in runs])

        def read() -> list[int]:
            ids: list[int] = []
            for first, last in merged:
                ids.extend(source.ids_of_rows(first, last))  # type: ignore[attr-defined]
            return ids

        return read

    def mimeTypes(self) -> list[str]:
        return [TRACKS_MIME]

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction  # never Move: a file manager would move the files

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction | Qt.DropAction.MoveAction

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        return self.mime_for_rows({index.row() for index in indexes})

    def mime_for_rows(self, rows: Iterable[int]) -> QMimeData:
        """What a drag of these rows carries: their ids (and crate), and their files (up to MAX_URIS)."""
        ids = self.ids_of_rows(rows)
        paths = [t.path for t in self.library.tracks_by_ids(ids)] if len(ids) <= MAX_URIS else []
        return tracks_mime(ids, self._crate_id if self._crate_kind == "crate" else None, paths)

    def canDropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Any
    ) -> bool:
        dragged = tracks_from_mime(data)
        return self.in_crate_order and dragged is not None and dragged[1] == self._crate_id

    def dropMimeData(
        self, data: QMimeData, action: Qt.DropAction, row: int, column: int, parent: Any
    ) -> bool:
        """Rows of this crate dropped at ``row`` (or on ``parent``'s row): ask for them to move there."""
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        dragged = tracks_from_mime(data)
        assert dragged is not None
        if row < 0:
            row = parent.row() if parent is not None and parent.isValid() else self._count
        moved_above = sum(1 for r in self._rows_of_loaded(dragged[0]) if r < row)
        self.reorder_requested.emit(dragged[0], max(0, row - moved_above))
        return True

    def _rows_of_loaded(self, track_ids: Iterable[int]) -> list[int]:
        if isinstance(self._source, IdListSource):
            wanted = set(track_ids)
            return [row for row, track_id in enumerate(self._source.ids) if track_id in wanted]
        if self.in_crate_order and self._crate_id is not None:  # row r = position r
            return list(entry_positions(self.library, self._crate_id, track_ids).values())
        return [row for t in track_ids if (row := self._row_of_loaded_id.get(t)) is not None]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        if column == POSITION_COLUMN and self._crate_kind != "crate":
            return  # only a crate has an order of its own
        if column == WAVEFORM_COLUMN:
            return  # a picture: nothing to sort by
        self.set_order(SortOrder(COLUMNS[column].name, order == Qt.SortOrder.DescendingOrder))

    # -- loading --------------------------------------------------------------------------------------
    def _start(self, *, refresh: bool, ids_to_find: Sequence[int] = (), recount: bool = False) -> None:
        self._reorderable = self.in_crate_order
        was_loading = self.is_loading
        self._warm_timer.stop()
        self._generation += 1
        if not refresh:
            self._pin_id = None
        self._recount_pending = self._recount_pending or recount
        known = None if self._recount_pending else self._library_count
        query = both_queries(self._base_query, self._query)
        request = _Request(self._generation, query, self._order, refresh, known, list(ids_to_find))
        request.crate_id = self._crate_id
        request.base = self._base_query
        request.searching = self._query is not None
        job = _LoadJob(self.library, request, self._is_current)
        job.signals.finished.connect(self._on_load_finished)
        job.signals.failed.connect(self._on_load_failed)
        self._runner.start(job)
        if not was_loading:
            self.loading_changed.emit(True)

    def _is_current(self, generation: int) -> bool:
        return generation == self._generation  # read from the worker: an int compare is atomic

    def _on_load_failed(self, message: str) -> None:
        self.failed.emit(message)
        self._applied_generation = self._generation
        self.loading_changed.emit(False)

    def _on_load_finished(self, loaded: _Loaded | None) -> None:
        if loaded is None or loaded.request.generation != self._generation:
            return  # stale: a newer request is on its way
        request = loaded.request
        self._library_count = loaded.library_count
        self._scope_count = loaded.scope_count
        if request.known_count is None:
            self._recount_pending = False
        if request.refresh and self._source is not None:
            self._apply_refresh(loaded)
        else:
            self.beginResetModel()
            self._install(loaded)
            self.endResetModel()
        self._applied_generation = request.generation
        self.loading_changed.emit(False)
        self.view_applied.emit()
        if not self.is_warm:
            if request.refresh:  # refreshes come every second or so while a scan runs: wait for a pause
                self._warm_timer.start()
            else:
                self._start_warming()

    def _start_warming(self) -> None:
        source = self._source
        if not isinstance(source, KeysetSource) or self.is_loading:
            return
        generation = self._generation

        def warm(job: Job) -> tuple[int, bool]:
            self.library.limit_memory(WORKER_CACHE_MB, 0)
            return generation, source.warm(ANCHOR_STEP, lambda: not self._is_current(generation))

        # On a thread of its own: a sort or search clicked meanwhile never waits behind it (and stops it).
        job = FunctionJob(warm, "Indexing the table")
        job.signals.finished.connect(self._on_warm_finished)
        job.signals.failed.connect(self._on_warm_failed)
        self._background.start(job)

    def _defer_page(self, page_no: int) -> bool:
        """Leave a page to be read once the view is warm, if reading it now would be slow (see
        CHEAP_SKIP); its rows show empty meanwhile."""
        source = self._source
        if self.is_warm or not isinstance(source, KeysetSource) or self.is_loading:
            return False  # (a small view is never warmed: it is read as asked)
        if not source.is_far(page_no * PAGE_SIZE, PAGE_SIZE):
            return False
        self._deferred_pages[page_no] = None
        self._deferred_pages.move_to_end(page_no)
        while len(self._deferred_pages) > MAX_PAGES // 4:  # only the pages painted last matter
            self._deferred_pages.popitem(last=False)
        return True

    def _on_warm_finished(self, result: tuple[int, bool]) -> None:
        generation, warmed = result
        if generation == self._generation and warmed:
            self._load_deferred_pages()

    def _on_warm_failed(self, _message: str) -> None:
        self._load_deferred_pages(at_any_cost=True)  # slow, but the rows must show

    def _load_deferred_pages(self, *, at_any_cost: bool = False) -> None:
        """Read the pages left for later and tell the view their rows changed."""
        pending, self._deferred_pages = list(self._deferred_pages), OrderedDict()
        source = self._source
        if source is None or self.is_loading:
            return  # a new view is on its way: it reads its own pages
        loaded = []
        for page_no in pending:
            if page_no in self._pages or page_no * PAGE_SIZE >= self._count:
                continue
            if not at_any_cost and isinstance(source, KeysetSource) and source.is_far(page_no * PAGE_SIZE, 1):
                continue
            self._load_page(page_no)
            loaded.append(page_no)
        last_column = len(COLUMNS) - 1
        for page_no in loaded:
            first = page_no * PAGE_SIZE
            last = min(first + PAGE_SIZE, self._count) - 1
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))

    def _install(self, loaded: _Loaded) -> None:
        self._source = loaded.source
        self._count = loaded.source.count
        self._clear_cache()
        for page_no, rows in loaded.pages.items():
            self._store_page(page_no, rows)

    def _apply_refresh(self, loaded: _Loaded) -> None:
        new_count = loaded.source.count
        if new_count > self._count:
            self.beginInsertRows(QModelIndex(), self._count, new_count - 1)
            self._count = new_count
            self.endInsertRows()
        elif new_count < self._count:
            self.beginRemoveRows(QModelIndex(), new_count, self._count - 1)
            self._count = new_count
            self.endRemoveRows()
        # Only the indexes tracked when the refresh was asked for move (others, e.g. the rest of a
        # selection of 100,000 rows, keep their rows): walking every persistent index costs ~1 s there.
        still = [
            (row, column, track_id)
            for row, column, track_id in self._tracked
            if (record := self.track_at(row, load=False)) is not None and record.id == track_id
        ]
        moves = [
            (old_row, column, new_row)
            for old_row, column, track_id in still
            if track_id in loaded.rows_of_ids and (new_row := loaded.rows_of_ids[track_id]) != old_row
        ]
        if not moves:
            # Nothing tracked moved (a crate edit, a tag changed elsewhere): new contents, same layout.
            # No layout change, which would make Qt's selection model save and restore each selected
            # row through Python calls (seconds with 100,000 rows selected).
            self._install(loaded)
            if self._count:
                self.dataChanged.emit(self.index(0, 0), self.index(self._count - 1, len(COLUMNS) - 1))
            self._after_refresh(loaded)
            return
        # Rows moved (tracks were inserted in sort order): a layout change that maps the tracked
        # persistent indexes (current row, ...) to the rows their tracks are on now.  Vertical: the
        # columns stay, so a selection of 100,000 rows is kept as 100,000 rows, not 1.3M cells.
        self.layoutAboutToBeChanged[_LAYOUT_ARGS].emit([], _VERTICAL)
        self._install(loaded)
        old_list = [self.createIndex(old_row, column) for old_row, column, _ in moves]
        new_list = [self.index(new_row, column) if new_row is not None else QModelIndex()
                    for _, column, new_row in moves]  # fmt: skip
        self.changePersistentIndexList(old_list, new_list)
        self.layoutChanged[_LAYOUT_ARGS].emit([], _VERTICAL)
        self._after_refresh(loaded)

    def _after_refresh(self, loaded: _Loaded) -> None:
        if self._pin_id is not None and (row := loaded.rows_of_ids.get(self._pin_id)) is not None:
            self.pinned_row_moved.emit(row)

    # -- page cache -----------------------------------------------------------------------------------
    def _load_page(self, page_no: int) -> list[TrackRecord]:
        assert self._source is not None
        rows = self._source.rows(page_no * PAGE_SIZE, PAGE_SIZE)
        self._store_page(page_no, rows)
        return rows

    def _store_page(self, page_no: int, rows: list[TrackRecord]) -> None:
        if self._crate_kind == "crate" and not self.in_crate_order and rows:
            self._positions.update(entry_positions(self.library, self._crate_id, [r.id for r in rows]))
        self._pages[page_no] = rows
        self._pages.move_to_end(page_no)
        first = page_no * PAGE_SIZE
        for offset, record in enumerate(rows):
            self._row_of_loaded_id[record.id] = first + offset
        while len(self._pages) > MAX_PAGES:
            evicted_no, evicted = self._pages.popitem(last=False)
            for offset, record in enumerate(evicted):
                self._row_of_loaded_id.pop(record.id, None)
                self._texts.pop(evicted_no * PAGE_SIZE + offset, None)

    def _clear_cache(self) -> None:
        self._deferred_pages.clear()
        self._positions.clear()
        self._pages.clear()
        self._texts.clear()
        self._row_of_loaded_id.clear()


def both_queries(first: ParsedQuery | None, second: ParsedQuery | None) -> ParsedQuery | None:
    """A query matching what both match (None: everything)."""
    if first is None or first.is_empty:
        return second
    if second is None or second.is_empty:
        return first
    return ParsedQuery(And((first.root, second.root)))


def merge_runs(runs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Runs of rows (first, last) sorted, overlapping and touching ones merged, empty ones left out."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(run for run in runs if run[0] <= run[1]):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _runs(rows: Sequence[int]) -> Iterable[tuple[int, int]]:
    """Consecutive runs in sorted row numbers: [1, 2, 3, 7] -> (1, 3), (7, 7)."""
    start = previous = None
    for row in rows:
        if start is None:
            start = previous = row
        elif row == previous + 1:
            previous = row
        else:
            yield start, previous
            start = previous = row
    if start is not None:
        yield start, previous
