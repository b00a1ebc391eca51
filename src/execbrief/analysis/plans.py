"""Sequences and plans the notes already state: numbered lists (an OTA order) and dated
milestones, kept in their order so a brief repeats the plan instead of inventing one."""

from __future__ import annotations

import re
from datetime import date

from execbrief.models import Bundle, Fact

from .common import COUNT, DAYS, derived, entity_names, of_kind, slug

_ITEM = re.compile(r"^\s*(\d+)[.)]\s+(.*)$")
_HEADING = re.compile(r"^#{2,6}\s+(.*)$")
_ISO = re.compile(r"\b(20\d\d)-([01]\d)-([0-3]\d)\b")
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_YEAR = re.compile(r"\b(" + "|".join(_MONTHS) + r")\s+(20\d\d)\b", re.IGNORECASE)
_QUARTER = re.compile(r"\bQ([1-4])\s+(20\d\d)\b")
_PAST = re.compile(
    r"\b(sent|asked|since|recorded|started|left|reported|invoiced|requested|expired|signed"
    r"|as of)\b",
    re.IGNORECASE,
)


def _lists(text: str) -> list[tuple[str | None, list[str]]]:
    """Numbered lists in a section's text, each with the nearest heading above it."""
    found: list[tuple[str | None, list[str]]] = []
    heading: str | None = None
    current: list[str] | None = None
    for raw in text.splitlines():
        if (h := _HEADING.match(raw)) is not None:
            heading, current = h.group(1).strip(), None
            continue
        if (m := _ITEM.match(raw)) is not None:
            if current is None:
                current = []
                found.append((heading, current))
            current.append(m.group(2).strip())
        elif current is not None and raw.startswith((" ", "\t")) and raw.strip():
            current[-1] += " " + raw.strip()
        elif raw.strip():
            current = None
    return [(h, items) for h, items in found if len(items) > 1]


def sequences(bundle: Bundle) -> list[Fact]:
    """Each numbered list of two or more steps in a note, as one ordered fact."""
    names = entity_names(bundle)
    out = []
    for fact in of_kind(bundle, "handoff.section"):
        for heading, items in _lists(fact.detail):
            title = heading or fact.source.section or "sequence"
            steps = "\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1))
            out.append(
                derived(
                    bundle,
                    "analysis.sequence",
                    f"sequence {fact.source.path} {slug(title)}",
                    entity=fact.entity,
                    title=(
                        f"{names[fact.entity]}: {title} "
                        f"({len(items)} steps, as the note orders them)"
                    ),
                    detail=f"In {fact.source.label()}:\n{steps}",
                    inputs=[fact.id],
                    metrics={"steps": (len(items), COUNT)},
                    tags=["sequence", slug(title), *fact.tags],
                )
            )
    return out


def _when(line: str) -> date | None:
    if (m := _ISO.search(line)) is not None:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if (m := _MONTH_YEAR.search(line)) is not None:
        return date(int(m.group(2)), _MONTHS.index(m.group(1).casefold()) + 1, 1)
    if (m := _QUARTER.search(line)) is not None:
        return date(int(m.group(2)), 3 * int(m.group(1)) - 2, 1)
    return None


def _bullets(text: str) -> list[str]:
    items: list[str] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith(("- ", "* ", "| ")) or _ITEM.match(raw):
            items.append(stripped.lstrip("-* ").strip())
        elif items and raw.startswith((" ", "\t")) and stripped:
            items[-1] += " " + stripped
    return items


def milestones(bundle: Bundle) -> list[Fact]:
    """Dated plans in the notes (due, renewal, target dates on or after the collection),
    ordered by date; a date an event already happened on is history, not a plan."""
    names = entity_names(bundle)
    today = bundle.collected_at.date()
    found: list[tuple[date, Fact, str]] = []
    for fact in of_kind(bundle, "handoff.section"):
        for item in _bullets(fact.detail):
            when = _when(item)
            if when is None or when < today or _PAST.search(item.split(str(when.year))[0]):
                continue
            found.append((when, fact, item.strip("| ").replace(" | ", "; ")))
    found.sort(key=lambda t: (t[0], t[1].entity or "", t[2]))
    out = []
    for order, (when, fact, item) in enumerate(found, start=1):
        days = (when - today).days
        out.append(
            derived(
                bundle,
                "analysis.milestone",
                f"milestone {fact.source.path} {slug(item)[:80]}",
                entity=fact.entity,
                title=f"{when.isoformat()} ({names[fact.entity]}): {item[:160]}",
                detail=(
                    f"Stated in {fact.source.label()}; due {when.isoformat()}, {days} days after "
                    f"the evidence was collected ({today.isoformat()}). "
                    f"Milestone {order} in date order."
                ),
                inputs=[fact.id],
                metrics={"order": (order, COUNT), "days_from_collection": (days, DAYS)},
                tags=["milestone", *fact.tags],
            )
        )
    return out
