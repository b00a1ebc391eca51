"""The workspace: execbrief.yaml's models, its folder, and the paths it names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    StrictBool,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from execbrief.errors import ConfigError
from execbrief.models import Entity, LedgerRef, Strict
from execbrief.yamlfile import load_yaml_model

CONFIG_NAME = "execbrief.yaml"


class AwsProjectTable(Strict):
    """A DynamoDB table of the business (e.g. bookings) counted by entity and status."""

    name: str
    entity_attribute: str = "entity"
    status_attribute: str = "status"
    scan_limit: int = Field(10_000, gt=0, description="Items the scan reads at most.")


class AwsSource(Strict):
    regions: list[str] = Field(default_factory=lambda: ["us-west-2"])
    profile: str | None = None
    role_arn: str | None = None
    snapshot: Path | None = Field(None, description="Replay this inventory snapshot offline.")
    project_table: AwsProjectTable | None = Field(
        None, description="Counted into metrics; only the two count attributes are read."
    )
    entity_tag: str = Field("entity", description="Tag key naming a resource's entity.")
    cost_months: int = Field(3, ge=1, le=12, description="Full months of cost history.")


class LedgerColumns(Strict):
    """Column names of a transactions CSV; only date and amount must be present."""

    date: str = "date"
    entity: str = "entity"
    account: str = "account"
    category: str = "category"
    amount: str = Field("amount", description="Signed: money in positive, money out negative.")
    memo: str = "memo"
    currency: str = Field("currency", description="ISO code per row; an empty cell is USD.")


class LedgerSource(Strict):
    path: Path = Field(description="A CSV, a folder of CSVs, or a glob; each read by its header.")
    cash_balance: float = Field(0, description="For runway; only a stated balance gives one.")
    unit_economics: dict[str, float] = Field(
        default_factory=dict, description="`<unit>_price` and `<unit>_variable_cost` pairs."
    )
    columns: LedgerColumns = Field(default_factory=LedgerColumns)
    stripe: list[Path] = Field(
        default_factory=list, description="Stripe balance exports kept outside `path`."
    )
    stripe_entity: str | None = Field(
        None, description="Entity of every Stripe row; default: the entity its text names."
    )
    chart: Path | None = Field(
        None, description="Chart of accounts (YAML); default: chart_of_accounts.yaml beside it."
    )
    rates: dict[str, PositiveFloat] = Field(
        default_factory=dict,
        description="USD per unit of another currency (`EUR: 1.08`); rows in a currency "
        "with no rate are left out of the totals, with a gap.",
    )


class Sources(Strict):
    handoffs: list[str] = Field(default_factory=list, description="Globs of Markdown notes.")
    repos: list[str] = Field(default_factory=list, description="Paths or globs of repositories.")
    aws: AwsSource | None = None
    ledger: LedgerSource | None = None


ProviderName = Literal["auto", "anthropic", "bedrock", "openai", "offline"]
TransportName = Literal["file", "ses", "smtp"]


class ModelPrice(Strict):
    """USD per million tokens; cache writes and reads are priced on their own."""

    input: float
    output: float
    cache_write: float = Field(description="A write to the 5-minute cache.")
    cache_read: float
    cache_write_1h: float | None = Field(
        None, description="A write to the 1-hour cache (--batch); default: 2x input."
    )


class LlmConfig(Strict):
    provider: ProviderName = "auto"
    model: str | None = Field(None, description="Default: the provider's current default.")
    max_tokens: int = Field(8000, gt=0)
    concurrency: int = Field(8, ge=1, le=64)
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint (openai provider).")
    region: str | None = Field(None, description="AWS region for the bedrock provider.")
    timeout_seconds: float = Field(600, gt=0)
    max_attempts: int = Field(6, ge=1, le=20)
    batch_poll_seconds: float = Field(10, gt=0, description="How often --batch asks for news.")
    evidence_budget_tokens: int = Field(
        150_000, gt=0, description="Facts beyond this budget are ranked and cut."
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict, description="Override the price table, by model name."
    )
    max_cost_usd: float | None = Field(
        None, gt=0, description="Refuse a generate priced above this, before any paid call."
    )
    verify: StrictBool = Field(
        False,
        description="Ask a small model once per brief which claims the cited facts "
        "do not support (off with the offline provider).",
    )
    verify_model: str | None = Field(
        None, description="The model llm.verify asks; default: the provider's smallest."
    )

    @field_validator("verify_model")
    @classmethod
    def _a_model_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(
                "must name a model (e.g. claude-haiku-5-5), or be left out for the "
                "provider's smallest"
            )
        return value


class SmtpConfig(Strict):
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(None, description="Password from EXECBRIEF_SMTP_PASSWORD.")
    timeout_seconds: float = 30.0


class MailConfig(Strict):
    transport: TransportName = "file"
    sender: str | None = Field(None, alias="from", description="Must be verified for SES.")
    bcc_audit: str | None = None
    region: str | None = None
    configuration_set: str | None = None
    events_queue: str | None = Field(
        None, description="SQS queue receiving the configuration set's events (execbrief events)."
    )
    allowed_recipient_domains: list[str] = Field(
        default_factory=list, description="When set, refuse any recipient outside these domains."
    )
    env_file: Path | None = Field(
        None, description="A dotenv file whose SES_* variables fill settings left empty here."
    )
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PersonaRecipients(Strict):
    """Who receives one persona's brief in this workspace, without copying its file."""

    to: list[str] = Field(default_factory=list, description="Replaces the persona's deliver.to.")
    cc: list[str] | None = Field(None, description="Replaces the persona's deliver.cc when set.")


class Limits(Strict):
    """Bounds on what one collection reads and keeps; over one, a gap says what was skipped."""

    note_bytes: int = Field(
        2_000_000, ge=1, description="Largest handoff note read; a bigger one is skipped."
    )
    facts_per_source: int = Field(
        1000, ge=1, description="Facts kept per source file or resource; the rest are counted."
    )
    bundle_bytes: int = Field(
        20_000_000, ge=10_000, description="Largest bundle; the least severe facts give way."
    )


# DynamoDB's rule for table names; S3's for bucket names (lower case, no dots: a dotted
# name breaks TLS under virtual-hosted addressing); prefix parts become cache folder names.
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_S3_URL = re.compile(r"^s3://([a-z0-9][a-z0-9-]{1,61}[a-z0-9])((?:/[A-Za-z0-9_.=-]+)*)/?$")


def parse_s3_url(url: str) -> tuple[str, str] | None:
    """(bucket, key prefix) of `s3://bucket/a/b`; None for anything else, `.` and `..`
    folders included (the folders also name the local copy's folders)."""
    match = _S3_URL.match(url)
    if match is None:
        return None
    folders = [p for p in match.group(2).split("/") if p]
    if {".", ".."} & set(folders):
        return None
    return match.group(1), "/".join(folders)


class SendLedgerConfig(Strict):
    """Where send records go: the run folder's file, or a DynamoDB table shared by every
    machine that sends for this workspace."""

    backend: Literal["file", "dynamodb"] = "file"
    table: str | None = Field(None, description="The DynamoDB table (backend: dynamodb).")
    region: str | None = Field(None, description="Its region; default: the AWS default region.")
    workspace: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="This workspace's key in the table; default: `portfolio`.",
    )

    @model_validator(mode="after")
    def _table_fits_backend(self) -> SendLedgerConfig:
        if self.backend == "dynamodb" and not self.table:
            raise PydanticCustomError(
                "ledger_table", "backend dynamodb needs `table:` (the DynamoDB table name)"
            )
        if self.backend == "file" and (self.table or self.region):
            raise PydanticCustomError(
                "ledger_table", "`table` and `region` are for backend: dynamodb only"
            )
        if self.table is not None and not _TABLE_NAME.match(self.table):
            raise PydanticCustomError(
                "ledger_table",
                "table {table!r} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)",
                {"table": self.table},
            )
        return self


AUTO_RULE = "changed_without_warnings"


def _approval_schema(schema: dict[str, Any]) -> None:
    # the mapping as pydantic describes it, or the one word the before-validator takes
    mapping = dict(schema)
    schema.clear()
    schema["anyOf"] = [{"const": "manual", "type": "string"}, mapping]
    schema["description"] = mapping.pop("description", "")


class ApprovalPolicy(Strict):
    """`approval:` in execbrief.yaml: `manual` (the default: a reviewer approves each draft)
    or `{auto: changed_without_warnings}`: a draft with no grounding warnings whose evidence
    changed since its persona's last sent brief is approved by `auto-policy`."""

    auto: Literal["changed_without_warnings"] | None = Field(
        None, description="The one automatic rule; absent means manual."
    )
    personas: list[str] | None = Field(
        None, description="Only these personas are approved automatically; default: all."
    )

    model_config = ConfigDict(extra="forbid", json_schema_extra=_approval_schema)

    @model_validator(mode="before")
    @classmethod
    def _spelled(cls, value: object) -> object:
        if value == "manual" or value is None:
            return {}
        if not isinstance(value, dict):
            text = f"approval is `manual` or `{{auto: {AUTO_RULE}}}`, not {value!r}"
            raise PydanticCustomError("approval_policy", "{text}", {"text": text})
        return value

    @model_validator(mode="after")
    def _personas_need_auto(self) -> ApprovalPolicy:
        if self.personas is not None and self.auto is None:
            raise PydanticCustomError(
                "approval_policy",
                "approval.personas applies only with `auto: {rule}`",
                {"rule": AUTO_RULE},
            )
        return self

    @property
    def manual(self) -> bool:
        return self.auto is None


class WorkspaceConfig(Strict):
    """execbrief.yaml: the portfolio, where its evidence lives, and how briefs go out."""

    portfolio: str
    entities: list[Entity] = Field(min_length=1)
    sources: Sources = Field(default_factory=Sources)
    stale_after_days: int = Field(
        30, ge=1, description="A handoff note not updated for this long is a stale fact."
    )
    personas: list[str] | None = Field(None, description="Persona ids; default: all shipped.")
    llm: LlmConfig = Field(default_factory=LlmConfig)
    mail: MailConfig = Field(default_factory=MailConfig)
    recipients: dict[str, PersonaRecipients] = Field(
        default_factory=dict, description="Persona id -> to/cc for this workspace."
    )
    outputs: Path = Path("outputs")
    limits: Limits = Field(default_factory=Limits)
    ledger: SendLedgerConfig = Field(
        default_factory=SendLedgerConfig, description="The send ledger's backend."
    )
    archive: str | None = Field(
        None, description="s3://bucket/prefix: every finished run is uploaded under it."
    )

    @field_validator("archive")
    @classmethod
    def _archive_is_s3(cls, value: str | None) -> str | None:
        if value is not None and parse_s3_url(value) is None:
            raise PydanticCustomError(
                "archive_url",
                "expected s3://bucket/prefix (a lower-case bucket name, then folder names "
                "of letters, digits and _ . = -), got {value!r}",
                {"value": value},
            )
        return value.rstrip("/") if value is not None else None

    def ledger_ref(self) -> LedgerRef | None:
        """What a new run's manifest records as its ledger; None for the file backend."""
        if self.ledger.backend == "file" or self.ledger.table is None:
            return None
        return LedgerRef(
            table=self.ledger.table,
            region=self.ledger.region,
            workspace=self.ledger.workspace or self.portfolio,
        )

    approval: ApprovalPolicy = Field(
        default_factory=ApprovalPolicy,
        description="`manual`, or `{auto: changed_without_warnings}` for scheduled runs.",
    )


class CollectContext(BaseModel):
    """What a collector is given: the workspace it serves and the time of the collection."""

    root: Path = Field(description="The workspace folder; relative config paths start here.")
    config: WorkspaceConfig
    now: datetime
    cache: bool = Field(
        default=True,
        description="Whether a collector may reuse what an earlier run stored (the code "
        "audit's per-repository results); `execbrief collect --no-cache` turns it off.",
    )


@dataclass(frozen=True)
class Workspace:
    """A loaded workspace: its root folder and validated config."""

    root: Path
    config: WorkspaceConfig

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def outputs(self) -> Path:
        return (self.root / self.config.outputs).resolve()

    def resolve(self, relative: Path | str) -> Path:
        """A path from the config, relative to the workspace root."""
        return (self.root / relative).resolve()


def load_workspace(root: Path) -> Workspace:
    """Read and validate `root/execbrief.yaml`."""
    root = root.resolve()
    path = root / CONFIG_NAME
    if not root.is_dir():
        raise ConfigError("workspace folder does not exist", path=root)
    if not path.is_file():
        raise ConfigError(
            f"no {CONFIG_NAME} in this folder",
            path=root,
            hint=f"create one with `execbrief init {root}` or pass --workspace DIR",
        )
    config = load_yaml_model(path, WorkspaceConfig)
    ids = [entity.id for entity in config.entities]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"duplicate entity id {duplicates[0]!r}", path=path, field="entities")
    return Workspace(root=root, config=config)
