"""The offline provider's section writers: one per SectionLayout, each from the analysis
facts its section names, every row citing the facts it rests on."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from execbrief.analysis.kpis import iter_kpis, kpi_field
from execbrief.models import (
    EvidenceSelector,
    Fact,
    Kpi,
    KpiStatus,
    Persona,
    PersonaSection,
    Recommendation,
    SectionLayout,
    Severity,
    normalise_claim,
)

MAX_SECTION_ITEMS = 10
MAX_SHORTFALLS = 8
MAX_AGENDA = 12
AGENDA_DAYS = 30
SHIPPED_LENSES = {"ceo", "cto", "cfo", "cmo", "accounting"}
ORDERED = {"analysis.shortfall", "analysis.milestone", "analysis.kpi", "analysis.sequence"}
"""Analyses whose own order (rank, date, catalogue) is the order to show them in."""
SCOPED = {"analysis.shortfall", "analysis.milestone", "analysis.sequence"}
"""Portfolio-wide analyses a brief shows only where an input is in its lens: the CTO's
actions are not the rental's blockers."""

# Who acts on a problem when the persona file names no role for its kind.
DEFAULT_ROLES = {
    "secret.*": "developer (contractor)",
    "auth.*": "developer (contractor)",
    "http.*": "developer (contractor)",
    "code.*": "developer (contractor)",
    "repo.*": "developer (contractor)",
    "aws.*": "developer (contractor)",
    "finance.*": "bookkeeper",
    "handoff.*": "owner",
}
_DUE_BY_TIER = {0: 7, 1: 14, 2: 21, 3: 30, 4: 30}
_LABEL = re.compile(r"^(?:risk|todo|blocked|blocker|decision)\s*:\s*", re.IGNORECASE)
_VERBS = {
    "secret": "Rotate the key and move it to a secret store",
    "repo.env_file_tracked": "Move the credentials out of the repository",
    "aws.lambda.secret_env_name": "Move it to Secrets Manager",
    "aws.lambda.deprecated_runtime": "Upgrade the runtime",
    "aws.lambda.url_no_auth": "Put authentication in front of it",
    "aws.s3.public": "Block public access",
    "aws.cloudfront.no_waf": "Put a WAF in front of it",
    "aws.apigw.route_no_auth": "Add an authorizer",
    "aws.apigw.no_throttle": "Set throttling limits",
    "aws.dynamodb.no_pitr": "Turn on point-in-time recovery",
    "repo.ci": "Add CI",
    "repo.tests": "Add tests",
    "repo.manual_deploy": "Script the deploy",
    "auth": "Put authentication in front of it",
    "http": "Restrict it to the sites that need it",
    "handoff.blocker": "Unblock",
    "handoff.todo": "Do",
    "handoff.risk": "Decide how to contain",
    "zero": "Start",
}
_DOLLARS = re.compile(r"\$\s?(\d[\d,]*(?:\.\d+)?)\s*(k|K)?")


@dataclass
class Context:
    """What the sections of one brief share: the facts, and what earlier sections used."""

    persona: Persona
    facts: list[Fact]
    index: dict[str, Fact] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    recommendations: list[Recommendation] = field(default_factory=list)
    kpis: list[Kpi] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.index = {f.id: f for f in self.facts}

    def analyses(self, section: PersonaSection, kind: str) -> list[Fact]:
        """The lens's facts of an analysis kind, narrowed by the section's own evidence."""
        if kind not in section.analyses:
            return []
        chosen = [f for f in self.facts if f.kind == kind]
        if kind in SCOPED:
            chosen = [f for f in chosen if self.in_lens(f)]
        if section.evidence is not None:
            chosen = [f for f in chosen if section.evidence.matches(f)]
        if kind in ORDERED:
            return sorted(chosen, key=lambda f: f.metrics.get("rank", f.metrics.get("order", 0)))
        return by_entity(chosen)

    def in_lens(self, fact: Fact) -> bool:
        """A derived fact belongs to this brief when one of its inputs is in the lens."""
        return not fact.inputs or any(i in self.index for i in fact.inputs)

    def role(self, fact: Fact) -> str:
        """The owner role for a fact: the persona's roles, then the defaults, then owner."""
        kinds = [self.index[i].kind for i in fact.inputs if i in self.index] or [fact.kind]
        for table in (self.persona.roles, DEFAULT_ROLES):
            for pattern, role in table.items():
                if any(
                    EvidenceSelector(kinds=[pattern]).selects(k, Severity.INFO, None, [])
                    for k in kinds
                ):
                    return role
        return "owner"


Writer = Callable[[Context, PersonaSection], str]


def by_entity(facts: list[Fact]) -> list[Fact]:
    """Portfolio first, then entities by name, what no entity claims last."""
    return sorted(
        facts, key=lambda f: (f.entity is not None, f.title.startswith("Unattributed"), f.title)
    )


def cite(*ids: str) -> str:
    return " ".join(f"`{i}`" for i in dict.fromkeys(ids))


def _entity(ctx: Context, fact: Fact) -> str:
    head = fact.title.split(": ", 1)[0]
    return head if fact.entity or head == "Portfolio" else "Portfolio"


def _claim(fact: Fact) -> str:
    text = fact.title.split(": ", 1)[1] if ": " in fact.title else fact.title
    return _LABEL.sub("", text)


def inventory(ctx: Context, section: PersonaSection) -> str:
    blocks = []
    for fact in ctx.analyses(section, "analysis.inventory"):
        rows = ["| Type | Asset | What the evidence says | Fact |", "| --- | --- | --- | --- |"]
        for line in fact.detail.splitlines():
            match = re.match(r"^- ([^:]+): (\S+(?: \([^)]*\))?) \((.*)\) \[(f_[0-9a-f]+)\]$", line)
            if match:
                kind, name, said, fid = match.groups()
                rows.append(f"| {kind} | {name} | {said} | `{fid}` |")
        owner = fact.title.split(": ", 1)[0]
        blocks.append(
            f"**{owner}** — {fact.title.split(': ', 1)[1]} {cite(fact.id)}\n\n" + "\n".join(rows)
        )
        ctx.used.update(fact.inputs)
    return "\n\n".join(blocks)


def _shortfalls(ctx: Context, section: PersonaSection) -> list[Fact]:
    return ctx.analyses(section, "analysis.shortfall")


def shortfalls(ctx: Context, section: PersonaSection) -> str:
    chosen = _shortfalls(ctx, section)[:MAX_SHORTFALLS]
    lines = []
    for n, fact in enumerate(chosen, start=1):
        why = fact.detail.split(". ")[0].split(": ", 1)[-1]
        lines.append(
            f"{n}. **{_entity(ctx, fact)}** — {_claim(fact)} ({why}) {cite(fact.id, *fact.inputs)}"
        )
    return "\n".join(lines)


def _verb(ctx: Context, fact: Fact) -> str:
    if "zero" in (fact.source.section or "").split(" ")[1:2]:
        return _VERBS["zero"]
    first = ctx.index.get(fact.inputs[0]) if fact.inputs else None
    kind = first.kind if first else fact.kind
    return _VERBS.get(kind) or _VERBS.get(kind.split(".")[0]) or "Resolve"


def _mode(fact: Fact, role: str) -> str:
    if fact.metrics.get("tier") == 3:
        return "decide"
    return "do" if role == "owner" else "delegate"


def agenda(ctx: Context, section: PersonaSection) -> str:
    items: list[tuple[int, str, str, str, str, Fact]] = []
    seen: set[str] = set()
    for fact in _shortfalls(ctx, section):
        if fact.metrics.get("tier", 4) > 3 and len(items) >= MAX_AGENDA // 2:
            continue
        role = ctx.role(fact)
        action = f"{_verb(ctx, fact)}: {_claim(fact)}"
        key = normalise_claim(_claim(fact))
        if key in seen:
            continue
        seen.add(key)
        due = _DUE_BY_TIER[int(fact.metrics.get("tier", 4))]
        items.append((due, action, _entity(ctx, fact), role, _mode(fact, role), fact))
    for fact in ctx.analyses(section, "analysis.milestone"):
        days = int(fact.metrics.get("days_from_collection", 999))
        key = normalise_claim(_LABEL.sub("", fact.title.split("): ", 1)[-1]))
        if days > AGENDA_DAYS or key in seen:
            continue
        seen.add(key)
        name = fact.title.split("(", 1)[1].split(")", 1)[0]
        what = _LABEL.sub("", fact.title.split("): ", 1)[-1])
        items.append((max(days, 1), f"Meet the date: {what}", name, "owner", "do", fact))
    items.sort(key=lambda i: (i[0], i[5].metrics.get("rank", 0)))
    kept, left = items[:MAX_AGENDA], items[MAX_AGENDA:]
    rows = [
        "| # | Action | Entity | Owner | Due | Mode | Evidence |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, (due, action, entity, role, mode, fact) in enumerate(kept, start=1):
        rows.append(
            f"| {n} | {action} | {entity} | {role} | day {due} | {mode} | {cite(fact.id)} |"
        )
        ctx.recommendations.append(
            Recommendation(
                action=action,
                owner=role,
                due_in_days=due,
                impact=fact.detail.split(". ")[0],
                evidence=[fact.id, *fact.inputs],
            )
        )
    tail = (
        f"\n\nLeft off: {len(left)} lower-ranked items (growth and hygiene), for after these."
        if left
        else ""
    )
    return "\n".join(rows) + tail


def kpi_rows(ctx: Context, section: PersonaSection) -> str:
    lens = ctx.persona.id
    chosen = [
        f
        for f in iter_kpis(ctx.analyses(section, "analysis.kpi"))
        if lens not in SHIPPED_LENSES or lens in f.tags
    ]
    rows = [
        "| KPI | Value | Source | Decision it informs | Evidence |",
        "| --- | --- | --- | --- | --- |",
    ]
    # The table leads with what is missing; the report's KPIs with what is measured.
    for fact in sorted(chosen, key=lambda f: "missing" not in f.tags):
        missing = "missing" in fact.tags
        rows.append(
            f"| {kpi_field(fact, 'KPI')} | {kpi_field(fact, 'Value')} | "
            f"{kpi_field(fact, 'Source') if missing else kpi_field(fact, 'Formula')} | "
            f"{kpi_field(fact, 'Decision')} | {cite(fact.id)} |"
        )
    for fact in chosen:
        missing = "missing" in fact.tags
        ctx.kpis.append(
            Kpi(
                name=kpi_field(fact, "KPI"),
                value=fact.metrics.get("value"),
                unit=_unit(fact),
                target=f"{fact.metrics['target']:g}" if "target" in fact.metrics else "not set",
                status=KpiStatus.MISSING
                if missing
                else (KpiStatus.AT_RISK if _below(fact) else KpiStatus.NO_TARGET),
                evidence=[fact.id],
            )
        )
    return "\n".join(rows)


def _below(fact: Fact) -> bool:
    return "target" in fact.metrics and fact.metrics.get("value", 0) < fact.metrics["target"]


def _unit(fact: Fact) -> str:
    return metric_unit(fact, "value")


NAME_UNITS = {"usd": "USD", "pct": "%", "months": "months", "days": "days"}


def metric_unit(fact: Fact, metric: str) -> str:
    """A KPI unit string for one metric: its declared type ("USD/month", "%"), else the
    unit its name ends in, else "count"; a KPI must carry the unit the fact states."""
    kind = fact.metric_types.get(metric)
    if kind is None:
        return NAME_UNITS.get(metric.rsplit("_", 1)[-1], "count")
    unit = {"usd": "USD", "percent": "%", "ratio": "x"}.get(kind.unit.value, kind.unit.value)
    return unit if kind.period.value == "none" else f"{unit}/{kind.period.value}"


def burn_model(ctx: Context, section: PersonaSection) -> str:
    break_even = {f.entity: f for f in ctx.analyses(section, "analysis.break_even")}
    rows = [
        "| Entity | Gross burn / month | Net burn / month | Net cash in / month | Break-even "
        "| Evidence |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for fact in ctx.analyses(section, "analysis.burn"):
        be = break_even.get(fact.entity)
        be_text = (
            "—"
            if be is None
            else (
                f"{be.metrics['break_even_units_whole']:.0f} units/month"
                if "break_even_units_whole" in be.metrics
                else "not computed"
            )
        )
        rows.append(
            f"| {_entity(ctx, fact)} | {fact.metrics['gross_burn_monthly_usd']:,.2f} | "
            f"{_net_cells(fact.metrics['net_burn_monthly_usd'])} | {be_text} | "
            f"{cite(fact.id, *([be.id] if be else []))} |"
        )
    parts = ["\n".join(rows)]
    monthly = ctx.analyses(section, "analysis.monthly")
    # The portfolio's table when the lens has it; a lens on one entity gets that entity's.
    for fact in [f for f in monthly if f.entity is None] or monthly:
        table = fact.detail.split("\n", 1)[1]
        parts.append(f"{_entity(ctx, fact)} by month {cite(fact.id)}:\n\n{table}")
    for fact in ctx.analyses(section, "analysis.runway"):
        parts.append(f"Runway: {fact.title.split(': ', 1)[1]} {cite(fact.id)}.")
    return "\n\n".join(parts)


def _net_cells(net_burn: float) -> str:
    """A negative net burn is money coming in: an executive reads it as cash in, not as a
    burn of minus something."""
    return f"{net_burn:,.2f} | —" if net_burn > 0 else f"— | {-net_burn:,.2f}"


def break_even(ctx: Context, section: PersonaSection) -> str:
    computed, missing = [], []
    for fact in ctx.analyses(section, "analysis.break_even"):
        if "not_computed" in fact.tags:
            missing.append(
                f"- **{_entity(ctx, fact)}**: {_claim(fact)}. {fact.detail} {cite(fact.id)}"
            )
        else:
            computed.append(
                f"- **{_entity(ctx, fact)}**: {_claim(fact)}. {fact.detail} {cite(fact.id)}"
            )
    out = "\n".join(computed) or "- No entity has both unit economics and a fixed/variable split."
    if missing:
        out += "\n\nNot computed, and what is needed:\n" + "\n".join(missing)
    return out


def capital_tiers(ctx: Context, section: PersonaSection) -> str:
    burn = next((f for f in ctx.facts if f.kind == "analysis.burn" and f.entity is None), None)
    weekly = burn.metrics.get("gross_burn_weekly_usd") if burn else None
    tiers: dict[str, list[str]] = {
        "Zero-cost": [],
        "Low-cost": [],
        "Revenue-funded": [],
        "Blocked": [],
    }
    pool = section.evidence or ctx.persona.evidence
    for fact in ctx.facts:
        if fact.kind not in ("handoff.todo", "handoff.blocker") or not pool.matches(fact):
            continue
        amount = _dollars(fact.title)
        if fact.kind == "handoff.blocker":
            tier = "Blocked"
        elif amount is None:
            tier = "Zero-cost"
        elif weekly is not None and amount <= weekly:
            tier = "Low-cost"
        else:
            tier = "Revenue-funded"
        tiers[tier].append(
            f"  - {fact.entity or 'portfolio'}: {_LABEL.sub('', fact.title)} {cite(fact.id)}"
        )
    head = (
        f"Low-cost means at most one week of the portfolio's gross burn ({weekly:,.2f} USD) "
        f"{cite(burn.id)}."
        if burn and weekly is not None
        else "No burn figure, so no low-cost threshold: priced items are listed as revenue-funded."
    )
    body = [
        f"- **{name}**\n" + ("\n".join(items[:MAX_SECTION_ITEMS]) or "  - nothing in the evidence")
        for name, items in tiers.items()
    ]
    return head + "\n\n" + "\n".join(body)


def _dollars(text: str) -> float | None:
    match = _DOLLARS.search(text)
    if match is None:
        return None
    value = float(match.group(1).replace(",", ""))
    return value * 1000 if match.group(2) else value


def targets(ctx: Context, section: PersonaSection) -> str:
    break_even = {
        f.entity: f
        for f in ctx.analyses(section, "analysis.break_even")
        if "break_even_revenue_usd" in f.metrics
    }
    rows = [
        "| Entity | Revenue / month now | Target, each of the next 3 months | Basis | Evidence |",
        "| --- | --- | --- | --- | --- |",
    ]
    for fact in ctx.analyses(section, "analysis.kpi"):
        if not (fact.source.section or "").startswith("kpi revenue ") or fact.entity is None:
            continue
        now = fact.metrics.get("value", 0.0)
        be = break_even.get(fact.entity)
        if be is not None:
            goal, basis, ids = (
                be.metrics["break_even_revenue_usd"],
                f"break-even, {be.metrics['break_even_units_whole']:.0f} units",
                [fact.id, be.id],
            )
        else:
            goal, basis, ids = now, "hold the current average (no break-even)", [fact.id]
        rows.append(
            f"| {_entity(ctx, fact).removesuffix(' monthly revenue')} | {now:,.2f} | "
            f"{goal:,.2f} | {basis} | {cite(*ids)} |"
        )
        ctx.kpis.append(
            Kpi(
                name=f"{kpi_field(fact, 'KPI')} target",
                value=now,
                unit="USD/month",
                target=f"{goal:,.2f} USD/month ({basis})",
                status=KpiStatus.AT_RISK if now < goal else KpiStatus.ON_TRACK,
                evidence=ids,
            )
        )
    return "\n".join(rows)


def spend(ctx: Context, section: PersonaSection) -> str:
    parts = []
    for fact in ctx.analyses(section, "analysis.aws_spend"):
        parts.append(f"- {fact.title} {cite(fact.id)}")
        if fact.entity is None:
            parts.extend(
                f"  {line}" for line in fact.detail.splitlines()[1:] if line.startswith("- ")
            )
    savings = ctx.analyses(section, "analysis.aws_savings")
    if savings:
        parts.append("\nSavings candidates:")
        for fact in savings:
            priced = fact.metrics.get("savings_monthly_usd")
            figure = f"{priced:,.2f} USD/month" if priced else "not priced"
            parts.append(f"- {fact.title} — {figure} {cite(fact.id)}")
    return "\n".join(parts)


def channel_matrix(ctx: Context, section: PersonaSection) -> str:
    rows = [
        "| Entity | Channel or funnel step | Now | From | Evidence |",
        "| --- | --- | --- | --- | --- |",
    ]
    for fact in ctx.facts:
        if fact.kind != "handoff.section" or not (
            {"marketing", "local_search", "user_funnel"} & set(fact.tags)
        ):
            continue
        for name, value in list(fact.metrics.items())[:6]:
            if name.endswith("_pct"):
                continue
            label = name.removesuffix("_count").removesuffix("_usd").replace("_", " ")
            owner = fact.title.split(" handoff:", 1)[0]
            rows.append(
                f"| {owner} | {label} | {value:,.0f} | {fact.source.label()} | {cite(fact.id)} |"
            )
    for fact in ctx.analyses(section, "analysis.kpi"):
        if "ota" in (fact.source.section or ""):
            rows.append(
                f"| {_entity(ctx, fact).split(' OTA')[0]} | OTA listings | "
                f"{kpi_field(fact, 'Value')} | "
                f"KPI catalogue | {cite(fact.id)} |"
            )
    return "\n".join(rows)


def sequence(ctx: Context, section: PersonaSection) -> str:
    parts = []
    for fact in ctx.analyses(section, "analysis.sequence"):
        parts.append(f"**{fact.title}** {cite(fact.id)}\n\n" + fact.detail.split("\n", 1)[1])
    return "\n\n".join(parts)


def milestones(ctx: Context, section: PersonaSection) -> str:
    buckets: dict[str, list[str]] = {"By day 30": [], "By day 60": [], "By day 90": [], "Later": []}
    for fact in ctx.analyses(section, "analysis.milestone"):
        days = fact.metrics.get("days_from_collection", 0)
        name = (
            "By day 30"
            if days <= 30
            else "By day 60"
            if days <= 60
            else "By day 90"
            if days <= 90
            else "Later"
        )
        buckets[name].append(f"  - {fact.title} {cite(fact.id)}")
    return "\n".join(
        f"- **{name}**\n" + ("\n".join(items) or "  - no dated plan in the notes")
        for name, items in buckets.items()
    )


def chart_of_accounts(ctx: Context, section: PersonaSection) -> str:
    return "\n\n".join(
        f"{fact.title} {cite(fact.id)}\n\n{fact.detail}"
        for fact in ctx.analyses(section, "analysis.chart_of_accounts")
    )


def journal_templates(ctx: Context, section: PersonaSection) -> str:
    return "\n".join(
        f"- **{fact.title.removeprefix('Journal-entry template: ')}**: {fact.detail} "
        f"{cite(fact.id)}"
        for fact in ctx.analyses(section, "analysis.journal_template")
    )


_EMAIL = re.compile(r"\b(?:e-?mail|newsletter|blast|mailing|campaign)s?\b", re.IGNORECASE)
_CONSENT = re.compile(r"\b(?:consent|opt-?in|opted|unsubscribe[sd]?)\b", re.IGNORECASE)
_MODEL = re.compile(r"\bmodel", re.IGNORECASE)
_SES_FIX = {
    "aws.ses.sandbox": "Request SES production access",
    "aws.ses.identity": "Finish verifying the sending identity",
}


def _bullets(text: str) -> list[str]:
    """The `- ` bullets of a note section, each joined with its indented continuation."""
    bullets: list[str] = []
    open_bullet = False
    for line in text.splitlines():
        if line.startswith("- "):
            bullets.append(line[2:].strip())
            open_bullet = True
        elif open_bullet and line.startswith("  ") and line.strip():
            bullets[-1] += " " + line.strip()
        else:
            open_bullet = False
    return [bullet.replace("**", "") for bullet in bullets]


def email_campaign(ctx: Context, section: PersonaSection) -> str:
    """Audience, sending channel, the campaign's sequence with milestones, and the notes'
    own model, each from the facts that state it."""
    pool = [f for f in ctx.facts if (section.evidence or ctx.persona.evidence).matches(f)]
    notes = [f for f in pool if f.kind == "handoff.section"]
    lists = [
        (f, name, value)
        for f in notes
        for name, value in f.metrics.items()
        if "email" in name or "mailing" in name or "newsletter" in name
    ]
    listed = {f.id: f for f, _, _ in lists}
    audience = [
        f"- **{_owner(f)}**: {bullet} {cite(f.id)}"
        for f in listed.values()
        for bullet in _bullets(f.detail)
        if _EMAIL.search(bullet) and not _MODEL.search(bullet)
    ]
    consent = [f for f in pool if _CONSENT.search(f.title + " " + f.detail)]
    audience.append(
        "- Consent: " + " ".join(f"{_claim(f)} {cite(f.id)}" for f in consent)
        if consent
        else "- Consent: not stated in the evidence, so confirming it is step 1; a list of "
        "unknown consent is not mailed."
    )
    ses = [f for f in pool if f.kind.startswith("aws.ses.")]
    channel = ["| Sending check | State | Evidence |", "| --- | --- | --- |"]
    channel += [f"| {f.kind.removeprefix('aws.ses.')} | {f.title} | {cite(f.id)} |" for f in ses]
    steps: list[tuple[str, str, list[str]]] = []
    if not consent:
        steps.append(("Confirm the list's consent (how each contact joined)", "by day 7", []))
    gates = [f for f in ses if f.severity is not Severity.INFO]
    gates += [f for f in pool if f.kind == "handoff.blocker" and _EMAIL.search(f.title)]
    for fact in gates:
        action = _SES_FIX.get(fact.kind, "Clear the blocker")
        steps.append((f"{action}: {_claim(fact)}", "by day 14", [fact.id]))
    sends = [f for f in pool if f.kind == "handoff.todo" and _EMAIL.search(f.title)]
    for fact in sends:
        steps.append((f"Do: {_claim(fact)}", "by day 30", [fact.id]))
    if not sends:
        for fact, name, value in lists:
            label = name.replace("_", " ")
            steps.append(
                (f"Send the first campaign to the {label} ({value:,.0f})", "by day 30", [fact.id])
            )
    for fact in ctx.analyses(section, "analysis.milestone"):
        if _EMAIL.search(fact.title):
            steps.append((f"Meet the date: {_claim(fact)}", fact.title.split(" ", 1)[0], [fact.id]))
    steps.append(
        (
            "Measure: a code or landing page per send, replies and bookings counted against it",
            "by day 60",
            [],
        )
    )
    sequence = ["| # | Step | Milestone | Evidence |", "| --- | --- | --- | --- |"]
    sequence += [
        f"| {n} | {step} | {due} | {cite(*ids) or 'no fact: a proposed step'} |"
        for n, (step, due, ids) in enumerate(steps, start=1)
    ]
    model = [
        f"- {_owner(f)}'s note: {bullet} {cite(f.id)}"
        for f in notes
        for bullet in _bullets(f.detail)
        if _EMAIL.search(bullet) and _MODEL.search(bullet)
    ]
    used = [f.id for f in ses + gates + consent + notes]
    ctx.used.update(used + [i for _, _, ids in steps for i in ids])
    parts = [
        "**Audience**\n\n" + "\n".join(audience),
        "**Channel: email through SES**\n\n"
        + (
            "\n".join(channel) if ses else "No SES fact in the evidence: sending readiness unknown."
        ),
        "**Sequence and milestones** (each gate before the send)\n\n" + "\n".join(sequence),
    ]
    if model:
        parts.append(
            "**The notes' own model** (their rates and figures, not computed here)\n\n"
            + "\n".join(model)
        )
    return "\n\n".join(parts)


def _owner(fact: Fact) -> str:
    return fact.title.split(" handoff:", 1)[0]


_FIXES = {
    "auth.jwt_no_expiry": "Give tokens an expiry and check it on decode",
    "code.bandit": "Fix the flagged call",
    "aws.apigw.no_throttle": "Set throttling limits",
}
_ARN_NAMES = {
    "lambda": "Lambda",
    "s3": "S3 bucket",
    "apigateway": "API Gateway",
    "cloudfront": "CloudFront",
    "dynamodb": "DynamoDB",
    "ses": "SES",
    "iam": "IAM",
}


def system_of(fact: Fact) -> str:
    """The system a fact is about: a repository, or an AWS resource named by its ARN."""
    resource, path = fact.source.resource, fact.source.path
    if resource and resource.startswith("arn:"):
        parts = resource.split(":", 5)
        service, rest = parts[2], parts[5] if len(parts) > 5 else ""
        pieces = [p for p in re.split(r"[/:]", rest) if p]
        # function:NAME, distribution/ID, table/NAME, /apis/ID/...: the id is second
        second = service in ("apigateway", "lambda", "cloudfront", "dynamodb")
        name = pieces[1] if second and len(pieces) > 1 else (pieces[0] if pieces else rest)
        return f"{_ARN_NAMES.get(service, service)} {name}".strip()
    if resource:
        return f"repository {resource}"
    return path.split("/", 1)[0] if path else "portfolio"


def _where(fact: Fact) -> str:
    source = fact.source
    if source.path:
        return f"{source.path}:{source.line}" if source.line else source.path
    return source.section or "the resource"


def security_gaps(ctx: Context, section: PersonaSection) -> str:
    """Gaps grouped by system, worst system first; one row per kind of gap in a system
    (its locations listed), with severity, owner and the fix; then what spans systems."""
    selector = section.evidence or ctx.persona.evidence
    chosen = [f for f in ctx.facts if not f.kind.startswith("analysis.") and selector.matches(f)]
    systems: dict[str, dict[str, list[Fact]]] = {}
    for fact in sorted(chosen, key=lambda f: (f.severity.rank, f.kind, f.id)):
        systems.setdefault(system_of(fact), {}).setdefault(fact.kind, []).append(fact)
    order = sorted(
        systems.items(),
        key=lambda item: (
            min(f.severity.rank for group in item[1].values() for f in group),
            -sum(len(group) for group in item[1].values()),
            item[0],
        ),
    )
    blocks = []
    for system, kinds in order[:MAX_SECTION_ITEMS]:
        first = next(iter(kinds.values()))[0]
        whose = f" ({first.entity})" if first.entity else ""
        # The fix leads each row: a row is read as one prescription, not as a state.
        rows = [
            "| Fix | Severity | Gap | Where | Owner | Evidence |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for found in kinds.values():
            group = sorted(
                found,
                key=lambda f: (f.source.path or f.source.section or "", f.source.line or 0, f.id),
            )
            lead = group[0]
            more = f" ({len(group)} alike)" if len(group) > 1 else ""
            where = ", ".join(dict.fromkeys(_where(f) for f in group))
            fix = (
                _FIXES.get(lead.kind)
                or _VERBS.get(lead.kind)
                or _VERBS.get(lead.kind.split(".")[0])
                or "Resolve"
            )
            rows.append(
                f"| {fix} | {lead.severity.value} | {lead.title}{more} | {where} | "
                f"{ctx.role(lead)} | {cite(*(f.id for f in group))} |"
            )
            ctx.used.update(f.id for f in group)
        blocks.append(f"**{system}**{whose}\n\n" + "\n".join(rows))
    left = len(order) - MAX_SECTION_ITEMS
    if left > 0:
        blocks.append(f"Left off: {left} more systems with lower-severity gaps.")
    index = {f.id: system_of(f) for f in chosen}
    spanning = []
    for fact in ctx.analyses(section, "analysis.shortfall"):
        places = sorted({index[i] for i in fact.inputs if i in index})
        if len(places) > 1:
            spanning.append(f"- {_claim(fact)}: {', '.join(places)} {cite(fact.id)}")
    if spanning:
        blocks.append(
            "One problem in several systems (fix it once, everywhere):\n" + "\n".join(spanning)
        )
    return "\n\n".join(blocks)


WRITERS: dict[SectionLayout, Writer] = {
    SectionLayout.INVENTORY: inventory,
    SectionLayout.SHORTFALLS: shortfalls,
    SectionLayout.KPI_TABLE: kpi_rows,
    SectionLayout.AGENDA: agenda,
    SectionLayout.BURN_MODEL: burn_model,
    SectionLayout.BREAK_EVEN: break_even,
    SectionLayout.CAPITAL_TIERS: capital_tiers,
    SectionLayout.TARGETS: targets,
    SectionLayout.SPEND: spend,
    SectionLayout.CHANNEL_MATRIX: channel_matrix,
    SectionLayout.SEQUENCE: sequence,
    SectionLayout.MILESTONES: milestones,
    SectionLayout.CHART_OF_ACCOUNTS: chart_of_accounts,
    SectionLayout.JOURNAL_TEMPLATES: journal_templates,
    SectionLayout.EMAIL_CAMPAIGN: email_campaign,
    SectionLayout.SECURITY_GAPS: security_gaps,
}


def fact_list(ctx: Context, section: PersonaSection) -> str:
    """A section without a layout: its own facts, worst first, minus those shown above."""
    selector = section.evidence
    chosen = [
        f
        for f in ctx.facts
        if not f.kind.startswith("analysis.")
        and f.id not in ctx.used
        and (selector is None or selector.matches(f))
    ][:MAX_SECTION_ITEMS]
    ctx.used.update(f.id for f in chosen)
    return "\n".join(
        f"- **{fact.title}** ({fact.severity.value}; `{fact.source.label()}`) `{fact.id}`"
        for fact in chosen
    )


def write_section(ctx: Context, section: PersonaSection) -> str:
    """One section's Markdown; a section the evidence cannot fill says so by name."""
    writer = WRITERS.get(section.layout) if section.layout else None
    text = (writer or fact_list)(ctx, section)
    if not text.strip() or (text.count("\n") <= 1 and text.startswith("| ")):
        return (
            f"_The evidence bundle has nothing for {section.title} beyond the sections above; "
            "a model-written brief would say what to collect._"
        )
    return text
