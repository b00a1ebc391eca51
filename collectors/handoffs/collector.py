"""Handoff notes: the Markdown files people keep per project, read as facts.

Each file matched by `sources.handoffs` is read by `markdown_notes` (which says how
sections, their metrics and the kind of each line are found) into these facts:

- `handoff.section`: one per `##` section (and one `overview` for text between the
  title and the first `##`). Source: the file and the heading's line; detail: the
  section's own Markdown including its `###` subsections, HTML comments dropped, secrets
  masked, trimmed to 2,000 characters; metrics: those of its tables and "Label: 3,676
  contacts" bullets; tags: the heading's slug.
- `handoff.blocker` (high), `handoff.risk` (medium), `handoff.todo` (low),
  `handoff.decision` (info): one per list item, paragraph line or table row that records
  one, with its own line; its task box dropped and secrets masked.
- `secret.in_note` (the rule's severity): a secret written anywhere in the note, front
  matter included, at its line; the value masked. The whole text is masked before it is
  parsed, so no other fact or gap carries the value.
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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from execbrief.boundary import glob_inside
from execbrief.config import CollectContext
from execbrief.models import CollectResult, Entity, Fact, Gap, Severity, Source
from execbrief.secrets.exposure import Exposures
from execbrief.yamlfile import YamlTooLarge, load_bounded

from .markdown_notes import Section, parse_note, split_front_matter

NAME = "handoffs"
DETAIL_LIMIT = 2000
TITLE_LIMIT = 160

_SEVERITY = {
    "blocker": Severity.HIGH,
    "risk": Severity.MEDIUM,
    "todo": Severity.LOW,
    "decision": Severity.INFO,
}
_INACTIVE = {"archived", "closed", "done"}
_GIT_ENV_OVERRIDES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CEILING_DIRECTORIES")


def _trim(text: str, limit: int) -> str:
    """Cut at a line (or word) boundary below `limit` and say so with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    if cut < limit // 2:
        cut = text.rfind(" ", 0, limit)
    return text[: max(cut, limit // 2)].rstrip() + " …"


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


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


class HandoffsCollector:
    """Facts from the Markdown handoff notes named by `sources.handoffs`."""

    name = NAME

    def collect(self, ctx: CollectContext) -> CollectResult:
        result = CollectResult()
        exposures = Exposures(NAME, "secret.in_note", "note", ctx.now)
        for path in self._files(ctx, result):
            self._collect_file(ctx, path, result, exposures)
        result.facts.extend(exposures.facts)
        return result

    def _files(self, ctx: CollectContext, result: CollectResult) -> list[Path]:
        found: dict[Path, None] = {}
        for pattern in ctx.config.sources.handoffs:
            matches = glob_inside(ctx.root, pattern, "file")
            if not matches:
                result.gaps.append(
                    Gap(
                        collector=NAME,
                        source=pattern,
                        reason="no handoff note matches this glob",
                        hint="fix sources.handoffs in execbrief.yaml (paths are relative to it)",
                    )
                )
            found.update(dict.fromkeys(matches.inside))
            for match, outside in matches.outside:
                result.gaps.append(
                    Gap(
                        collector=NAME,
                        source=_relative(match, ctx.root),
                        reason=f"not read: {outside}",
                        hint="copy the note into the workspace instead of linking it",
                    )
                )
        return list(found)

    def _collect_file(
        self, ctx: CollectContext, path: Path, result: CollectResult, exposures: Exposures
    ) -> None:
        rel = _relative(path, ctx.root)
        limit = ctx.config.limits.note_bytes
        try:
            size = path.stat().st_size
            if size > limit:
                result.gaps.append(
                    Gap(
                        collector=NAME,
                        source=rel,
                        reason=f"not read: {size:,} bytes is over limits.note_bytes ({limit:,})",
                        hint="split the note, or raise limits.note_bytes in execbrief.yaml",
                    )
                )
                return
            raw = path.read_bytes()
            text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
            # A NUL byte is no text; it would end the string in the tools that read it.
            text = text.replace("\x00", "")
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
        # Secrets are masked before anything is parsed, so no fact, gap or front-matter
        # value can carry one; each becomes a `secret.in_note` fact instead.
        found = len(exposures.facts)
        text = exposures.scan(text, rel)
        front, body = self._front_matter(text, rel, result)
        parsed = parse_note(body)
        entity = self._entity(ctx, path, rel, front, parsed.title, result)
        if entity is not None:
            exposures.facts[found:] = [
                fact.model_copy(update={"entity": entity.id}) for fact in exposures.facts[found:]
            ]
        label = entity.name if entity else path.stem
        body_lines = body.split("\n")
        comment_lines = {n for start, stop in parsed.comments for n in range(start, stop)}
        for section in parsed.sections:
            self._section_facts(ctx, rel, label, entity, section, body_lines, comment_lines, result)
        stale = self._stale_fact(ctx, path, rel, label, entity, front)
        if stale:
            result.facts.append(stale)

    def _front_matter(
        self, text: str, rel: str, result: CollectResult
    ) -> tuple[dict[str, Any], str]:
        raw, body = split_front_matter(text)
        if raw is None:
            return {}, body
        try:
            front = load_bounded(raw)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 2}" if mark else ""
            what = f"refused, {exc.problem}" if isinstance(exc, YamlTooLarge) else "invalid YAML"
            front = f"{what}{where}"
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
        section: Section,
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
                    detail=_trim(text, DETAIL_LIMIT),
                    entity=entity_id,
                    metrics=section.metrics,
                    tags=[section.tag],
                    observed_at=ctx.now,
                )
            )
        for line in section.lines:
            kind = line.kind
            if kind is None:
                continue
            plain = line.plain
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
