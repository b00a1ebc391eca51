"""Masking of secret values: the last line of defence before text leaves the machine.

Collectors mask what they find; this net catches provider-key shapes in any text that
reaches the bundle, a prompt, a draft or a log, whatever produced it.
"""

from __future__ import annotations

import re

from execbrief.models import Fact

_KEY_SHAPES = re.compile(
    r"""
    (?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}      # Stripe
    | (?:AKIA|ASIA)[0-9A-Z]{16}                        # AWS access key id
    | gh[pousr]_[A-Za-z0-9]{30,} | github_pat_\w{40,}  # GitHub
    | xox[abprs]-[A-Za-z0-9-]{10,}                     # Slack
    | SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}       # SendGrid
    | AIza[0-9A-Za-z_-]{35}                            # Google API key
    | -----BEGIN[ A-Z]*PRIVATE\ KEY-----[\s\S]*?-----END[ A-Z]*PRIVATE\ KEY-----
    """,
    re.VERBOSE,
)


def mask(value: str) -> str:
    """First 8 characters, an ellipsis, the last 4: enough to recognise, not to use."""
    if len(value) <= 16:
        return value[:4] + "…"
    return f"{value[:8]}…{value[-4:]}"


def redact_text(text: str) -> str:
    """Mask every provider-key shape found in `text`."""
    return _KEY_SHAPES.sub(lambda match: mask(match.group(0)), text)


def mask_fact(fact: Fact) -> Fact:
    """The fact with every provider-key shape in its words masked."""
    return fact.model_copy(
        update={"title": redact_text(fact.title), "detail": redact_text(fact.detail)}
    )
