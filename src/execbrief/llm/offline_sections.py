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
    kind = fact.metric_types.get("value")
    if kind is None:
        return "count"
    unit = {"usd": "USD", "percent": "%", "months": "months", "count": "count"}.get(
        kind.unit.value, kind.unit.value
    )
    return f"{unit}/month" if kind.period.value == "month" else unit


def burn_model(ctx: Context, section: PersonaSection) -> str:
    break_even = {f.entity: f for f in ctx.analyses(section, "analysis.break_even")}
    rows = [
        "| Entity | Gross burn / month | Net burn / month | Break-even | Evidence |",
        "| --- | --- | --- | --- | --- |",
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
            f"{fact.metrics['net_burn_monthly_usd']:,.2f} | {be_text} | "
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
