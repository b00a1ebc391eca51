"""What a secret looks like: provider key shapes, secret-named assignments, and what is not one.

Two layers. A prefilter (one multi-pattern database: hyperscan when installed, else one
compiled `re` alternation) finds the few lines worth a look in bytes read straight from
disk; the exact rules below then run on those lines only. The rules decide; the prefilter
only has to fire wherever a rule could match.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from execbrief.cache_folder import cache_folder
from execbrief.files import write_atomic
from execbrief.models import Severity

LOCK_FILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "cargo.lock",
        "go.sum",
        "composer.lock",
        "gemfile.lock",
        "packages.lock.json",
        "flake.lock",
    }
)

# Files whose values are often unquoted (`KEY=value`, `key: value`).
_CONFIG_SUFFIXES = frozenset({".env", ".ini", ".cfg", ".conf", ".properties", ".yml", ".yaml"})
_CONFIG_NAMES = frozenset({".env", ".envrc", "dockerfile"})


@dataclass(frozen=True)
class SecretRule:
    id: str
    label: str
    severity: Severity


@dataclass(frozen=True)
class Match:
    """A rule's hit: where the value starts within the scanned chunk, and the raw value."""

    rule: SecretRule
    value: str
    offset: int
    name: str | None = None  # the name a named rule judged the value by


STRIPE_LIVE = SecretRule("stripe_live_secret", "Stripe live secret key", Severity.CRITICAL)
STRIPE_TEST = SecretRule("stripe_test_secret", "Stripe test secret key", Severity.MEDIUM)
STRIPE_RESTRICTED = SecretRule("stripe_restricted_key", "Stripe restricted key", Severity.HIGH)
AWS_KEY_ID = SecretRule("aws_access_key_id", "AWS access key id", Severity.CRITICAL)
AWS_SECRET = SecretRule("aws_secret_access_key", "AWS secret access key", Severity.CRITICAL)
PRIVATE_KEY = SecretRule("private_key", "Private key", Severity.CRITICAL)
SLACK_TOKEN = SecretRule("slack_token", "Slack token", Severity.HIGH)
SLACK_WEBHOOK = SecretRule("slack_webhook", "Slack webhook URL", Severity.MEDIUM)
TWILIO_KEY = SecretRule("twilio_api_key", "Twilio API key", Severity.HIGH)
TWILIO_SID = SecretRule("twilio_account_sid", "Twilio account SID", Severity.LOW)
SENDGRID = SecretRule("sendgrid_api_key", "SendGrid API key", Severity.HIGH)
GOOGLE = SecretRule("google_api_key", "Google API key", Severity.MEDIUM)
GITHUB = SecretRule("github_token", "GitHub token", Severity.HIGH)
JWT_SECRET = SecretRule("jwt_secret", "JWT signing secret", Severity.HIGH)
GENERIC = SecretRule("generic_secret", "High-entropy secret", Severity.HIGH)
OPENAI = SecretRule("openai_api_key", "OpenAI API key", Severity.CRITICAL)
ANTHROPIC = SecretRule("anthropic_api_key", "Anthropic API key", Severity.CRITICAL)
MAILGUN = SecretRule("mailgun_api_key", "Mailgun API key", Severity.HIGH)
NPM = SecretRule("npm_token", "npm access token", Severity.HIGH)
AZURE_STORAGE = SecretRule("azure_storage_key", "Azure storage account key", Severity.CRITICAL)
JWT_TOKEN = SecretRule("jwt", "JSON Web Token", Severity.HIGH)
TWILIO_AUTH = SecretRule("twilio_auth_token", "Twilio auth token", Severity.HIGH)
URL_PASSWORD = SecretRule("url_password", "Password in a connection URL", Severity.HIGH)
PASSWORD = SecretRule("password", "Password", Severity.HIGH)

# (rule, exact pattern, length of the fixed prefix the placeholder test skips)
_PROVIDER: tuple[tuple[SecretRule, re.Pattern[bytes], int], ...] = (
    (STRIPE_LIVE, re.compile(rb"sk_live_[0-9A-Za-z]{10,247}"), 8),
    (STRIPE_TEST, re.compile(rb"sk_test_[0-9A-Za-z]{10,247}"), 8),
    (STRIPE_RESTRICTED, re.compile(rb"rk_(?:live|test)_[0-9A-Za-z]{10,247}"), 8),
    (AWS_KEY_ID, re.compile(rb"(?:AKIA|ASIA)[0-9A-Z]{16}"), 4),
    (SLACK_TOKEN, re.compile(rb"xox[abposr]-[0-9A-Za-z-]{10,250}"), 5),
    (
        SLACK_WEBHOOK,
        re.compile(
            rb"hooks\.slack\.com/services/T[0-9A-Z]{8,12}/B[0-9A-Z]{8,12}/[0-9A-Za-z]{20,32}"
        ),
        27,
    ),
    (TWILIO_KEY, re.compile(rb"SK[0-9a-fA-F]{32}"), 2),
    (TWILIO_SID, re.compile(rb"AC[0-9a-f]{32}"), 2),
    (SENDGRID, re.compile(rb"SG\.[0-9A-Za-z_-]{22}\.[0-9A-Za-z_-]{43}"), 3),
    (GOOGLE, re.compile(rb"AIza[0-9A-Za-z_-]{35}"), 4),
    (GITHUB, re.compile(rb"gh[pousr]_[0-9A-Za-z]{36,255}|github_pat_[0-9A-Za-z_]{60,255}"), 4),
    (OPENAI, re.compile(rb"sk-(?:proj|svcacct|admin)-[0-9A-Za-z_-]{20,250}"), 8),
    # Legacy keys: `T3BlbkFJ` is "OpenAI" in base64, in the middle of every one.
    (OPENAI, re.compile(rb"sk-[0-9A-Za-z]{20}T3BlbkFJ[0-9A-Za-z]{20}"), 3),
    (ANTHROPIC, re.compile(rb"sk-ant-(?:api|admin)[0-9]{2}-[0-9A-Za-z_-]{32,250}"), 13),
    (MAILGUN, re.compile(rb"key-[0-9a-f]{32}"), 4),
    (NPM, re.compile(rb"npm_[0-9A-Za-z]{36}"), 4),
    (AZURE_STORAGE, re.compile(rb"(?<=AccountKey=)[0-9A-Za-z+/]{86}=="), 0),
    (
        JWT_TOKEN,
        re.compile(rb"eyJ[0-9A-Za-z_-]{8,2000}\.eyJ[0-9A-Za-z_-]{8,4000}\.[0-9A-Za-z_-]{8,1000}"),
        3,
    ),
)
_PEM_HEADER = re.compile(rb"-----BEGIN[A-Z ]{0,20}PRIVATE KEY(?: BLOCK)?-----")
# After the header: optional `Proc-Type:`-style lines, then the base64 body. `\\n` covers
# keys embedded in JSON or env strings.
_PEM_BODY = re.compile(rb"(?:\s|\\n)+(?:[A-Za-z-]+: [^\n]*(?:\s|\\n)+)*([A-Za-z0-9+/=]{40,})")
_AWS_SECRET_SHAPE = re.compile(rb"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")

_NAME = rb"(?P<name>[A-Za-z_$@][\w.$-]{0,80})"
_VALUE = rb"(?P<value>[A-Za-z0-9+/=_\-.~!@#%^*]{8,512})"
_ASSIGNMENT = re.compile(
    _NAME
    + rb"""["'\]]{0,2}\s*(?:=>|:=|=|:)\s*(?:[rbuRBU]{1,2})?(?P<q>["'`])"""
    + _VALUE
    + rb"(?P=q)"
)
_UNQUOTED = re.compile(
    rb"(?m)^[ \t]*(?:export[ \t]+)?-?[ \t]*"
    + _NAME
    + rb"[ \t]*[=:][ \t]*"
    + _VALUE
    + rb"[ \t]*\r?$"
)
_ENV_DEFAULT = re.compile(
    rb"""(?:getenv|environ\.get|env\.get|ENV\.fetch)\(\s*["'](?P<name>[\w.-]+)["']\s*,\s*"""
    rb"""["']""" + _VALUE + rb"""["']"""
)
# The key is the second argument; the first may hold one level of (), {} or [].
_JWT_CALL = re.compile(
    rb"""jwt\.(?:encode|decode|sign|verify)\((?:[^,(){}\[\]\n]|\([^()\n]*\)|\{[^{}\n]*\}"""
    rb"""|\[[^\[\]\n]*\])+,\s*["']""" + _VALUE + rb"""["']"""
)

SECRET_NAME = re.compile(
    r"secret|passw|pwd|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key"
    r"|signing[_-]?key|credential|jwt",
    re.IGNORECASE,
)
# In an environment (Lambda variables, env files) a bare `KEY` or `PWD` word or a
# passphrase also names a secret; names that only point at one (an ARN, a parameter name)
# or hold a public value are the safe pattern.
_ENV_SECRET_NAME = re.compile(r"passphrase|(?:^|_)key$|(?:^|_)pwd$", re.IGNORECASE)
_SECRET_REFERENCE = re.compile(
    r"(?:_ARN|_NAME|_ID|_PATH|_PARAM|_PARAMETER|_TTL|_URL|_FILE|_REGION|_EXPIRY|_HEADER)$"
    r"|PUBLISHABLE|PUBLIC",
    re.IGNORECASE,
)
_JWT_NAME = re.compile(r"(jwt|signing|token).*(secret|key)|secret[_-]?key|signing", re.IGNORECASE)
_AWS_SECRET_NAME = re.compile(r"aws.*secret|secret.*access.*key", re.IGNORECASE)
# Names that hold a reference to a secret, not the secret itself.
_NOT_SECRET_NAME = re.compile(
    r"(?:url|uri|path|file|filename|dir|name|id|type|header|endpoint|env|var|arn|field|param"
    r"|prefix|suffix|length|len|count|ttl|expiry|expires|algorithm|alg|version|format|label"
    r"|table|bucket|region|mode|policy|scope|hash|sha)s?$",
    re.IGNORECASE,
)

_PLACEHOLDER = re.compile(
    r"xxxx|example|changeme|change[_-]me|placeholder|your[_-]?(?:api|secret|key|token|own|pass)"
    r"|dummy|redacted|replace|insert|todo|fixme|sample|fake|<|>|\.\.\.|\*\*\*|\$\{|\{\{|%\(|"
    r"process\.env|os\.environ|0123456789|123456|abcdef",
    re.IGNORECASE,
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_INTEGRITY = re.compile(r"sha(?:1|256|384|512)-", re.IGNORECASE)
_WORDY = re.compile(r"[a-z]+(?:[._/-][a-z0-9]+)*|[A-Z]+(?:[._/-][A-Z0-9]+)*|[\d.]+")


@dataclass(frozen=True)
class PrefilterScan:
    """What one prefilter pass over a file found."""

    hits: list[int]  # offsets near which a rule may match
    # Python only: spans where two string literals meet (Python folds them into one
    # constant, which hides a key from line-based rules), and where a call that takes a
    # key (HMAC, JWT, a cipher, a payment client) ends, by offset.
    folds: list[tuple[int, int]]
    key_uses: list[int]


class Prefilter(Protocol):
    name: str

    def scan(self, data: bytes, python: bool, quoted_only: bool = False) -> PrefilterScan:
        """Every candidate in one pass over `data`. With `quoted_only` (always for Python)
        a secret-like name counts only before an operator and an opening quote, as every
        rule but the unquoted `KEY=value` of config files needs."""
        ...

    def hits(self, data: bytes, python: bool) -> tuple[list[int], bool]:
        """Offsets near which a rule may match, and (for Python) whether string literals
        are implicitly concatenated somewhere, which hides a key from line-based rules."""
        ...


_SECRET_WORD = (
    rb"(?:secret|passw|pwd|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key"
    rb"|private[_-]?key|signing[_-]?key|credential|jwt)[\w.$-]{0,40}[\"'\]]{0,2}[ \t]{0,8}"
)
# One prefilter pattern per rule family; each fires wherever its rules could match.
_PREFILTER_PATTERNS: tuple[tuple[bytes, bool], ...] = (
    (rb"[sr]k_(?:live|test)_[0-9A-Za-z]{10}", False),
    (rb"A(?:KIA|SIA)[0-9A-Z]{16}", False),
    (rb"PRIVATE KEY", False),
    (rb"xox[abposr]-", False),
    (rb"hooks\.slack\.com/services/", False),
    (rb"[SA][KC][0-9a-fA-F]{32}", False),
    (rb"SG\.[0-9A-Za-z_-]{22}\.", False),
    (rb"AIza[0-9A-Za-z_-]{35}", False),
    (rb"gh[pousr]_[0-9A-Za-z]{36}|github_pat_", False),
    (rb"jwt\.(?:encode|decode|sign|verify)\(", False),
    (rb"sk-(?:proj|svcacct|admin|ant)-|T3BlbkFJ", False),
    (rb"key-[0-9a-f]{32}", False),
    (rb"npm_[0-9A-Za-z]{36}", False),
    (rb"AccountKey=", False),
    (rb"eyJ[0-9A-Za-z_-]{8}", False),
    (_SECRET_WORD + rb"(?:=|:|,)", True),
)
# The same name before an operator and an opening quote (`=>`, `:=`, `=`, `:` or the
# comma of an env default): what the quoted rules need, far rarer in real code.
_QUOTED_PATTERNS = (
    *_PREFILTER_PATTERNS[:-1],
    (_SECRET_WORD + rb"""(?:=>|:=|=|:|,)\s{0,64}(?:[rbuRBU]{1,2})?["'`]""", True),
)
# Two string literals with only blanks, a newline or a backslash-newline between them,
# the first not a lone blank (`" ".join`). Hyperscan has no lookbehind, so its hits are
# confirmed with _CONCAT_RE in a small window.
_CONCAT = rb"""["'](?:[ \t]+|[ \t]*\\?\r?\n[ \t]*)[rRbBuUfF]{0,2}["']"""
_CONCAT_RE = re.compile(rb"""(?<![\s"'\\])""" + _CONCAT)
_CONCAT_ID = len(_PREFILTER_PATTERNS)


# Calls whose argument is a key whatever its name; `key_use` in the code audit reads them.
_KEY_USE = (
    rb"hmac\.(?:new|HMAC|digest)\(|HMAC\(|jwt\.(?:encode|decode)\(|Fernet\(|AES\.new\("
    rb"|AESGCM\(|ChaCha20Poly1305\(|Signer\(|Serializer\(|stripe\.(?:api_key|StripeClient)"
)
_KEY_USE_RE = re.compile(_KEY_USE)
_KEY_USE_ID = _CONCAT_ID + 1


def join_literals(chunk: bytes) -> bytes:
    """The chunk with adjacent string literals joined, the way Python folds them."""
    return _CONCAT_RE.sub(b"", chunk)


class _HyperscanPrefilter:
    name = "hyperscan"

    def __init__(self) -> None:
        import hyperscan

        self._text = self._compile(hyperscan, _PREFILTER_PATTERNS)
        self._quoted = self._compile(hyperscan, _QUOTED_PATTERNS)
        self._python = self._compile(
            hyperscan, (*_QUOTED_PATTERNS, (_CONCAT, False), (_KEY_USE, False))
        )
        # A database owns one scratch space, which two threads must not scan with at once.
        self._lock = threading.Lock()
        # A process forked while another thread scans must not inherit the lock held.
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._new_lock)

    def _new_lock(self) -> None:
        self._lock = threading.Lock()

    @staticmethod
    def _compile(hyperscan: Any, patterns: tuple[tuple[bytes, bool], ...]) -> Any:
        """The patterns' database, from the rules cache when this exact set was compiled
        before: compiling the three takes 0.1-0.2 s, a tenth of a large repository's
        scan, and loading one a few microseconds (Kingfisher keeps a rule cache too)."""
        key = hashlib.sha256(repr((hyperscan.__version__, patterns)).encode()).hexdigest()
        stored = cache_folder("rules") / f"hyperscan-{key[:32]}.db"
        with contextlib.suppress(OSError, hyperscan.error):
            db = hyperscan.loadb(stored.read_bytes(), hyperscan.HS_MODE_BLOCK)
            db.scratch = hyperscan.Scratch(db)  # a loaded database comes without one
            return db
        db = hyperscan.Database()
        db.compile(
            expressions=[pattern for pattern, _ in patterns],
            ids=list(range(len(patterns))),
            elements=len(patterns),
            flags=[hyperscan.HS_FLAG_CASELESS if caseless else 0 for _, caseless in patterns],
        )
        with contextlib.suppress(OSError):  # a read-only home only loses the time
            write_atomic(stored, hyperscan.dumpb(db))
        return db

    def scan(self, data: bytes, python: bool, quoted_only: bool = False) -> PrefilterScan:
        found: list[int] = []
        concat: list[int] = []
        key_use: list[int] = []

        def on_match(pattern_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            if pattern_id == _CONCAT_ID:
                concat.append(end)
            elif pattern_id == _KEY_USE_ID:
                key_use.append(end)
            else:
                found.append(end - 1)

        with self._lock:
            db = self._python if python else self._quoted if quoted_only else self._text
            db.scan(data, match_event_handler=on_match)
        folds: list[tuple[int, int]] = []
        for end in concat:
            # Hyperscan has no lookbehind: confirm each candidate with the full pattern.
            for m in _CONCAT_RE.finditer(data, max(0, end - 40), end):
                if m.end() == end and (not folds or m.start() >= folds[-1][1]):
                    folds.append(m.span())
        return PrefilterScan(found, folds, key_use)

    def hits(self, data: bytes, python: bool) -> tuple[list[int], bool]:
        result = self.scan(data, python)
        return result.hits, bool(result.folds)


# What `_RePrefilter` looks for before it runs the alternation: a file can match a
# prefilter pattern only if it holds one of these (keywords compared in lower case) or
# the Twilio shape. `bytes.__contains__` is far faster than `re` on an alternation.
_GATE_LITERALS = (
    b"k_live_",
    b"k_test_",
    b"AKIA",
    b"ASIA",
    b"PRIVATE KEY",
    b"xox",
    b"hooks.slack.com/services/",
    b"SG.",
    b"AIza",
    b"ghp_",
    b"gho_",
    b"ghu_",
    b"ghs_",
    b"ghr_",
    b"github_pat_",
    b"sk-proj-",
    b"sk-svcacct-",
    b"sk-admin-",
    b"sk-ant-",
    b"T3BlbkFJ",
    b"key-",
    b"npm_",
    b"AccountKey=",
    b"eyJ",
)
_GATE_KEYWORDS = (
    b"secret",
    b"passw",
    b"pwd",
    b"token",
    b"credential",
    b"jwt",
    *(
        (stem + sep + "key").encode()
        for stem in ("api", "access", "auth", "private", "signing")
        for sep in ("_", "-", "")
    ),
)
_GATE_TWILIO = re.compile(rb"[SA][KC][0-9a-fA-F]{32}")


class _RePrefilter:
    name = "re"

    def __init__(self) -> None:
        self._pattern = self._alternation(_PREFILTER_PATTERNS)
        self._quoted = self._alternation(_QUOTED_PATTERNS)

    @staticmethod
    def _alternation(patterns: tuple[tuple[bytes, bool], ...]) -> re.Pattern[bytes]:
        parts = [
            b"(?i:" + pattern + b")" if caseless else pattern for pattern, caseless in patterns
        ]
        return re.compile(b"|".join(parts))

    def scan(self, data: bytes, python: bool, quoted_only: bool = False) -> PrefilterScan:
        folds = [m.span() for m in _CONCAT_RE.finditer(data)] if python else []
        key_use = [m.end() for m in _KEY_USE_RE.finditer(data)] if python else []
        if not self._may_match(data):
            return PrefilterScan([], folds, key_use)
        pattern = self._quoted if python or quoted_only else self._pattern
        return PrefilterScan([m.end() - 1 for m in pattern.finditer(data)], folds, key_use)

    def hits(self, data: bytes, python: bool) -> tuple[list[int], bool]:
        result = self.scan(data, python)
        return result.hits, bool(result.folds)

    @staticmethod
    def _may_match(data: bytes) -> bool:
        if any(literal in data for literal in _GATE_LITERALS):
            return True
        lowered = data.lower()
        if any(keyword in lowered for keyword in _GATE_KEYWORDS):
            return True
        return _GATE_TWILIO.search(data) is not None


@cache
def prefilter(engine: str = "auto") -> Prefilter:
    """The fastest prefilter available: hyperscan when importable, else Python's `re`."""
    if engine == "hyperscan":
        return _HyperscanPrefilter()
    if engine == "auto":
        try:
            return _HyperscanPrefilter()
        except Exception:
            # An accelerator missing or unable to start on this CPU must not stop the
            # audit; the re prefilter finds the same lines, only slower.
            return _RePrefilter()
    return _RePrefilter()


def is_lock_file(rel: str) -> bool:
    return rel.rpartition("/")[2].lower() in LOCK_FILES


def is_config_file(rel: str) -> bool:
    # String slicing, not PurePosixPath: this runs for every file and every history hit.
    name = rel.rpartition("/")[2].lower()
    return suffix_of(name) in _CONFIG_SUFFIXES or name in _CONFIG_NAMES or ".env" in name


def suffix_of(name: str) -> str:
    """`PurePosixPath(name).suffix`, lower-cased, for a bare file name."""
    dot = name.rfind(".")
    return name[dot:].lower() if 0 < dot < len(name) - 1 else ""


def match_line(line: bytes, unquoted: bool) -> Iterator[Match]:
    """Every rule match in one line (or window) of text; PEM bodies need `match_pem`."""
    yield from match_providers(line)
    patterns = (_ASSIGNMENT, _ENV_DEFAULT, _UNQUOTED) if unquoted else (_ASSIGNMENT, _ENV_DEFAULT)
    for pattern in patterns:
        for m in pattern.finditer(line):
            name = m.group("name").decode()
            named = classify_assignment(name, m.group("value").decode())
            if named is not None:
                yield Match(named, m.group("value").decode(), m.start("value"), name)
    for m in _JWT_CALL.finditer(line):
        value = m.group("value").decode()
        if _weak_secret_ok(value):
            yield Match(JWT_SECRET, value, m.start("value"))


def match_providers(line: bytes) -> Iterator[Match]:
    """The provider key shapes (`sk_live_...`, `AKIA...`) in a line or window of text."""
    for rule, pattern, prefix in _PROVIDER:
        for m in pattern.finditer(line):
            if _bounded(line, m.start(), m.end()) and _provider_ok(m.group(), prefix):
                yield Match(rule, m.group().decode(), m.start())


def match_aws_secret_near(chunk: bytes) -> Iterator[Match]:
    """A 40-character secret access key beside an access key id (e.g. a credentials CSV)."""
    for m in _AWS_SECRET_SHAPE.finditer(chunk):
        value = m.group().decode()
        if not _HEX40.fullmatch(value) and _entropy(value) >= 4.0 and _classes(value) >= 3:
            yield Match(AWS_SECRET, value, m.start())


def match_pem(data: bytes, start: int, end: int) -> Iterator[Match]:
    """Private-key headers between `start` and `end`, each with a real base64 body after it."""
    for m in _PEM_HEADER.finditer(data, start, end):
        body = _PEM_BODY.match(data, m.end(), m.end() + 600)
        if body is not None and not _PLACEHOLDER.search(body.group(1).decode()):
            yield Match(PRIVATE_KEY, body.group(1)[:64].decode(), m.start())


def is_secret_name(name: str) -> bool:
    """Whether a variable's name says its value is a secret (not a reference to one)."""
    named = SECRET_NAME.search(name) or _ENV_SECRET_NAME.search(name)
    return bool(named) and not _SECRET_REFERENCE.search(name)


def classify_assignment(name: str, value: str) -> SecretRule | None:
    """The rule a `name = "value"` pair breaks, if any."""
    if not SECRET_NAME.search(name):
        return None
    if _AWS_SECRET_NAME.search(name) and len(value) == 40 and _high_entropy(value):
        return AWS_SECRET
    if _TWILIO_NAME.search(name) and _HEX32.fullmatch(value) and _weak_secret_ok(value):
        return TWILIO_AUTH
    if _JWT_NAME.search(name) and not _NOT_SECRET_NAME.search(name) and _weak_secret_ok(value):
        return JWT_SECRET
    if not _NOT_SECRET_NAME.search(name) and _high_entropy(value):
        return GENERIC
    return None


def _bounded(line: bytes, start: int, end: int) -> bool:
    """The match is a whole token, not the middle of a longer identifier."""
    before = line[start - 1 : start]
    after = line[end : end + 1]
    return not (before.isalnum() or before == b"_") and not after.isalnum()


def _provider_ok(token: bytes, prefix: int) -> bool:
    rest = token[prefix:].decode()
    return len(set(rest)) >= 6 and not _PLACEHOLDER.search(rest)


def _not_a_reference(value: str) -> bool:
    return not (
        _PLACEHOLDER.search(value)
        or _UUID.fullmatch(value)
        or _HEX40.fullmatch(value)
        or _INTEGRITY.match(value)
    )


def _weak_secret_ok(value: str) -> bool:
    """A signing secret is a finding even when weak, as long as it is not a placeholder."""
    return len(set(value)) >= 5 and _not_a_reference(value)


def _high_entropy(value: str) -> bool:
    if len(value) < 12 or not _not_a_reference(value) or _WORDY.fullmatch(value):
        return False
    if _classes(value) < 2:
        return False
    threshold = 3.0 if any(c.isdigit() for c in value) else 3.5
    return _entropy(value) >= threshold


def _classes(value: str) -> int:
    return sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
        )
    )


def _entropy(value: str) -> float:
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


# Shapes found in free text (notes, memos, AWS values, gap text) that have no literal a
# prefilter could key on, so the code audit's prefiltered file scan does not run them.
_TWILIO_NAME = re.compile(r"twilio.*(?:auth|token|secret)", re.IGNORECASE)
_HEX32 = re.compile(r"[0-9a-f]{32}")
_SHAPES_IN_TEXT: tuple[tuple[SecretRule, re.Pattern[bytes]], ...] = (
    (MAILGUN, re.compile(rb"(?<![0-9A-Za-z])[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}(?![0-9A-Za-z])")),
    (AZURE_STORAGE, re.compile(rb"(?<![0-9A-Za-z+/])[0-9A-Za-z+/]{86}==(?![0-9A-Za-z+/=])")),
)
_TWILIO_AUTH_IN_TEXT = re.compile(
    rb"(?i:twilio[\w .-]{0,20}?(?:auth[_ -]?token|secret))[`'\"\]]{0,2}[ \t]*[:=]?[ \t]*"
    rb"[`'\"]?(?P<value>[0-9a-f]{32})(?![0-9A-Za-z])"
)
# `scheme://user:password@host`; the password is the value.
_URL_CREDENTIALS = re.compile(
    rb"[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@'\"`<>]{1,64}:(?P<value>[^\s@/'\"`<>]{3,128})@"
    rb"[A-Za-z0-9\[]"
)
# `password=hunter22`, `pwd: ...` in prose or a query string, where no quote bounds it.
_PASSWORD_VALUE = re.compile(
    rb"(?i:(?<![A-Za-z])(?:password|passwd|passphrase|pwd))[`'\"\]]{0,2}[ \t]*[=:][ \t]*"
    rb"[`'\"]?(?P<value>[^\s`'\"&;,<>]{6,128})"
)
# A key name in prose: `api_key: abc...`, `the token=abc...` (value unquoted, any line).
_INLINE_ASSIGNMENT = re.compile(_NAME + rb"[`'\"\]]{0,2}[ \t]*(?:=>|:=|=|:)[ \t]*[`'\"]?" + _VALUE)
_NOT_A_PASSWORD = frozenset({"password", "passwd", "secret", "changeit", "required", "optional"})


def match_text(text: bytes) -> Iterator[Match]:
    """Every catalogue match in free text (several lines at once): the provider shapes and
    assignments `match_line` knows, PEM blocks, and the shapes only free text needs."""
    yield from match_providers(text)
    yield from match_pem(text, 0, len(text))
    for rule, pattern in _SHAPES_IN_TEXT:
        for m in pattern.finditer(text):
            if _shape_ok(m.group()):
                yield Match(rule, m.group().decode(), m.start())
    if b"://" in text:
        for m in _URL_CREDENTIALS.finditer(text):
            value = m.group("value").decode()
            if _password_ok(value):
                yield Match(URL_PASSWORD, value, m.start("value"))
    # A rule keyed on a name runs only on the lines (and the line after, for a value
    # wrapped after `=`) that hold a secret-like word: prose is mostly words and colons.
    for base, window in _windows(text, _NAMED_WORDS):
        for hit in _match_named(window):
            yield Match(hit.rule, hit.value, base + hit.offset)
    for base, window in _windows(text, _AWS_WORDS):
        for hit in match_aws_secret_near(window):
            yield Match(hit.rule, hit.value, base + hit.offset)


# Words (lower case) a line needs before a rule keyed on a name can match in it.
_NAMED_WORDS = (
    b"secret",
    b"passw",
    b"passphrase",
    b"pwd",
    b"token",
    b"credential",
    b"jwt",
    b"twilio",
    *(
        (stem + sep + "key").encode()
        for stem in ("api", "access", "auth", "private", "signing")
        for sep in ("_", "-", "")
    ),
)
_AWS_WORDS = (b"akia", b"asia", b"aws", b"secret")


def _windows(text: bytes, words: tuple[bytes, ...]) -> Iterator[tuple[int, bytes]]:
    """(offset, text) of each line holding one of `words` (any case), with the line after
    it. `bytes.find` per word is far faster than `re` on an alternation."""
    lowered = text.lower()
    found: list[int] = []
    for word in words:
        at = lowered.find(word)
        while at != -1:
            found.append(at)
            at = lowered.find(word, at + len(word))
    end = 0
    for at in sorted(found):
        if at < end:
            continue  # within the window already given
        start = text.rfind(b"\n", 0, at) + 1
        first = text.find(b"\n", at)
        second = text.find(b"\n", first + 1) if first != -1 else -1
        end = len(text) if second == -1 else second
        yield start, text[start:end]


def _match_named(window: bytes) -> Iterator[Match]:
    yield from match_line(window, unquoted=True)
    for m in _TWILIO_AUTH_IN_TEXT.finditer(window):
        if _shape_ok(m.group("value")):
            yield Match(TWILIO_AUTH, m.group("value").decode(), m.start("value"))
    for m in _PASSWORD_VALUE.finditer(window):
        value = m.group("value").decode().rstrip(".")
        if _password_ok(value) and not _WORDY.fullmatch(value):
            yield Match(PASSWORD, value, m.start("value"))
    # Searched, not iterated: in `note: api_key: abc...` the first try takes `api_key` as
    # the value of `note`, and the real pair starts inside that match.
    pair = _INLINE_ASSIGNMENT.search(window)
    while pair is not None:
        value = pair.group("value").decode().rstrip(".")
        named = classify_assignment(pair.group("name").decode(), value)
        if named is not None:
            yield Match(named, value, pair.start("value"))
            pair = _INLINE_ASSIGNMENT.search(window, pair.end())
        else:
            pair = _INLINE_ASSIGNMENT.search(window, pair.start("value"))


def _shape_ok(value: bytes) -> bool:
    return len(set(value)) >= 6 and not _PLACEHOLDER.search(value.decode())


def _password_ok(value: str) -> bool:
    return (
        value.lower() not in _NOT_A_PASSWORD
        and len(set(value)) >= 4
        and _not_a_reference(value)
        and not set(value) <= set("*x.")
    )


# A PEM hit's value is the start of its body; the whole block is what must be masked.
_PEM_END = re.compile(rb"-----END[A-Z ]{0,20}PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY_RUN = re.compile(rb"(?:[A-Za-z0-9+/=\s]|\\n|[A-Za-z-]+: )*")


def secret_spans(text: bytes) -> list[tuple[SecretRule, int, int]]:
    """Where secrets sit in `text`: (rule, start, end) in byte offsets, in order, never
    overlapping; a value two rules match counts for the first (the most specific)."""
    spans: list[tuple[SecretRule, int, int]] = []
    for match in match_text(text):
        start = match.offset
        if match.rule is PRIVATE_KEY:
            end = _pem_end(text, start)
        else:
            end = start + len(match.value.encode())
        if not any(start < e and s < end for _, s, e in spans):
            spans.append((match.rule, start, end))
    return sorted(spans, key=lambda span: span[1])


def _pem_end(data: bytes, start: int) -> int:
    """The end of the PEM block whose header starts at `start`."""
    end = _PEM_END.search(data, start, start + 20000)
    if end is not None:
        return end.end()
    header = _PEM_HEADER.match(data, start)
    after = header.end() if header else start
    run = _PEM_BODY_RUN.match(data, after)
    return run.end() if run else after
