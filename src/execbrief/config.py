"""The workspace: execbrief.yaml's models, its folder, and the paths it names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat

from execbrief.errors import ConfigError
from execbrief.models import Entity, Strict
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
    cache_write: float
    cache_read: float


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
