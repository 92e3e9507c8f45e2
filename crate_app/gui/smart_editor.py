"""The smart crate editor: rules as rows of field / operator / value in ALL / ANY groups, the same rule
as text in the search language, a sort and a limit, and a live count of the tracks that match.

The two modes are two views of one rule: switching from rows to text writes the rows as a query
(``to_query``), switching back parses the text into rows (``from_query``); text that cannot be shown
as rows keeps the editor in text mode and says why.  The count runs on the crate service's reader
thread ~300 ms after the last change, so typing never waits for a count over a million tracks.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from crate_app.domain.crates import CrateNode
from crate_app.domain.search import QuerySyntaxError
from crate_app.domain.smart_rules import (
    FIELD_OPERATORS,
    FIELDS,
    Rule,
    RuleGroup,
    RulesError,
    from_query,
    to_query,
)
from crate_app.gui.track_model import COLUMNS
from crate_app.services.crate_service import CrateService, SmartRule

COUNT_DEBOUNCE_MS = 300
_MATCH_LABELS = (("all", "all of these"), ("any", "any of these"))
SORT_CHOICES = tuple((c.name, c.title) for c in COLUMNS if c.name not in ("position", "key"))
_FIELD_LABELS = {"text": "Any text", "albumartist": "Album artist", "bpm": "BPM", "added": "Date added"}


def field_label(field: str) -> str:
    return _FIELD_LABELS.get(field, field.capitalize())


def default_rule() -> Rule:
    return Rule("text", "contains", "")


def parse_rules(text: str) -> RuleGroup:
    """The rows of a query; RulesError (in words, with the position) when rows cannot show it."""
    try:
        return from_query(text)
    except QuerySyntaxError as exc:
        raise RulesError(f"{exc} (at character {exc.position + 1})") from exc


class RuleRow(QWidget):
    """One rule: field, operator, value, and a button that removes it."""

    def __init__(self, rule: Rule, on_change, on_remove, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = QComboBox(self)
        for name in FIELDS:
            self.field.addItem(field_label(name), name)
        self.operator = QComboBox(self)
        self.value = QLineEdit(self)
        self.value.setPlaceholderText("value")
        remove = QPushButton("\u2212", self)
        remove.setToolTip("Remove this rule")
        remove.setFixedWidth(28)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.field, 2)
        layout.addWidget(self.operator, 2)
        layout.addWidget(self.value, 3)
        layout.addWidget(remove)
        self.set_rule(rule)
        self.field.currentIndexChanged.connect(self._on_field_current_index_changed)
        self.field.currentIndexChanged.connect(on_change)
        self.operator.currentIndexChanged.connect(on_change)
        self.value.textChanged.connect(on_change)
        remove.clicked.connect(lambda: on_remove(self))

    def set_rule(self, rule: Rule) -> None:
        self.field.setCurrentIndex(max(0, self.field.findData(rule.field)))
        self._fill_operators(rule.field)
        self.operator.setCurrentIndex(max(0, self.operator.findData(rule.operator)))
        self.value.setText(rule.value)

    def rule(self) -> Rule:
        return Rule(self.field.currentData(), self.operator.currentData(), self.value.text().strip())

    def _fill_operators(self, field: str) -> None:
        blocker = self.operator.blockSignals(True)
        self.operator.clear()
        for operator in FIELD_OPERATORS.get(field, ()):
            self.operator.addItem(operator, operator)
        self.operator.blockSignals(blocker)

    def _on_field_current_index_changed(self, _index: int) -> None:
        self._fill_operators(self.field.currentData())


class GroupBox(QFrame):
    """A group of rules and groups, matched with ALL or ANY; nested groups get a frame."""

    def __init__(self, group: RuleGroup, on_change, on_remove=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._on_change = on_change
        if on_remove is not None:
            self.setFrameShape(QFrame.Shape.StyledPanel)
        self.match = QComboBox(self)
        for value, label in _MATCH_LABELS:
            self.match.addItem(label, value)
        head = QHBoxLayout()
        head.addWidget(QLabel("Tracks matching", self))
        head.addWidget(self.match)
        head.addStretch(1)
        if on_remove is not None:
            remove = QPushButton("Remove group", self)
            remove.clicked.connect(lambda: on_remove(self))
            head.addWidget(remove)
        self.items = QVBoxLayout()
        self.items.setContentsMargins(12 if on_remove is not None else 0, 0, 0, 0)
        add_rule = QPushButton("+ Rule", self)
        add_group = QPushButton("+ Group", self)
        foot = QHBoxLayout()
        foot.addWidget(add_rule)
        foot.addWidget(add_group)
        foot.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(self.items)
        layout.addLayout(foot)
        self.set_group(group)
        self.match.currentIndexChanged.connect(on_change)
        add_rule.clicked.connect(self.add_rule)
        add_group.clicked.connect(self.add_group)

    def children_widgets(self) -> list[QWidget]:
        return [self.items.itemAt(i).widget() for i in range(self.items.count())]

    def set_group(self, group: RuleGroup) -> None:
        for widget in self.children_widgets():
            self.items.removeWidget(widget)
            widget.deleteLater()
        blocker = self.match.blockSignals(True)
        self.match.setCurrentIndex(max(0, self.match.findData(group.match)))
        self.match.blockSignals(blocker)
        for child in group.rules:
            self._add(child)

    def group(self) -> RuleGroup:
        rules = []
        for widget in self.children_widgets():
            if isinstance(widget, RuleRow):
                rules.append(widget.rule())
            elif isinstance(widget, GroupBox):
                rules.append(widget.group())
        return RuleGroup(self.match.currentData(), tuple(rules))

    def _add(self, child: Rule | RuleGroup) -> QWidget:
        widget: QWidget
        if isinstance(child, RuleGroup):
            widget = GroupBox(child, self._on_change, self._remove, self)
        else:
            widget = RuleRow(child, self._on_change, self._remove, self)
        self.items.addWidget(widget)
        return widget

    def add_rule(self) -> RuleRow:
        row = self._add(default_rule())
        self._on_change()
        assert isinstance(row, RuleRow)
        return row

    def add_group(self) -> GroupBox:
        box = self._add(RuleGroup("any", (default_rule(),)))
        self._on_change()
        assert isinstance(box, GroupBox)
        return box

    def _remove(self, widget: QWidget) -> None:
        self.items.removeWidget(widget)
        widget.deleteLater()
        self._on_change()


class SmartCrateEditor(QDialog):
    """Make or change a smart crate (``node`` None: a new one in ``parent_id``)."""

    RULES, TEXT = 0, 1

    def __init__(
        self,
        service: CrateService,
        node: CrateNode | None,
        parent_id: int | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.node = node
        self.parent_id = parent_id
        self.setWindowTitle("Smart Crate" if node is None else f"Smart Crate \u201c{node.name}\u201d")
        self.resize(720, 460)
        self.name = QLineEdit(node.name if node is not None else "New smart crate", self)
        self.tabs = QTabWidget(self)
        self.group_box = GroupBox(RuleGroup(), self._on_rule_changed)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.group_box)
        self.text = QLineEdit(self)
        self.text.setPlaceholderText('e.g.  genre:house bpm:120-128 (added:<30d OR crate:"Sets/Berlin")')
        text_page = QWidget(self)
        text_layout = QVBoxLayout(text_page)
        text_layout.addWidget(QLabel("The rule in the search language (the same as in the search box):"))
        text_layout.addWidget(self.text)
        text_layout.addStretch(1)
        self.tabs.addTab(scroll, "Rules")
        self.tabs.addTab(text_page, "Text")
        self.sort = QComboBox(self)
        for value, label in SORT_CHOICES:
            self.sort.addItem(label, value)
        self.descending = QCheckBox("descending", self)
        self.limited = QCheckBox("only the first", self)
        self.limit = QSpinBox(self)
        self.limit.setRange(1, 10_000_000)
        self.limit.setValue(100)
        sort_row = QHBoxLayout()
        sort_row.addWidget(self.sort)
        sort_row.addWidget(self.descending)
        sort_row.addSpacing(20)
        sort_row.addWidget(self.limited)
        sort_row.addWidget(self.limit)
        sort_row.addStretch(1)
        self.problem = QLabel(self)
        self.problem.setStyleSheet("color: #c0392b;")
        self.problem.setWordWrap(True)
        self.count_label = QLabel(self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Sort by", sort_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.problem)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label, 1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)

        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DEBOUNCE_MS)
        self._count_timer.timeout.connect(self._on_count_timer_timeout)
        self._count_token = 0
        self._load(node)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        self.text.textChanged.connect(self._on_rule_changed)
        self.sort.currentIndexChanged.connect(self._on_rule_changed)
        self.descending.toggled.connect(self._on_rule_changed)
        self.limited.toggled.connect(self._on_rule_changed)
        self.limit.valueChanged.connect(self._on_rule_changed)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        service.query_counted.connect(self._on_service_query_counted)
        self._on_rule_changed()

    def _load(self, node: CrateNode | None) -> None:
        query = node.query if node is not None and node.query else ""
        self.text.setText(query)
        if node is not None:
            self.sort.setCurrentIndex(max(0, self.sort.findData(node.sort or "artist")))
            self.descending.setChecked(node.descending)
            if node.limit:
                self.limited.setChecked(True)
                self.limit.setValue(node.limit)
        try:
            self.group_box.set_group(parse_rules(query))
        except RulesError as exc:
            self.tabs.setCurrentIndex(self.TEXT)  # a rule rows cannot show (or one that broke)
            self.problem.setText(str(exc))
        if node is not None and node.error:
            self.tabs.setCurrentIndex(self.TEXT)
            self.problem.setText(f"This rule does not work any more: {node.error}")

    # -- the rule -----------------------------------------------------------------------------------
    def query_text(self) -> str:
        """The rule as it stands, in the search language (from whichever mode is shown)."""
        if self.tabs.currentIndex() == self.RULES:
            return to_query(self.group_box.group())  # RulesError: a row without a value
        return self.text.text().strip()

    def smart_rule(self) -> SmartRule:
        return SmartRule(
            self.query_text(),
            self.sort.currentData(),
            self.descending.isChecked(),
            self.limit.value() if self.limited.isChecked() else None,
        )

    def _on_tabs_current_changed(self, index: int) -> None:
        if index == self.TEXT:
            blocker = self.text.blockSignals(True)
            try:
                self.text.setText(to_query(self.group_box.group()))
            except RulesError as exc:
                self.problem.setText(str(exc))
                self.text.blockSignals(blocker)
                return
            self.text.blockSignals(blocker)
            self.problem.clear()
            return
        try:
            group = parse_rules(self.text.text())
        except RulesError as exc:
            blocker = self.tabs.blockSignals(True)
            self.tabs.setCurrentIndex(self.TEXT)
            self.tabs.blockSignals(blocker)
            self.problem.setText(f"{exc}: the rule stays in text mode.")
            return
        self.group_box.set_group(group)
        self.problem.clear()

    def _on_rule_changed(self, *_args: object) -> None:
        self._count_timer.start()

    def _on_count_timer_timeout(self) -> None:
        try:
            rule = self.smart_rule()
        except RulesError as exc:
            self._count_token = -1
            self._show_problem(str(exc))
            return
        self._count_token = self.service.count_query(rule)
        self.count_label.setText("Counting\u2026")

    def _show_problem(self, problem: str) -> None:
        self.count_label.setText("")
        self.problem.setText(problem)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)

    def _on_service_query_counted(self, token: int, count: object, problem: str) -> None:
        if token != self._count_token:
            return  # an older rule's count
        if problem:
            self._show_problem(problem)
            return
        self.problem.clear()
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)
        self.count_label.setText(f"{count:,} track" + ("" if count == 1 else "s") + " match")

    def save(self) -> None:
        name = self.name.text().strip()
        if not name:
            self.problem.setText("The smart crate needs a name.")
            return
        try:
            rule = self.smart_rule()
        except RulesError as exc:
            self.problem.setText(str(exc))
            return
        if self.node is None:
            self.service.create(
                self.parent_id, name, "smart", query=rule.query, sort=rule.sort,
                descending=rule.descending, limit=rule.limit,
            )  # fmt: skip
        else:
            if name != self.node.name:
                self.service.rename(self.node, name)
            self.service.update_smart(self.node, rule)
        self.accept()
