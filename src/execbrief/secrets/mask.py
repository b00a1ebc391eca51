"""Masking of secret values: the last line of defence before text leaves the machine.

Collectors mask what they find; this net runs the same catalogue (`rules.secret_spans`)
over any text that reaches the bundle, a prompt, a draft, a mail or a log, whatever
produced it. `mask` is the one way a secret value is shown.
"""

from __future__ import annotations

from execbrief.models import Fact
from execbrief.secrets.rules import secret_spans

# Below this length 8 + 4 shown characters would reveal half a secret or more.
_FULL_MASK_MIN = 24
# Below this, even 4 characters are a large share of the value: nothing is shown.
_PREFIX_MASK_MIN = 12
# Shorter values are masked only where a rule matched: bare, they are ordinary words.
_REPEAT_MIN = 8


def mask(value: str) -> str:
    """First 8 characters, an ellipsis, the last 4 (`sk_live_…9f2a`): enough to
    recognise, not to use. Shorter values show 4 characters, short ones none."""
    if len(value) >= _FULL_MASK_MIN:
        return f"{value[:8]}…{value[-4:]}"
    if len(value) >= _PREFIX_MASK_MIN:
        return value[:4] + "…"
    return "…"


def redact_text(text: str) -> str:
    """`text` with every secret the catalogue finds masked."""
    if not text:
        return text
    data = text.encode("utf-8", "surrogatepass")
    spans = secret_spans(data)
    if not spans:
        return text
    out: list[bytes] = []
    values: set[bytes] = set()
    done = 0
    for _, start, end in spans:
        value = data[start:end]
        values.add(value)
        # A masked PEM block keeps its line breaks, so the lines after it keep their numbers.
        shown = mask(value.decode("utf-8", "replace")) + "\n" * value.count(b"\n")
        out += [data[done:start], shown.encode()]
        done = end
    out.append(data[done:])
    masked = b"".join(out)
    # The same value written again with no context (a bare password) is masked too.
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= _REPEAT_MIN and value in masked:
            masked = masked.replace(value, mask(value.decode("utf-8", "replace")).encode())
    return masked.decode("utf-8", "replace")


def mask_fact(fact: Fact) -> Fact:
    """The fact with every secret in its words masked."""
    update: dict[str, object] = {
        "title": redact_text(fact.title),
        "detail": redact_text(fact.detail),
    }
    if fact.source.section:
        section = redact_text(fact.source.section)
        if section != fact.source.section:
            update["source"] = fact.source.model_copy(update={"section": section})
    return fact.model_copy(update=update)
