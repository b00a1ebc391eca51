"""Reading a handoff note's Markdown: front matter, `##` sections, their lines and metrics.

`split_front_matter` takes the YAML front matter off first; `parse_note` then reads the
body with markdown-it (never with regexes on `#`, so a heading inside a fenced code block
stays code) into a `Note`:

- its title (the first heading) and one `Section` per `##` heading, plus an `overview`
  for text between the title and the first `##`. A section spans its `###` subsections;
  its tag is the heading's slug ("Technical Debt" -> `technical_debt`, a leading "1."
  dropped).
- a section's metrics come from its tables and from "Label: 3,676 contacts" bullets.
  A table cell that states exactly one number (see `execbrief.numbers`) becomes
  `<row label>[_<column header>][_usd|_pct]`: the row label's slug, a leading cadence
  word moved behind its phrase ("Monthly burn" -> `burn_monthly`), a parenthesised
  qualifier kept after it; the column header only when it says something ("Per month",
  "Rate"; not "Value" or "Amount"); `_usd` for money, `_pct` for percentages. So
  "Monthly burn | $7,400" gives `burn_monthly_usd: 7400`. A repeated name in one section
  gets `_2`, `_3`.
- a section's lines: each list item, paragraph line and table row, with its own line.
  `Line.kind` says whether it records a blocker, risk, todo or decision, from, in order:
  a leading keyword ("Blocked:", "TODO", "Risk:", "Decision:"); an unchecked task box
  `[ ]` (a todo; a checked one is done and records nothing); the nearest heading for list
  items and table rows ("## Risks", "## Open Items", "## Decisions"); a keyword anywhere
  in the line, the most severe.
- the line ranges of its HTML comments.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

from execbrief.numbers import NumberKind, find_numbers, parse_amount

_LEADING = re.compile(
    r"^\W*(?P<word>blocked|blocker|blocking|todo|to-do|fixme|risks?|decisions?|decided)\b",
    re.IGNORECASE,
)
_ANYWHERE = {
    "blocker": re.compile(r"\bblock(?:ed|er|ers|ing)\b", re.IGNORECASE),
    "risk": re.compile(r"\brisk(?:s|y)?\b", re.IGNORECASE),
    "todo": re.compile(r"\b(?:todo|to-do|fixme)\b", re.IGNORECASE),
    "decision": re.compile(r"\b(?:decisions?|decided)\b", re.IGNORECASE),
}
_CONTEXT_WORDS = {
    "blocker": {"blocked", "blocker", "blockers"},
    "risk": {"risk", "risks"},
    "decision": {"decision", "decisions"},
}
_TODO_SECTIONS = {"todo", "todos", "to_do", "next_steps", "open_items", "action_items"}
_TASK = re.compile(r"^\[(?P<mark>[ xX])\]\s*")
_CADENCE = {"monthly", "weekly", "daily", "quarterly", "annual", "yearly"}
_GENERIC_HEADERS = {"", "value", "values", "amount", "amounts", "figure", "number", "metric"}
_LABELLED = re.compile(r"^(?P<label>[^:]{1,60}):\s*(?P<value>\S.*)$", re.DOTALL)
_HEDGES = {"", "~", "≈", "about", "around", "approximately", "roughly"}

_MARKDOWN = MarkdownIt("commonmark").enable("table")


def slug(text: str) -> str:
    """`Technical Debt` -> `technical_debt`: ASCII, lower case, underscores."""
    letters = "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )
    return re.sub(r"[^a-z0-9]+", "_", letters.lower()).strip("_")


def metric_name(label: str, column: str, kind: NumberKind) -> str:
    """The metric name of a number under `label` in `column`; rules in the module docstring."""
    main, _, qualifier = label.partition("(")
    words = [word for word in slug(main).split("_") if word]
    if len(words) > 1 and words[0] in _CADENCE:
        words = [*words[1:], words[0]]
    header = slug(column)
    parts = ["_".join(words), slug(qualifier), "" if header in _GENERIC_HEADERS else header]
    name = "_".join(part for part in parts if part)
    suffix = {NumberKind.MONEY: "usd", NumberKind.PERCENT: "pct"}.get(kind)
    if suffix and name and not name.endswith(suffix):
        name = f"{name}_{suffix}"
    return name


def split_front_matter(text: str) -> tuple[str | None, str]:
    """The YAML between a leading `---` and the next `---` or `...`, and the body with
    those lines blanked so markdown-it's line numbers stay the file's."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return None, text
    for end in range(1, len(lines)):
        if lines[end].rstrip() in ("---", "..."):
            return "\n".join(lines[1:end]), "\n" * (end + 1) + "\n".join(lines[end + 1 :])
    return None, text


@dataclass
class Line:
    """A list item, paragraph line or table row that may record a blocker, todo, risk..."""

    line: int
    text: str
    context: str | None
    done: bool = False

    @property
    def plain(self) -> str:
        """The text without its task box."""
        return _TASK.sub("", self.text)

    @property
    def kind(self) -> str | None:
        """Which of blocker, risk, todo, decision the line records, if any."""
        if self.done:
            return None
        text = self.plain
        leading = _LEADING.match(text)
        if leading:
            return next(k for k, word in _ANYWHERE.items() if word.fullmatch(leading.group("word")))
        if self.context:
            return self.context
        return next((kind for kind, word in _ANYWHERE.items() if word.search(text)), None)


@dataclass
class Section:
    """A `##` section; `start` and `end` bound its body as 0-based line indices."""

    heading: str
    line: int
    tag: str
    context: str | None
    start: int
    end: int = 0
    lines: list[Line] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    def add_metric(self, name: str, value: float) -> None:
        """Record `value` as `name`, or as `name_2`, `name_3`... when that is taken."""
        unique, n = name, 1
        while unique in self.metrics:
            n += 1
            unique = f"{name}_{n}"
        self.metrics[unique] = value


@dataclass
class Note:
    """A note's title and sections; `comments` are HTML comments as 0-based line ranges."""

    title: str | None = None
    sections: list[Section] = field(default_factory=list)
    comments: list[tuple[int, int]] = field(default_factory=list)


def parse_note(body: str) -> Note:
    """The title, sections, lines, metrics and comments of a note body."""
    return _Walker(_MARKDOWN.parse(body), body.count("\n") + 1).walk()


def _context_kind(heading: str) -> str | None:
    """The kind a heading gives the items under it: "## Risks" lists risks."""
    tag = slug(heading)
    words = set(tag.split("_"))
    for kind, names in _CONTEXT_WORDS.items():
        if words & names:
            return kind
    return "todo" if tag in _TODO_SECTIONS else None


def _plain_lines(inline: Token) -> list[tuple[int, str]]:
    """An inline token's readable text (emphasis and link syntax dropped, code kept),
    split at its line breaks, each piece with its 1-based line."""
    assert inline.map is not None
    pieces: list[tuple[int, str]] = []
    line, parts = inline.map[0] + 1, list[str]()
    for child in inline.children or []:
        if child.type in ("softbreak", "hardbreak"):
            pieces.append((line, "".join(parts)))
            line, parts = line + 1, list[str]()
        elif child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
    pieces.append((line, "".join(parts)))
    return [(n, " ".join(text.split())) for n, text in pieces if text.strip()]


def _plain(inline: Token) -> str:
    """An inline token's readable text: emphasis and link syntax dropped, code kept."""
    return " ".join(text for _, text in _plain_lines(inline))


class _Walker:
    """One pass over markdown-it's tokens that groups what it finds by `##` section."""

    def __init__(self, tokens: list[Token], line_count: int) -> None:
        self.tokens = tokens
        self.note = Note()
        self.current = Section("overview", 1, "overview", None, start=0)
        self.note.sections.append(self.current)
        self.context: str | None = None
        self.items: list[tuple[int, Line]] = []
        self.line_count = line_count

    def walk(self) -> Note:
        index = 0
        while index < len(self.tokens):
            index = self._step(index)
        for section, following in zip(self.note.sections, self.note.sections[1:], strict=False):
            section.end = following.line - 1
        self.note.sections[-1].end = self.line_count
        return self.note

    def _step(self, index: int) -> int:
        token = self.tokens[index]
        if token.type == "heading_open":
            self._heading(token, self.tokens[index + 1])
            return index + 3
        if token.type == "table_open":
            return self._table(index)
        if token.type == "list_item_open":
            assert token.map is not None
            self.items.append((token.level, Line(token.map[0] + 1, "", self._item_context())))
        elif token.type == "list_item_close":
            _, item = self.items.pop()
            self._item_text(item)
        elif token.type == "inline" and self.tokens[index - 1].type == "paragraph_open":
            self._paragraph(token)
        elif token.type == "html_block" and token.content.lstrip().startswith("<!--"):
            assert token.map is not None
            self.note.comments.append((token.map[0], token.map[1]))
        return index + 1

    def _item_context(self) -> str | None:
        return self.context or self.current.context

    def _heading(self, token: Token, inline: Token) -> None:
        text = _plain(inline)
        assert token.map is not None
        line = token.map[0] + 1
        level = int(token.tag[1:])
        if self.note.title is None:
            self.note.title = text
            if level == 1:
                self.current.line = self.current.start = line
                return
        if level <= 2:
            tag = slug(re.sub(r"^\d+[.)]?\s+", "", text)) or "section"
            self.current = Section(text, line, tag, _context_kind(text), start=line)
            self.note.sections.append(self.current)
            self.context = None
        else:
            self.context = _context_kind(text)

    def _paragraph(self, inline: Token) -> None:
        if self.items and inline.level == self.items[-1][0] + 2:
            item = self.items[-1][1]
            item.text = f"{item.text} {_plain(inline)}".strip()
            return
        if not self.items:
            for line, text in _plain_lines(inline):
                self.current.lines.append(Line(line, text, None))

    def _item_text(self, item: Line) -> None:
        task = _TASK.match(item.text)
        if task:
            item.done = task.group("mark") != " "
            if not item.done and not _LEADING.match(item.text[task.end() :]):
                item.context = "todo"
        self.current.lines.append(item)
        self._labelled_metric(item.text)

    def _labelled_metric(self, text: str) -> None:
        """A "Label: 3,676 contacts" item is a metric when its value starts with its number."""
        match = _LABELLED.match(text)
        if not match or len(match.group("label").split()) > 6 or _LEADING.match(text):
            return
        start = match.start("value")
        numbers = [n for n in find_numbers(text) if n.span[0] >= start]
        if len(numbers) != 1 or numbers[0].in_words:
            return
        if text[start : numbers[0].span[0]].strip().lower() not in _HEDGES:
            return
        name = metric_name(match.group("label"), "", numbers[0].kind)
        if name:
            self.current.add_metric(name, numbers[0].value)

    def _table(self, index: int) -> int:
        headers: list[str] = []
        row: list[str] = []
        row_line = 0
        while self.tokens[index].type != "table_close":
            token = self.tokens[index]
            if token.type == "tr_open":
                assert token.map is not None
                row, row_line = [], token.map[0] + 1
            elif token.type == "inline":
                row.append(_plain(token))
            elif token.type == "tr_close" and not headers:
                headers = row
            elif token.type == "tr_close":
                self._row(headers, row, row_line)
            index += 1
        return index + 1

    def _row(self, headers: list[str], cells: list[str], line: int) -> None:
        label = cells[0] if cells else ""
        for column, cell in enumerate(cells[1:], start=1):
            amount = parse_amount(cell)
            header = headers[column] if column < len(headers) else ""
            name = metric_name(label, header, amount.kind) if amount else ""
            if amount and name:
                self.current.add_metric(name, amount.value)
        text = " · ".join(
            f"{header}: {cell}" if header else cell
            for header, cell in zip([*headers, *[""] * len(cells)], cells, strict=False)
            if cell
        )
        if text:
            self.current.lines.append(Line(line, text, self._item_context()))
