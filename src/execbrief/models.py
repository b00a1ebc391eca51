"""The contracts every stage shares: facts, bundles, personas, reports, manifests, sends.

Imports only pydantic and the standard library, so every other module can depend on it.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BUNDLE_SCHEMA: Final = "execbrief.bundle/1"
MANIFEST_SCHEMA: Final = "execbrief.manifest/1"

FactKind = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$",
        description="Dotted lower-case kind from docs/FACT_KINDS.md, e.g. secret.hardcoded.",
    ),
]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class Strict(BaseModel):
    """Base for data read from disk or written by a model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical up to 4 for info, so sorting by rank puts the worst first."""
        return list(Severity).index(self)


class PrefilterEngine(StrEnum):
    """Which multi-pattern engine finds the lines the secret rules look at."""

    AUTO = "auto"
    HYPERSCAN = "hyperscan"
    RE = "re"


class Source(Strict):
    """Where a fact was seen; at least one field is set."""

    path: str | None = Field(None, description="Path relative to its repository or workspace.")
    line: int | None = Field(None, ge=1, description="1-based line in path.")
    resource: str | None = Field(None, description="ARN or resource id.")
    section: str | None = Field(None, description="Heading or logical section within path.")

    @model_validator(mode="after")
    def _one_field_set(self) -> Source:
        if not any((self.path, self.resource, self.section)):
            raise ValueError("a source needs at least one of path, resource, section")
        return self

    def label(self) -> str:
        """Human-readable location such as `lambda_function.py:42` or an ARN."""
        where = self.path or self.resource or ""
        if self.path and self.line:
            where = f"{self.path}:{self.line}"
        if self.section:
            where = f"{where} § {self.section}" if where else self.section
        return where


class MetricUnit(StrEnum):
    """What a metric counts, so a claim's unit can be checked against it."""

    USD = "usd"
    PERCENT = "percent"
    COUNT = "count"
    RATIO = "ratio"
    DAYS = "days"
    MONTHS = "months"
    BYTES = "bytes"


class MetricPeriod(StrEnum):
    """The period a flow is measured over; a stock or a one-off amount has none."""

    NONE = "none"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class MetricType(Strict):
    """Unit and period of one metric; a percent is stored as written (43.8, not 0.438)."""

    unit: MetricUnit
    period: MetricPeriod = MetricPeriod.NONE


class Fact(Strict):
    """One observation about the portfolio, from one collector, with its source."""

    id: str = Field(description="Stable id: hash of collector, kind, entity and subject.")
    collector: str
    entity: str | None = Field(None, description="Entity id from the workspace, if attributed.")
    kind: FactKind
    severity: Severity = Severity.INFO
    title: str
    detail: str = ""
    source: Source
    metrics: dict[str, float] = Field(default_factory=dict)
    metric_types: dict[str, MetricType] = Field(
        default_factory=dict,
        description="Unit and period per metric name; a metric without one is a plain number.",
    )
    tags: list[str] = Field(default_factory=list)
    observed_at: datetime | None = None

    inputs: list[str] = Field(
        default_factory=list,
        description="For a derived (analysis.*) fact: the ids of the facts it is computed from.",
    )

    @staticmethod
    def make_id(
        collector: str,
        kind: str,
        source: Source,
        entity: str | None = None,
        key: str | None = None,
        title: str = "",
    ) -> str:
        """The id a fact gets from what it is about, stable across runs and edits.

        It hashes the collector, the kind (states of one problem share one, see
        SAME_PROBLEM), the entity and the subject: `key` when the collector names one (a
        secret's fingerprint), else the source without its line, plus, for a fact seen at
        a line, its normalised claim; so editing a note above a fact does not change it.
        """
        subject: object
        if key is not None:
            subject = key
        else:
            where = source.model_dump(exclude={"line"})
            subject = [where, normalise_claim(title)] if source.line is not None else where
        identity = [collector, SAME_PROBLEM.get(kind, kind), entity, subject]
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        return "f_" + digest[:12]

    @classmethod
    def create(cls, *, collector: str, kind: str, source: Source, **fields: Any) -> Fact:
        """Build a fact whose id derives from what it is about (see make_id); a `key`
        field names its subject when source and title do not (a secret's fingerprint)."""
        key = fields.pop("key", None)
        entity = fields.get("entity")
        title = str(fields.get("title", ""))
        fact_id = cls.make_id(collector, kind, source, entity, key, title)
        return cls(id=fact_id, collector=collector, kind=kind, source=source, **fields)


SAME_PROBLEM: Final = {"secret.in_history": "secret.hardcoded"}
"""Kinds that are later states of one problem: a key removed from code but left in git
history is still that key, so both share an identity and `diff` reports a change."""

_LOCATION = re.compile(r"(?::\d+\b)|(?:\bline \d+\b)", re.IGNORECASE)


def normalise_claim(text: str) -> str:
    """A claim without case, punctuation, spacing or line references, for identity."""
    text = _LOCATION.sub("", text.casefold())
    return " ".join(re.findall(r"[a-z0-9]+", text))


class Gap(Strict):
    """Something a collector could not see; recorded instead of failing the run."""

    collector: str
    source: str = Field(description="What could not be read: a path, service or resource.")
    reason: str
    hint: str | None = Field(None, description="What would close the gap, e.g. an IAM action.")


class Entity(Strict):
    id: Identifier
    name: str
    aliases: list[str] = Field(default_factory=list)


class CollectorRun(Strict):
    """How one collector fared in one collection."""

    collector: str
    seconds: float
    facts: int
    gaps: int
    ok: bool


class Bundle(Strict):
    """All evidence of one run: the only input the generate stage reads."""

    schema_: Literal["execbrief.bundle/1"] = Field(BUNDLE_SCHEMA, alias="schema")
    portfolio: str
    collected_at: datetime
    entities: list[Entity]
    facts: list[Fact]
    gaps: list[Gap] = Field(default_factory=list)
    collectors: list[CollectorRun] = Field(default_factory=list)
    digest: str = Field("", description="sha256 of facts and gaps, without timestamps.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def compute_digest(self) -> str:
        """Digest of the evidence itself, so two runs on the same evidence share it."""
        facts = [f.model_dump(mode="json", exclude={"observed_at"}) for f in self.facts]
        gaps = [g.model_dump(mode="json") for g in self.gaps]
        canonical = json.dumps({"facts": facts, "gaps": gaps}, sort_keys=True)
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    def fact_index(self) -> dict[str, Fact]:
        return {fact.id: fact for fact in self.facts}


# --- personas -------------------------------------------------------------------------


class EvidenceSelector(Strict):
    """Which facts a persona (or one of its sections) reads. Empty lists select everything."""

    kinds: list[str] = Field(
        default_factory=list,
        description="Fact kinds; a trailing `.*` selects a family, e.g. `secret.*`.",
    )
    tags: list[str] = Field(default_factory=list, description="Any of these tags.")
    entities: list[str] = Field(default_factory=list, description="Only these entity ids.")
    min_severity: Severity = Field(Severity.INFO, description="Drop facts below this severity.")

    def matches(self, fact: Fact) -> bool:
        """Whether a fact falls inside this lens: (kind or tag) and entity and severity."""
        return self.selects(fact.kind, fact.severity, fact.entity, fact.tags)

    def selects(self, kind: str, severity: Severity, entity: str | None, tags: list[str]) -> bool:
        """`matches` on a fact's selecting attributes alone."""
        if severity.rank > self.min_severity.rank:
            return False
        if self.entities and entity not in self.entities:
            return False
        if not self.kinds and not self.tags:
            return True
        kind_hit = any(_kind_matches(pattern, kind) for pattern in self.kinds)
        return kind_hit or bool(set(self.tags) & set(tags))


def _kind_matches(pattern: str, kind: str) -> bool:
    if pattern.endswith(".*"):
        return kind == pattern[:-2] or kind.startswith(pattern[:-1])
    return kind == pattern


class SectionLayout(StrEnum):
    """The shapes an offline section takes; each reads the analyses its section names."""

    INVENTORY = "inventory"
    SHORTFALLS = "shortfalls"
    KPI_TABLE = "kpi_table"
    AGENDA = "agenda"
    BURN_MODEL = "burn_model"
    BREAK_EVEN = "break_even"
    CAPITAL_TIERS = "capital_tiers"
    TARGETS = "targets"
    SPEND = "spend"
    CHANNEL_MATRIX = "channel_matrix"
    SEQUENCE = "sequence"
    MILESTONES = "milestones"
    CHART_OF_ACCOUNTS = "chart_of_accounts"
    JOURNAL_TEMPLATES = "journal_templates"
    EMAIL_CAMPAIGN = "email_campaign"
    SECURITY_GAPS = "security_gaps"


class PersonaSection(Strict):
    """A part the brief must contain, e.g. the 30-day agenda."""

    id: Identifier
    title: str
    guidance: str = Field(description="What a good version of this section contains.")
    evidence: EvidenceSelector | None = Field(
        None, description="Facts this section draws on; defaults to the persona's evidence."
    )
    analyses: list[str] = Field(
        default_factory=list,
        description="analysis.* kinds this section is written from (docs/ANALYSIS.md); "
        "the persona's evidence must select them.",
    )
    layout: SectionLayout | None = Field(
        None,
        description="How the offline provider writes this section from its analyses; "
        "none: the section's own facts, minus those an earlier section used.",
    )


class Delivery(Strict):
    to: list[str] = Field(
        default_factory=list,
        description="Recipients; empty: SES_TO_ADDRESS from the mail settings.",
    )
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    subject: str = Field(
        description="Jinja2 template; sees portfolio, persona, run_id, date, report."
    )


class ModelOverride(Strict):
    name: str | None = None
    max_tokens: int | None = Field(None, gt=0)


class Persona(Strict):
    """One executive lens: who reads the brief, what they decide, what it must contain."""

    id: Identifier
    title: str
    audience: str = Field(description="Who reads this brief and what they already know.")
    lens: str = Field(description="The decisions this executive makes with the brief.")
    priorities: list[str] = Field(min_length=1)
    evidence: EvidenceSelector
    sections: list[PersonaSection] = Field(min_length=1)
    deliver: Delivery
    model: ModelOverride | None = None
    roles: dict[str, str] = Field(
        default_factory=dict,
        description="Who owns an action, by fact kind pattern (`secret.*: developer`); "
        "the first match wins, else `owner`.",
    )

    @model_validator(mode="after")
    def _analyses_in_lens(self) -> Persona:
        entity = self.evidence.entities[0] if self.evidence.entities else None
        for section in self.sections:
            for kind in section.analyses:
                if not self.evidence.selects(kind, Severity.CRITICAL, entity, []):
                    raise ValueError(
                        f"section {section.id!r} draws on {kind} but the persona's evidence "
                        f"does not select it; add it to evidence.kinds"
                    )
        return self


# --- reports --------------------------------------------------------------------------


class KpiStatus(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    NO_TARGET = "no_target"
    MISSING = "missing"


FactIds = Annotated[list[str], Field(description="Ids of the bundle facts this rests on.")]


class Finding(Strict):
    category: str
    severity: Severity
    title: str
    description: str
    impact: str
    evidence: FactIds


class Kpi(Strict):
    name: str
    value: float | None = Field(description="Measured value; null when it is not tracked yet.")
    unit: str = Field(description="e.g. USD, USD/month, %, charters/month.")
    target: str = Field(description="The target, as the executive would state it.")
    status: KpiStatus
    evidence: FactIds


class Recommendation(Strict):
    action: str
    owner: str
    due_in_days: int = Field(ge=0, le=365)
    impact: str
    evidence: FactIds


class ReportSection(Strict):
    # A list of {id, markdown} rather than a mapping: strict JSON-schema output needs
    # closed objects, and a mapping with free keys is an open one.
    id: str = Field(description="The persona section id this text fills.")
    markdown: str


class Report(Strict):
    """What a provider must return for one persona; validated before it is written."""

    subject: str = Field(description="A one-line headline for the brief.")
    summary: str = Field(description="Three to five sentences an executive reads first.")
    findings: list[Finding]
    kpis: list[Kpi]
    recommendations: list[Recommendation]
    sections: list[ReportSection]


class UnsupportedClaim(Strict):
    claim: str = Field(description="The claim's id exactly as listed, e.g. c7.")
    place: str = Field(description="The claim's place exactly as listed, e.g. summary.")
    quote: str = Field(description="The words at fault, copied exactly from the claim's text.")
    reason: str = Field(description="One sentence: what the cited facts state instead.")


class VerifyAnswer(Strict):
    """What the second opinion (llm.verify) must return: the claims its facts do not support."""

    unsupported: list[UnsupportedClaim]


# --- runs -----------------------------------------------------------------------------


class Usage(Strict):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )


class WarningKind(StrEnum):
    UNKNOWN_FACT = "unknown_fact"
    UNGROUNDED_NUMBER = "ungrounded_number"
    MISSING_SECTION = "missing_section"
    UNCITED = "uncited"
    OTHER_FACT = "other_fact"
    UNIT_MISMATCH = "unit_mismatch"
    PERIOD_MISMATCH = "period_mismatch"
    SIGN_MISMATCH = "sign_mismatch"
    CONTRADICTION = "contradiction"
    DERIVATION = "derivation"
    # the second opinion (llm.verify): a small model read the claim as unsupported
    MODEL_UNSUPPORTED = "model_unsupported"


class GroundingWarning(Strict):
    kind: WarningKind
    where: str = Field(description="Field path in the report, e.g. findings[2].description.")
    detail: str
    text: str | None = Field(None, description="The words at fault as written, e.g. `$12,345`.")
    claim: str | None = Field(None, description="The sentence, row or field the words stand in.")
    cited: list[str] = Field(
        default_factory=list, description="The fact ids the claim was checked against."
    )
    expected: str | None = Field(
        None, description="What the cited facts state instead, e.g. `$7,412.50/month`."
    )
    facts: list[str] = Field(
        default_factory=list,
        description="Facts the warning points at: where the number appears, what it contradicts.",
    )


class PersonaStatus(StrEnum):
    PENDING = "pending"
    OK = "ok"
    FAILED = "failed"


class Provenance(StrEnum):
    """Who wrote a brief's report.json: a model, the offline provider, or the analyst by hand
    after either of them."""

    MODEL = "model"
    OFFLINE = "offline"
    EDITED = "edited"


class VerifyStatus(StrEnum):
    OK = "ok"
    GAP = "gap"


class VerifyRun(Strict):
    """The second opinion on one brief (llm.verify): its call, counted apart from generation."""

    model: str
    status: VerifyStatus
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    attempts: int = 0
    facts: int = Field(0, description="Cited facts sent: the only evidence the model saw.")
    claims: int = Field(0, description="Claims of the report the model was asked about.")
    warnings: int = Field(0, description="Claims it read as unsupported, now warnings.")
    dropped: int = Field(
        0, description="Answer items naming a claim or place the report does not have."
    )
    error: str | None = Field(None, description="Why there is no second opinion (a gap).")


class PersonaRun(Strict):
    """One persona's outcome within a run, as the manifest records it."""

    persona: str
    title: str
    status: PersonaStatus = PersonaStatus.PENDING
    provider: str | None = None
    model: str | None = None
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    seconds: float = 0.0
    attempts: int = 0
    warnings: list[GroundingWarning] = Field(default_factory=list)
    findings_by_severity: dict[Severity, int] = Field(default_factory=dict)
    error: str | None = None
    note: str | None = Field(None, description="The analyst's note added to the prompt.")
    omitted_facts: int = Field(0, description="Facts left out of the prompt to fit the budget.")
    report_sha256: str | None = Field(None, description="Digest of report.json when rendered.")
    provenance: Provenance | None = Field(
        None, description="Who wrote the rendered report: a model, offline, or a hand edit."
    )
    verify: VerifyRun | None = Field(None, description="The second opinion, with llm.verify.")

    @property
    def total_usage(self) -> Usage:
        """Generation and second opinion together: what the persona used in all."""
        return self.usage + self.verify.usage if self.verify else self.usage

    @property
    def total_cost_usd(self) -> float:
        """Generation and second opinion together: what the persona cost in all."""
        return round(self.cost_usd + (self.verify.cost_usd if self.verify else 0.0), 6)

    cache_ttl: Literal["5m", "1h"] | None = Field(
        None,
        description="The prompt cache's time-to-live asked for: 1h for --batch, 5m live; "
        "none where the provider has no cache breakpoints.",
    )


class StageTiming(Strict):
    stage: str
    seconds: float


class LedgerRef(Strict):
    """Where a run's send ledger lives when it is not the run folder's own file: fixed when
    the run is collected, so one run's sends are never split between two ledgers."""

    backend: Literal["dynamodb"] = "dynamodb"
    table: str
    region: str | None = None
    workspace: str = Field(description="The workspace's key in the table (ledger.workspace).")


class Manifest(Strict):
    schema_: Literal["execbrief.manifest/1"] = Field(MANIFEST_SCHEMA, alias="schema")
    run_id: str
    created_at: datetime
    portfolio: str
    workspace: str
    bundle_digest: str
    personas: dict[str, PersonaRun] = Field(default_factory=dict)
    stages: list[StageTiming] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="What a reviewer should know.")
    ledger: LedgerRef | None = Field(
        None, description="The shared send ledger of this run; none: send-ledger.jsonl."
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SendEvent(StrEnum):
    ATTEMPT = "attempt"
    SENT = "sent"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"


class SendRecord(Strict):
    """One line of send-ledger.jsonl."""

    ts: datetime
    run: str
    persona: str
    event: SendEvent
    transport: str
    message_id: str | None = None
    error: str | None = None
    revision: int | None = Field(None, description="The draft revision; absent means 1.")
    test: bool = Field(False, description="A test send (`send --to`): no persona's sent state.")
    skipped_recipients: list[str] = Field(
        default_factory=list,
        description="Addresses the preflight left out: they hard-bounced or complained.",
    )


class DeliveryEventKind(StrEnum):
    """What SES event publishing reported about one recipient of a sent message."""

    SEND = "send"
    DELIVERY = "delivery"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    REJECT = "reject"
    DELIVERY_DELAY = "delivery_delay"


class DeliveryEvent(Strict):
    """One line of delivery-events.jsonl: an SES event for one recipient of one message."""

    event_id: str = Field(description="Digest of the SES event and recipient; dedupes redelivery.")
    ts: datetime = Field(description="When SES saw it (the event's own timestamp).")
    run: str
    persona: str
    message_id: str = Field(description="SES MessageId, as in the send ledger.")
    kind: DeliveryEventKind
    recipient: str
    bounce_type: str | None = Field(None, description="Permanent, Transient or Undetermined.")
    bounce_subtype: str | None = None
    diagnostic: str | None = Field(None, description="The remote server's answer, if any.")
    complaint_type: str | None = Field(None, description="The feedback type, e.g. abuse.")
    reason: str | None = Field(None, description="Why SES rejected or delayed it.")


class Envelope(Strict):
    """Who a rendered message goes to; Bcc lives here, never in the message headers."""

    sender: str
    recipients: list[str] = Field(min_length=1)
    message_id: str
    origins: dict[str, str] = Field(
        default_factory=dict, description="Address -> where it came from, for refusals."
    )


# --- plug-in boundaries ---------------------------------------------------------------


class CollectResult(Strict):
    facts: list[Fact] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)


class OutgoingMessage(BaseModel):
    """A rendered message.eml and its envelope, as a transport receives it."""

    run: str
    persona: str
    raw: bytes
    envelope: Envelope


class DeliveryAction(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"
    WOULD_SEND = "would_send"


class DeliveryOutcome(Strict):
    """What `send` did for one persona, for the summary table."""

    persona: str
    action: DeliveryAction
    detail: str = ""
    message_id: str | None = None


class ChangeKind(StrEnum):
    NEW = "new"
    RESOLVED = "resolved"
    CHANGED = "changed"
    MOVED = "moved"


class FactChange(Strict):
    """One fact that differs between two runs' bundles."""

    id: str
    change: ChangeKind
    kind: str
    entity: str | None
    severity: Severity
    title: str
    tags: list[str] = Field(default_factory=list)
    fields: list[str] = Field(
        default_factory=list, description="What changed, for `changed` and `moved`."
    )
    details: list[str] = Field(
        default_factory=list,
        description="Each change as `field: before -> after`, e.g. `severity: critical -> high`.",
    )


class BundleDiff(Strict):
    """Facts new, resolved, changed and moved from one run to another."""

    base_run: str
    head_run: str
    changes: list[FactChange]
