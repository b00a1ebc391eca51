"""Handoff notes: the Markdown files people keep per project, read as facts.

Each file matched by `sources.handoffs` is parsed with markdown-it (never with regexes
on `#`, so a heading inside a fenced code block stays code):

- `handoff.section`: one per `##` section (and one `overview` for text between the
  title and the first `##`). Source: the file and the heading's line; detail: the
  section's own Markdown including its `###` subsections, HTML comments dropped, secrets
  masked, trimmed to 2,000 characters; tags: the heading's slug ("Technical Debt" ->
  `technical_debt`, a leading "1." dropped).
- metrics of a section come from its tables and from "Label: 3,676 contacts" bullets.
  A table cell that states exactly one number (see `execbrief.numbers`) becomes
  `<row label>[_<column header>][_usd|_pct]`: the row label's slug, a leading cadence
  word moved behind its phrase ("Monthly burn" -> `burn_monthly`), a parenthesised
  qualifier kept after it; the column header only when it says something ("Per month",
  "Rate"; not "Value" or "Amount"); `_usd` for money, `_pct` for percentages. So
  "Monthly burn | $7,400" gives `burn_monthly_usd: 7400`. A repeated name in one section
  gets `_2`, `_3`.
- `handoff.blocker` (high), `handoff.risk` (medium), `handoff.todo` (low),
  `handoff.decision` (info): one per list item, paragraph line or table row, with its
  own line. The kind comes from, in order: a leading keyword ("Blocked:", "TODO",
  "Risk:", "Decision:"); an unchecked task box `[ ]` (a todo; a checked one is done
  and skipped); the nearest heading for list items and table rows ("## Risks",
  "## Open Items", "## Decisions"); a keyword anywhere in the line, the most severe.
- `handoff.stale` (low): the note was last updated more than `stale_after_days` ago.
  Its date is the front matter's `updated` when present, because the author states it
  and commits that only reformat or move a file do not refresh its content; otherwise
  the last git commit of the file (its mtime when it has uncommitted changes), and the
  mtime when git does not know the file. A note whose `status` is archived, closed or
  done is not expected to change and is never stale.

Entity: the front matter's `entity`, else the workspace entity whose id, name or alias
appears in the first heading, else in the file name (the longest match wins). A note
that matches none is a gap, and its facts are still recorded with no entity.
A glob that matches nothing, a file that cannot be read or is not UTF-8, and front
matter that is not a YAML mapping are gaps too.
"""

from __future__ import annotations

import os
import re
import subprocess
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from execbrief.models import CollectContext, CollectResult, Entity, Fact, Gap, Severity, Source
from execbrief.numbers import NumberKind, find_numbers, parse_amount
from execbrief.redact import redact_text

NAME = "handoffs"
DETAIL_LIMIT = 2000
TITLE_LIMIT = 160

_SEVERITY = {
    "blocker": Severity.HIGH,
    "risk": Severity.MEDIUM,
    "todo": Severity.LOW,
    "decision": Severity.INFO,
}
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
_INACTIVE = {"archived", "closed", "done"}
_GIT_ENV_OVERRIDES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CEILING_DIRECTORIES")

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


@dataclass
class _Line:
    """A list item, paragraph line or table row that may record a blocker, todo, risk..."""

    line: int
    text: str
    context: str | None
    done: bool = False


@dataclass
class _Section:
    """A `##` section; `start` and `end` bound its body as 0-based line indices."""

    heading: str
    line: int
    tag: str
    context: str | None
    start: int
    end: int = 0
    lines: list[_Line] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    def add_metric(self, name: str, value: float) -> None:
        unique, n = name, 1
        while unique in self.metrics:
            n += 1
            unique = f"{name}_{n}"
        self.metrics[unique] = value


@dataclass
class _Note:
    title: str | None = None
    sections: list[_Section] = field(default_factory=list)


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
        self.note = _Note()
        self.current = _Section("overview", 1, "overview", None, start=0)
        self.note.sections.append(self.current)
        self.context: str | None = None
        self.items: list[tuple[int, _Line]] = []
        self.comments: list[tuple[int, int]] = []
        self.line_count = line_count

    def walk(self) -> _Note:
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
            self.items.append((token.level, _Line(token.map[0] + 1, "", self._item_context())))
        elif token.type == "list_item_close":
            _, item = self.items.pop()
            self._item_text(item)
        elif token.type == "inline" and self.tokens[index - 1].type == "paragraph_open":
            self._paragraph(token)
        elif token.type == "html_block" and token.content.lstrip().startswith("<!--"):
            assert token.map is not None
            self.comments.append((token.map[0], token.map[1]))
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
            self.current = _Section(text, line, tag, _context_kind(text), start=line)
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
                self.current.lines.append(_Line(line, text, None))

    def _item_text(self, item: _Line) -> None:
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
            self.current.lines.append(_Line(line, text, self._item_context()))


def _kind_of(line: _Line) -> str | None:
    """Which of blocker, risk, todo, decision a line records, if any."""
    if line.done:
        return None
    text = _TASK.sub("", line.text)
    leading = _LEADING.match(text)
    if leading:
        return next(k for k, word in _ANYWHERE.items() if word.fullmatch(leading.group("word")))
    if line.context:
        return line.context
    return next((kind for kind, word in _ANYWHERE.items() if word.search(text)), None)


def _trim(text: str, limit: int) -> str:
    """Cut at a line (or word) boundary below `limit` and say so with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    if cut < limit // 2:
        cut = text.rfind(" ", 0, limit)
    return text[: max(cut, limit // 2)].rstrip() + " …"


def _split_front_matter(text: str) -> tuple[str | None, str]:
    """The YAML between a leading `---` and the next `---` or `...`, and the body with
    those lines blanked so markdown-it's line numbers stay the file's."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return None, text
    for end in range(1, len(lines)):
        if lines[end].rstrip() in ("---", "..."):
            return "\n".join(lines[1:end]), "\n" * (end + 1) + "\n".join(lines[end + 1 :])
    return None, text


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _as_datetime(datetime.fromisoformat(value.strip()))
        except ValueError:
            return None
    return None


def _git(path: Path, *args: str) -> str | None:
    """Run git in the file's folder; None when git is missing or the folder is no repo."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_OVERRIDES}
    try:
        done = subprocess.run(
            ["git", *args, "--", path.name],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
            env=env,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def last_changed(path: Path) -> tuple[datetime, str]:
    """When a file last changed and how that is known: its last commit, else its mtime."""
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    committed = _git(path, "log", "-1", "--format=%cI")
    if not committed:
        return mtime, "file modified"
    if _git(path, "status", "--porcelain"):
        return mtime, "uncommitted changes"
    return datetime.fromisoformat(committed), "last commit"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _match_length(haystack: str, needle: str) -> int:
    """Characters of `needle` found as consecutive words of `haystack`, with or without
    the separators ("quick-dump-now" matches "QuickDumpNow"); 0 when absent."""
    target = "".join(_words(needle))
    words = _words(haystack)
    for start in range(len(words)):
        joined = ""
        for word in words[start:]:
            joined += word
            if joined == target:
                return len(target)
            if len(joined) >= len(target):
                break
    return 0


def _best_entity(text: str, entities: list[Entity]) -> Entity | None:
    best, best_length = None, 0
    for entity in entities:
        length = max(_match_length(text, n) for n in [entity.id, entity.name, *entity.aliases])
        if length > best_length:
            best, best_length = entity, length
    return best


def _named_entity(value: str, entities: list[Entity]) -> Entity | None:
    wanted = "".join(_words(value))
    for entity in entities:
        if wanted in {"".join(_words(n)) for n in [entity.id, entity.name, *entity.aliases]}:
            return entity
    return None


def _glob(root: Path, pattern: str) -> list[Path]:
    """Files matching `pattern`, relative to `root` unless it is absolute."""
    path = Path(pattern)
    base = Path(path.anchor) if path.is_absolute() else root
    relative = path.relative_to(path.anchor).as_posix() if path.is_absolute() else pattern
    try:
        return sorted(match for match in base.glob(relative) if match.is_file())
    except (ValueError, NotImplementedError, OSError):
        return []


class HandoffsCollector:
    """Facts from the Markdown handoff notes named by `sources.handoffs`."""

    name = NAME

    def collect(self, ctx: CollectContext) -> CollectResult:
        result = CollectResult()
        for path in self._files(ctx, result):
            self._collect_file(ctx, path, result)
        return result

    def _files(self, ctx: CollectContext, result: CollectResult) -> list[Path]:
        found: dict[Path, None] = {}
        for pattern in ctx.config.sources.handoffs:
            matches = _glob(ctx.root, pattern)
            if not matches:
                result.gaps.append(
                    Gap(
                        collector=NAME,
                        source=pattern,
                        reason="no handoff note matches this glob",
                        hint="fix sources.handoffs in execbrief.yaml (paths are relative to it)",
                    )
                )
            found.update(dict.fromkeys(matches))
        return list(found)

    def _collect_file(self, ctx: CollectContext, path: Path, result: CollectResult) -> None:
        rel = Path(os.path.relpath(path, ctx.root)).as_posix()
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
        except OSError as exc:
            result.gaps.append(Gap(collector=NAME, source=rel, reason=f"unreadable: {exc}"))
            return
        except UnicodeDecodeError as exc:
            result.gaps.append(
                Gap(
                    collector=NAME,
                    source=rel,
                    reason=f"not UTF-8 text (byte {exc.start})",
                    hint="save the note as UTF-8",
                )
            )
            return
        front, body = self._front_matter(text, rel, result)
        walker = _Walker(_MARKDOWN.parse(body), body.count("\n") + 1)
        parsed = walker.walk()
        entity = self._entity(ctx, path, rel, front, parsed.title, result)
        label = entity.name if entity else path.stem
        body_lines = body.split("\n")
        comment_lines = {n for start, stop in walker.comments for n in range(start, stop)}
        for section in parsed.sections:
            self._section_facts(ctx, rel, label, entity, section, body_lines, comment_lines, result)
        stale = self._stale_fact(ctx, path, rel, label, entity, front)
        if stale:
            result.facts.append(stale)

    def _front_matter(
        self, text: str, rel: str, result: CollectResult
    ) -> tuple[dict[str, Any], str]:
        raw, body = _split_front_matter(text)
        if raw is None:
            return {}, body
        try:
            front = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 2}" if mark else ""
            front = f"invalid YAML{where}"
        if front is None:
            return {}, body
        if not isinstance(front, dict):
            reason = front if isinstance(front, str) else "not a mapping"
            result.gaps.append(
                Gap(
                    collector=NAME,
                    source=rel,
                    reason=f"front matter ignored: {reason}",
                    hint="front matter is `key: value` lines between two `---` lines",
                )
            )
            return {}, body
        return {str(key): value for key, value in front.items()}, body

    def _entity(
        self,
        ctx: CollectContext,
        path: Path,
        rel: str,
        front: dict[str, Any],
        title: str | None,
        result: CollectResult,
    ) -> Entity | None:
        entities = ctx.config.entities
        declared = front.get("entity")
        if declared is not None:
            entity = _named_entity(str(declared), entities)
            if entity:
                return entity
        entity = _best_entity(title or "", entities) or _best_entity(path.stem, entities)
        if entity:
            return entity
        unknown = f"front matter names unknown entity {declared!r}; " if declared else ""
        result.gaps.append(
            Gap(
                collector=NAME,
                source=rel,
                reason=f"{unknown}no entity id, name or alias in the first heading or file name;"
                " its facts have no entity",
                hint="add `entity: <id>` front matter or an entity alias in execbrief.yaml",
            )
        )
        return None

    def _section_facts(
        self,
        ctx: CollectContext,
        rel: str,
        label: str,
        entity: Entity | None,
        section: _Section,
        body_lines: list[str],
        comment_lines: set[int],
        result: CollectResult,
    ) -> None:
        text = "\n".join(
            body_lines[n] for n in range(section.start, section.end) if n not in comment_lines
        ).strip()
        entity_id = entity.id if entity else None
        if text or section.metrics:
            result.facts.append(
                Fact.create(
                    collector=NAME,
                    kind="handoff.section",
                    source=Source(path=rel, line=section.line, section=section.heading),
                    severity=Severity.INFO,
                    title=f"{label} handoff: {section.heading}",
                    detail=_trim(redact_text(text), DETAIL_LIMIT),
                    entity=entity_id,
                    metrics=section.metrics,
                    tags=[section.tag],
                    observed_at=ctx.now,
                )
            )
        for line in section.lines:
            kind = _kind_of(line)
            if kind is None:
                continue
            plain = redact_text(_TASK.sub("", line.text))
            result.facts.append(
                Fact.create(
                    collector=NAME,
                    kind=f"handoff.{kind}",
                    source=Source(path=rel, line=line.line, section=section.heading),
                    severity=_SEVERITY[kind],
                    title=_trim(plain, TITLE_LIMIT),
                    detail=_trim(plain, DETAIL_LIMIT),
                    entity=entity_id,
                    tags=list(dict.fromkeys([kind, section.tag])),
                    observed_at=ctx.now,
                )
            )

    def _stale_fact(
        self,
        ctx: CollectContext,
        path: Path,
        rel: str,
        label: str,
        entity: Entity | None,
        front: dict[str, Any],
    ) -> Fact | None:
        if str(front.get("status", "")).strip().lower() in _INACTIVE:
            return None
        updated = _as_datetime(front.get("updated"))
        changed, how = (updated, "front matter `updated`") if updated else last_changed(path)
        now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
        age = (now - changed).days
        stale_after = ctx.config.stale_after_days
        if age <= stale_after:
            return None
        owner = f" Owner: {front['owner']}." if front.get("owner") else ""
        return Fact.create(
            collector=NAME,
            kind="handoff.stale",
            source=Source(path=rel),
            severity=Severity.LOW,
            title=f"{label} handoff not updated in {age} days",
            detail=f"Last updated {changed.date().isoformat()} ({how}); notes older than "
            f"{stale_after} days are stale.{owner}",
            entity=entity.id if entity else None,
            metrics={"age_days": age, "stale_after_days": stale_after},
            tags=["freshness"],
            observed_at=ctx.now,
        )
