"""Shortfalls: facts that describe one problem merged into one, business blockers from the
handoff notes ranked with security exposures, each with its entity."""

from __future__ import annotations

from dataclasses import dataclass, field

from execbrief.models import Bundle, Fact, Severity, normalise_claim

from .common import COUNT, derived, entity_names, of_kind

REVENUE_TAGS = {
    "pipeline",
    "marketing",
    "sales",
    "financials",
    "user_funnel",
    "billing_gaps",
    "collection_risk",
    "bookings",
    "local_search",
    "funnel",
}
"""Sections of a note whose blockers stop money coming in."""
ZERO_WORDS = ("listings", "leads", "proposals", "qualified", "bookings", "sends", "signed")
"""A note's table metric at 0 with one of these words is a shortfall (an empty pipeline)."""
SECURITY_FAMILIES = ("secret", "auth", "http", "code", "repo.env", "aws.")
PROVIDERS = ("stripe", "jwt", "google", "aws", "slack", "twilio", "sendgrid", "github")

TIER_LABEL = {
    0: "live security exposure",
    1: "stops money coming in",
    2: "security exposure",
    3: "business risk",
    4: "slows growth",
}


@dataclass
class Problem:
    key: tuple[str, ...]
    entity: str | None
    facts: list[Fact] = field(default_factory=list)
    summary: str = ""
    zero_metric: tuple[str, float] | None = None

    @property
    def severity(self) -> Severity:
        return min((f.severity for f in self.facts), key=lambda s: s.rank)

    @property
    def tier(self) -> int:
        kinds = {f.kind for f in self.facts}
        tags = {t for f in self.facts for t in f.tags}
        security = any(k.startswith(SECURITY_FAMILIES) for k in kinds)
        if security and self.severity is Severity.CRITICAL:
            return 0
        if self.zero_metric or ("handoff.blocker" in kinds and tags & REVENUE_TAGS):
            return 1
        if security and self.severity.rank <= Severity.HIGH.rank:
            return 2
        if kinds & {"handoff.blocker", "handoff.risk"}:
            return 3
        return 4


def _provider(fact: Fact) -> str:
    text = f"{fact.title} {' '.join(fact.tags)}".casefold()
    return next((p for p in PROVIDERS if p in text), fact.id)


def _problem_key(fact: Fact) -> tuple[str, ...]:
    """Facts with one key are one problem: one key leaked in several places, one file's
    unauthenticated routes, one hygiene gap across buckets."""
    entity = fact.entity or ""
    if fact.kind.startswith("secret.") or fact.kind in (
        "aws.lambda.secret_env_name",
        "repo.env_file_tracked",
    ):
        return ("secret", entity, _provider(fact))
    if fact.kind.startswith("auth.") or fact.kind.startswith("http."):
        return (fact.kind, entity, fact.source.resource or "", fact.source.path or "")
    if fact.kind.startswith("handoff."):
        claim = normalise_claim(fact.title)
        words = set(claim.split())
        provider = next((p for p in PROVIDERS if p in claim), None)
        if provider and words & {"key", "keys", "secret", "secrets", "rotation"}:
            return ("secret", entity, provider)  # a note about a leaked key is that key
        return ("claim", entity, claim)
    return (fact.kind, entity)


def _wanted(fact: Fact) -> bool:
    if fact.kind in ("handoff.blocker", "handoff.risk"):
        return True
    if fact.kind.startswith(("handoff.", "finance.", "analysis.")):
        return False
    return fact.severity.rank <= Severity.MEDIUM.rank


def _zero_metrics(bundle: Bundle) -> list[Problem]:
    problems = []
    for fact in of_kind(bundle, "handoff.section"):
        if not set(fact.tags) & REVENUE_TAGS:
            continue
        zeros = [
            (name, value)
            for name, value in sorted(fact.metrics.items())
            if value == 0 and any(w in name for w in ZERO_WORDS) and not name.endswith("_usd")
        ]
        if zeros:
            name, value = zeros[0]
            problem = Problem(
                ("zero", fact.entity or "", fact.id), fact.entity, [fact], zero_metric=(name, value)
            )
            what = ", ".join(n.removesuffix("_count").replace("_", " ") for n, _ in zeros)
            where = f"{fact.source.path} § {fact.source.section}"
            problem.summary = f"{fact.source.section} at zero: {what} ({where})"
            problems.append(problem)
    return problems


def _summary(problem: Problem) -> str:
    if problem.summary:
        return problem.summary
    first = problem.facts[0]
    if len(problem.facts) == 1:
        return first.title
    if problem.key[0] == "secret":
        seen = [f for f in problem.facts if not f.kind.startswith("handoff.")]
        noted = len(problem.facts) - len(seen)
        where = sorted({_place(f) for f in seen})
        text = f"{problem.key[2].capitalize()} secrets readable in {len(where)} places: "
        text += "; ".join(where)
        return text + (f" (the notes say so {noted} times)" if noted else "")
    return f"{first.title} (and {len(problem.facts) - 1} more alike)"


def _place(fact: Fact) -> str:
    """Where a leaked secret sits, short: a file and line, or a resource's own name."""
    if fact.source.path:
        return fact.source.label().split(" § ")[0]
    resource = (fact.source.resource or "").rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    section = f" {fact.source.section}" if fact.source.section else ""
    return f"{resource}{section}"


def shortfalls(bundle: Bundle) -> list[Fact]:
    """Every problem once, ranked: live exposures, then what stops revenue, then the rest."""
    names = entity_names(bundle)
    grouped: dict[tuple[str, ...], Problem] = {}
    for fact in bundle.facts:
        if _wanted(fact):
            key = _problem_key(fact)
            grouped.setdefault(key, Problem(key, fact.entity)).facts.append(fact)
    problems = list(grouped.values()) + _zero_metrics(bundle)
    problems.sort(key=lambda p: (p.tier, p.severity.rank, -len(p.facts), _summary(p)))
    out = []
    for rank, problem in enumerate(problems, start=1):
        severity = Severity.HIGH if problem.zero_metric else problem.severity
        label = names[problem.entity] if problem.entity else "Portfolio"
        ids = [f.id for f in problem.facts]
        out.append(
            derived(
                bundle,
                "analysis.shortfall",
                "shortfall " + " ".join(problem.key),
                entity=problem.entity,
                title=f"{label}: {_summary(problem)}",
                detail=(
                    f"Rank {rank}: {TIER_LABEL[problem.tier]} ({severity.value}). "
                    f"Ranked by tier (live exposure, revenue, security, business risk, growth), "
                    f"then severity. Merges {len(ids)} fact(s): {', '.join(ids)}."
                ),
                inputs=ids,
                metrics={
                    "rank": (rank, COUNT),
                    "tier": (problem.tier, COUNT),
                    "facts": (len(ids), COUNT),
                },
                severity=severity,
                tags=["shortfall", TIER_LABEL[problem.tier].replace(" ", "_")],
            )
        )
    return out
