"""Secrets written into evidence text become facts that report the exposure, masked.

A collector that reads free text (a note, a ledger memo) passes it through `exposed`:
it gets back the text with every secret masked and one fact per secret ("OpenAI API key
written in handoffs/x.md:12"), so a brief can say a key sits in a note without carrying it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from execbrief.models import Fact, Source
from execbrief.secrets.detect import SecretHit, find_secrets
from execbrief.secrets.mask import redact_text

TAGS = ["security", "secrets"]


@dataclass
class Exposures:
    """Collects exposure facts for one collector and source kind (`secret.in_note`...)."""

    collector: str
    kind: str
    place: str
    """What the reader calls the container, for the advice: "note", "ledger"."""
    observed_at: datetime
    facts: list[Fact] = field(default_factory=list)
    _seen: set[tuple[str, int | None, str]] = field(default_factory=set)

    def scan(self, text: str, path: str, first_line: int = 1, entity: str | None = None) -> str:
        """`text` with its secrets masked; a fact for each secret, at its line in `path`
        (`first_line` is the file line of the text's first line; 0 for no line)."""
        hits = find_secrets(text)
        for hit in hits:
            line = first_line + hit.line - 1 if first_line else None
            self._add(hit, path, line, entity)
        return redact_text(text) if hits else text

    def _add(self, hit: SecretHit, path: str, line: int | None, entity: str | None) -> None:
        key = (path, line, hit.masked)
        if key in self._seen:
            return
        self._seen.add(key)
        where = f"{path}:{line}" if line else path
        self.facts.append(
            Fact.create(
                collector=self.collector,
                kind=self.kind,
                source=Source(path=path, line=line, section=f"{hit.rule.id} {hit.masked}"),
                severity=hit.rule.severity,
                title=f"{hit.rule.label} written in {where}",
                detail=f"{hit.rule.label} {hit.masked} is written in plain text in {where} "
                f"(rule {hit.rule.id}). Anyone who can read the {self.place} can use it: "
                f"rotate it, then remove it from the {self.place}.",
                entity=entity,
                tags=[*TAGS, hit.rule.id],
                observed_at=self.observed_at,
            )
        )
