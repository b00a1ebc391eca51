"""The secret detector over any text: notes, memos, AWS values, gap reasons, prompts.

It runs the one catalogue in `rules` (the code audit's rules plus the shapes only free
text needs) and answers with masked hits; `mask.redact_text` masks the same spans.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from execbrief.secrets.mask import mask
from execbrief.secrets.rules import SecretRule, secret_spans


@dataclass(frozen=True)
class SecretHit:
    """One secret in a text: which rule, where (1-based line, character offset), masked."""

    rule: SecretRule
    masked: str
    line: int
    offset: int
    value: str = field(repr=False)
    """The raw value: only for masking the text that carried it, never to be written."""


def find_secrets(text: str) -> list[SecretHit]:
    """Every secret in `text`, in order of position."""
    if not text:
        return []
    data = text.encode("utf-8", "surrogatepass")
    hits = []
    for rule, start, end in secret_spans(data):
        value = data[start:end].decode("utf-8", "replace")
        prefix = data[:start].decode("utf-8", "replace")
        hits.append(
            SecretHit(
                rule=rule,
                masked=mask(value),
                line=prefix.count("\n") + 1,
                offset=len(prefix),
                value=value,
            )
        )
    return hits
