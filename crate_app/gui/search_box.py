"""The search field: parses as you type, waits for a pause, and explains what it cannot understand."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QWidget

from crate_app.domain.search import ParsedQuery, QuerySyntaxError, parse_query

DEBOUNCE_MS = 150
PLACEHOLDER = "Search   (words, artist:daft  genre:house  bpm:120-128  key:8A  year:1999  missing:yes)"


class SearchField(QLineEdit):
    """A line edit where Esc clears the text."""

    escape_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # Qt override
        if event.key() == Qt.Key.Key_Escape:
            self.escape_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class SearchBox(QWidget):
    """The field and an inline hint.  ``query_changed(ParsedQuery | None)`` fires ~150 ms after the
    last keystroke with a query that parses (None = show everything); a query that does not parse
    shows its reason next to the field and keeps the last good one."""

    query_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.field = SearchField(self)
        self.field.setPlaceholderText(PLACEHOLDER)
        self.field.setClearButtonEnabled(True)
        self.field.setObjectName("search")
        self.field.setAcceptDrops(False)  # dropped files go to the window (added to the library), not here
        self.hint = QLabel(self)
        self.hint.setObjectName("search_hint")
        self.hint.setStyleSheet("color: #c0392b;")
        self.hint.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field, 3)
        layout.addWidget(self.hint, 2)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.field.textChanged.connect(self._on_field_text_changed)
        self.field.escape_pressed.connect(self._on_field_escape_pressed)
        self._last_query: ParsedQuery | None = None

    @property
    def text(self) -> str:
        return self.field.text()

    @property
    def error(self) -> str:
        """The inline hint shown for a query that does not parse ('' when it parses)."""
        return self.hint.text() if self.hint.isVisibleTo(self) else ""

    def set_text(self, text: str) -> None:
        self.field.setText(text)

    def focus(self) -> None:
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()

    def flush(self) -> None:
        """Apply what is typed now, without waiting for the pause."""
        self._timer.stop()
        self._on_timer_timeout()

    def _on_field_text_changed(self, _text: str) -> None:
        self._timer.start()

    def _on_field_escape_pressed(self) -> None:
        self.field.clear()
        self.flush()

    def _on_timer_timeout(self) -> None:
        text = self.field.text()
        try:
            query: ParsedQuery | None = parse_query(text)
        except QuerySyntaxError as exc:
            self.hint.setText(f"{exc} (at {exc.position + 1})")
            self.hint.show()
            self.field.setStyleSheet("QLineEdit#search { border: 1px solid #c0392b; }")
            return
        self.hint.hide()
        self.hint.clear()
        self.field.setStyleSheet("")
        if query is not None and query.is_empty:
            query = None
        if query != self._last_query:
            self._last_query = query
            self.query_changed.emit(query)
