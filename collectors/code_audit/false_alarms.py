"""Named-value matches a reviewer would dismiss: the value names a key, or shows its shape.

The name rules (`classify_assignment`) judge a value by the name it is assigned to; on
third-party code that name is often right and the value still holds no secret:
`SECRET_KEY = 'aws_secret_access_key'` (botocore names a config key), a header name, a
regular expression, a provider-shaped stand-in such as `sk_live_xxx` in an environment
default, or a token that is public by design. Provider-shaped keys that match their own
rule are never dismissed here.
"""

from __future__ import annotations

import re

from execbrief.secrets.rules import AWS_SECRET, GENERIC, JWT_SECRET, SecretRule

# Rules that fire on a name, not on the value's own shape.
NAMED_RULES = frozenset({GENERIC.id, JWT_SECRET.id, AWS_SECRET.id, "signing_key"})

# How provider keys begin; a named value with one of these prefixes that its provider's
# rule did not match is a stand-in (`sk_live_xxx`), not a key.
_PROVIDER_PREFIX = re.compile(
    r"(?:[sr]k|pk)_(?:live|test)_|whsec_|A(?:KIA|SIA)|xox[abposr]-|gh[pousr]_|github_pat_"
    r"|SG\.|AIza",
)
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z_.-]*")
_HEADER_NAME = re.compile(r"(?:[A-Z][a-z]*|[A-Z]+)(?:-(?:[A-Z][a-z]*|[A-Z]+))+")
# A character class with a quantifier, a group construct, an escape class or anchors.
_REGEX = re.compile(r"\[[^\]]+\][+*?{]|\(\?[:=!<P]|\\[dwsSbDW]|^\^.*\$$|\]\{\d")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# Tokens that are published by design: a .NET public key token, an SES domain
# verification token (it goes into a DNS TXT record), a public key.
_PUBLIC_NAME = re.compile(r"public|verification[_-]?token", re.IGNORECASE)


def dismissed(rule: SecretRule, name: str | None, value: str) -> bool:
    """Whether a named-rule match is one a reviewer would dismiss on sight."""
    if rule.id not in NAMED_RULES:
        return False
    if _PROVIDER_PREFIX.match(value) or _REGEX.search(value) or _HEADER_NAME.fullmatch(value):
        return True
    if name is None:
        return False
    last = re.split(r"[.\[\]'\"]", name.strip(".[]'\""))[-1] or name
    if _PUBLIC_NAME.search(last):
        return True
    return _names_itself(last, value)


def _names_itself(name: str, value: str) -> bool:
    """`SECRET_KEY = 'AWSSecretKey'`: the value is a word-only name holding every word of
    the name it is assigned to, so it names a setting rather than holding a secret."""
    if not _IDENTIFIER.fullmatch(value):
        return False
    words = [w.lower() for w in _WORD.findall(name) if len(w) >= 3]
    folded = value.lower()
    return bool(words) and all(word in folded for word in words)
