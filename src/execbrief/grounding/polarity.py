"""Facts that state a condition, and claims that assert its opposite.

Some fact kinds say that something is absent (no WAF, no point-in-time recovery, no auth
check, no tests) and some that something is present (a public bucket, a key in code or
in history, an account in the SES sandbox). `CONDITIONS` is that catalogue: per kind, the
words naming the thing, whether the fact says it is absent, and the words that by
themselves assert the opposite ("private" for a public bucket). A net burn or a net
inflow is a condition too, read from the sign of any fact's `burn_monthly_usd` (a burn,
a runway, an analysis).

`contradictions` reads one sentence against the facts it cites. A sentence that names the
thing with no negation near it ("sits behind a WAF") contradicts an absent-fact; one
that negates it or uses an opposite word ("the bucket is private") contradicts a
present-fact. Prescriptions are not assertions: a sentence that starts with an
imperative ("Attach a WAF") or puts a modal before the thing ("should sit behind a WAF",
"once the key is rotated") states no current condition and is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from execbrief.models import Fact

__all__ = ["CONDITIONS", "Condition", "Contradiction", "contradictions", "net_burn"]


@dataclass(frozen=True)
class Condition:
    """What a kind of fact states, and how a sentence names it."""

    states: str  # what the fact says, for the warning
    topic: re.Pattern[str]
    absent: bool  # the fact says the thing is missing
    opposite: re.Pattern[str] | None = None
    applies: Callable[[Fact], bool] | None = None


@dataclass(frozen=True)
class Contradiction:
    fact: Fact
    condition: Condition
    text: str


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _none_found(fact: Fact) -> bool:
    return fact.metrics.get("count", 0) == 0


_AUTH = _words(
    r"\b(?:authenticat\w*|authoriz\w*|authoris\w*|auth(?: check)?|login|token check"
    r"|signed requests?|IAM auth|API keys? required)\b"
    r"|\b(?:checks?|verif(?:y|ies)|validates?|requires?) (?:a |an |the )?(?:\w+ )?"
    r"(?:token|secret|signature|API key|password)s?\b"
)
_KEYS = _words(
    r"\b(?:(?:hard[- ]?coded|live|stripe|api|secret)\s+)*(?:keys?|secrets?|credentials?)\b"
)
_KEY_GONE = _words(
    r"\b(?:kept|stored|held|lives?|sits?|moved) in (?:a |the )?(?:secrets? (?:store|manager)"
    r"|Secrets Manager|SSM|Parameter Store|vault)\b|\b(?:was|were|has been|have been|is|are)"
    r" (?:already )?(?:rotated|removed|revoked|scrubbed|purged)\b|\bfree of (?:keys|secrets)\b"
)

CONDITIONS: dict[str, Condition] = {
    "aws.cloudfront.no_waf": Condition(
        "has no WAF web ACL", _words(r"\bWAF\b|\bweb ACL\b|\bweb application firewall\b"), True
    ),
    "aws.dynamodb.no_pitr": Condition(
        "has no point-in-time recovery",
        _words(r"\bPITR\b|\bpoint[- ]in[- ]time (?:recovery|restore|backups?)|continuous backups?"),
        True,
    ),
    "aws.s3.no_versioning": Condition("has no versioning", _words(r"\bversion(?:ing|ed)\b"), True),
    "aws.s3.no_lifecycle": Condition(
        "has no lifecycle rules", _words(r"\blifecycle (?:rules?|polic(?:y|ies))\b"), True
    ),
    "aws.apigw.no_throttle": Condition(
        "has no throttling", _words(r"\bthrottl\w*|\brate[- ]limit\w*"), True
    ),
    "aws.apigw.route_no_auth": Condition("has no authorizer", _AUTH, True),
    "aws.lambda.url_no_auth": Condition("has a public function URL (AuthType NONE)", _AUTH, True),
    "auth.endpoint_unauthenticated": Condition("has no auth check", _AUTH, True),
    "auth.jwt_no_expiry": Condition(
        "issues or accepts tokens without expiry",
        _words(
            r"\b(?:tokens?|sessions?|JWTs?)\s+(?:\w+\s+)?expire\b"
            r"|\bexpir(?:y|ation) (?:is )?(?:set|enforced|checked|verified)\b"
            r"|\bexp claim (?:is )?(?:set|checked|verified)\b"
        ),
        True,
    ),
    "repo.tests": Condition(
        "has no tests",
        _words(r"\b(?:unit |integration )?tests?\b|\btest (?:suite|coverage)\b"),
        True,
        applies=_none_found,
    ),
    "repo.ci": Condition(
        "has no CI configuration",
        _words(r"\bCI\b|\bcontinuous integration\b|\bGitHub Actions\b"),
        True,
        applies=_none_found,
    ),
    "repo.iac": Condition(
        "has no infrastructure as code",
        _words(r"\binfrastructure as code\b|\bIaC\b|\bTerraform\b|\bCloudFormation\b|\bCDK\b"),
        True,
        applies=_none_found,
    ),
    "aws.s3.public": Condition(
        "is public",
        _words(r"\bpublic(?:ly)?\b"),
        False,
        _words(
            r"\bprivate\b|\bblock(?:s|ed)? (?:all )?public access\b|\bpublic access block\b"
            r"|\blocked down\b"
        ),
    ),
    "secret.hardcoded": Condition("has a secret in the code", _KEYS, False, _KEY_GONE),
    "secret.in_history": Condition(
        "has a secret in git history",
        _KEYS,
        False,
        _words(rf"{_KEY_GONE.pattern}|\bclean (?:git )?history\b|\bhistory is clean\b"),
    ),
    "aws.lambda.secret_env_name": Condition(
        "keeps a secret in an environment variable", _KEYS, False, _KEY_GONE
    ),
    "repo.env_file_tracked": Condition(
        "has an env file in the repository",
        _words(r"\b(?:env|\.env) files?\b"),
        False,
        _words(r"\bgit-?ignored\b|\bignored by git\b|\bnot (?:tracked|committed)\b"),
    ),
    "aws.ses.sandbox": Condition(
        "is in the SES sandbox",
        _words(r"\bsandbox(?:ed)?\b"),
        False,
        _words(r"\bout of (?:the )?sandbox\b|\bhas production access\b|\bleft the sandbox\b"),
        applies=lambda fact: fact.severity.value != "info",
    ),
    "http.cors_wildcard": Condition(
        "allows any origin (CORS *)",
        _words(r"\bCORS\b|\bany origin\b"),
        False,
        _words(
            r"\bCORS (?:is )?(?:restricted|locked down|limited|scoped)\b|\ballow-?listed origins?\b"
        ),
    ),
    "aws.lambda.deprecated_runtime": Condition(
        "runs on a deprecated runtime",
        _words(r"\bdeprecated\b|\bend[- ]of[- ]life\b|\bEOL\b"),
        False,
        _words(r"\b(?:a |the )?(?:supported|current|up[- ]to[- ]date|latest) runtime\b"),
    ),
}

_BURNING = _words(
    r"\b(?:profitable|cash[- ]positive|net inflow|no net burn|self[- ]funding|pays for itself"
    r"|in the black|mak(?:es|ing) money|net positive)\b"
)
_EARNING = _words(
    r"\b(?:burning cash|burns cash|burning money|los(?:es|ing) money|cash[- ]negative|in the red"
    r"|unprofitable|net burn of|money[- ]losing|net negative)\b"
)

_NEGATION = _words(
    r"\b(?:no|not|never|without|lacks?|lacking|missing|absent|none|zero|neither|nor|nothing"
    r"|cannot|free of|unprotected|disabled)\b|n't\b"
)
_NEGATED_AFTER = _words(
    r"^\W{0,3}(?:\w+\s+){0,2}?(?:is |are |was |were |stays? |remains? )?(?:still )?"
    r"(?:missing|absent|disabled|off|lacking|not\b|none\b)"
)
_MODAL = _words(
    r"\b(?:should|must|need(?:s|ed)? to|will|would|could|plan(?:s|ned)? to|recommend\w*"
    r"|propos\w*|until|once|after|before|if|unless|whether|want(?:s|ed)? to|to (?:be )?"
    r"(?:put|add|attach|enable|turn|place|set|create|configure|deploy|move|get|require"
    r"|request|apply|block|switch|front|protect|rotate|remove|make))\b"
)
_IMPERATIVE = _words(
    r"^\W*(?:add|attach|enable|turn|put|place|set|create|configure|deploy|move|rotate"
    r"|restrict|require|request|apply|block|make|switch|introduce|adopt|migrate|upgrade"
    r"|remove|purge|scrub|write|install|wire|front|protect|lock|close|fix|get|start"
    r"|schedule|ship|implement|replace|review|audit|plan|route|gate|back up|stand up|turn on"
    r"|ask|decide|budget|keep|check|verify|document|retire|delete|consider|prioriti[sz]e)\b"
)
_CLAUSE = re.compile(r"[;:.!?\n]\s|\s[—–-]\s|,\s(?:but|while|whereas|and)\s|\bwhile\b|\bwhereas\b")


def _clause_before(sentence: str, start: int) -> str:
    head = sentence[:start]
    cuts = list(_CLAUSE.finditer(head))
    return head[cuts[-1].end() :] if cuts else head


def _prescriptive(sentence: str, start: int) -> bool:
    return bool(_IMPERATIVE.match(sentence) or _MODAL.search(_clause_before(sentence, start)))


def _negated(sentence: str, match: re.Match[str]) -> bool:
    before = _clause_before(sentence, match.start())
    return bool(_NEGATION.search(before) or _NEGATED_AFTER.match(sentence[match.end() :]))


def _asserts_present(sentence: str, topic: re.Pattern[str]) -> re.Match[str] | None:
    for match in topic.finditer(sentence):
        if not _negated(sentence, match) and not _prescriptive(sentence, match.start()):
            return match
    return None


def _asserts_absent(sentence: str, condition: Condition) -> re.Match[str] | None:
    if condition.opposite is not None:
        for match in condition.opposite.finditer(sentence):
            if not _prescriptive(sentence, match.start()) and not _negated(sentence, match):
                return match
    for match in condition.topic.finditer(sentence):
        if _negated(sentence, match) and not _prescriptive(sentence, match.start()):
            return match
    return None


_NET_BURN = re.compile(r"^(?:net_)?burn(?:_monthly)?(?:_usd)?$")


def net_burn(fact: Fact) -> float | None:
    """The net burn a fact states, whatever its kind (a burn, a runway, an analysis)."""
    for name, value in fact.metrics.items():
        if _NET_BURN.match(name) and value != 0:
            return value
    return None


def _burn_contradiction(sentence: str, fact: Fact, names: list[str]) -> re.Match[str] | None:
    burn = net_burn(fact)
    if burn is None:
        return None
    pattern = _BURNING if burn > 0 else _EARNING
    for clause in _clauses(sentence) if names else [sentence]:
        if names and not any(name.lower() in clause.lower() for name in names):
            continue
        match = pattern.search(clause)
        if match is not None and not _prescriptive(clause, match.start()):
            return match
    return None


def _clauses(sentence: str) -> list[str]:
    """A sentence cut where it turns to another subject ("..., while the rental ...")."""
    return [part for part in _CLAUSE.split(sentence) if part and part.strip()]


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[`*_]", "", text).lower().split()).rstrip(".")


def contradictions(
    sentence: str, facts: Iterable[Fact], names: Callable[[Fact], list[str]]
) -> list[Contradiction]:
    """What the sentence asserts against the conditions its cited facts state. `names`
    gives the words that name a fact's entity, so a burn fact is only held against a
    sentence about its own entity when several burn facts are cited."""
    cited = list(facts)
    burns = [fact for fact in cited if net_burn(fact) is not None]
    found: list[Contradiction] = []
    said = _plain(sentence)
    for fact in cited:
        if said and said in _plain(f"{fact.title} {fact.detail}"):
            continue  # the sentence quotes the fact itself
        burn = net_burn(fact)
        if burn is not None:
            entities = {f.entity for f in burns}
            match = _burn_contradiction(sentence, fact, names(fact) if len(entities) > 1 else [])
            if match:
                state = "is burning cash" if burn > 0 else "has a net inflow (no net burn)"
                found.append(Contradiction(fact, Condition(state, _BURNING, False), match[0]))
            continue
        condition = CONDITIONS.get(fact.kind)
        if condition is None or (condition.applies and not condition.applies(fact)):
            continue
        if condition.absent:
            match = _asserts_present(sentence, condition.topic)
        else:
            match = _asserts_absent(sentence, condition)
        if match:
            found.append(Contradiction(fact, condition, match[0]))
    return found
