"""The AWS inventory snapshot: what one account held at one moment, versioned, secret-free.

A snapshot is the boundary between reading AWS and judging what was read: the live
reader fills it, `execbrief collect --aws-snapshot-out` writes it, `sources.aws.snapshot`
replays it. Its format is documented in docs/AWS_SNAPSHOT.md. It holds names, settings
and counts only: Lambda environment variable values and DynamoDB item values never
enter it (the project table contributes only the values of its two count attributes).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from execbrief.errors import CollectorError

COLLECTOR = "aws_inventory"
AWS_SNAPSHOT_SCHEMA: Final = "execbrief.aws-snapshot/1"
GLOBAL_REGION = "global"

Tags = dict[str, str]
Unread = list[str]

_UNREAD = "Settings that could not be read (a gap says why); absent values there mean unknown."


class Strict(BaseModel):
    """Snapshot parts are read from disk: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


_NEW = "None in snapshots written before execbrief read it, and when its call failed."


# `<bucket>.s3.amazonaws.com`, `<bucket>.s3.<region>.amazonaws.com`, `<bucket>.s3-<region>…`,
# and the website endpoints `<bucket>.s3-website-<region>…` / `<bucket>.s3-website.<region>…`.
_S3_HOST = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?:[.-][a-z0-9.-]+)?\.amazonaws\.com(?:\.cn)?$"
)


def s3_bucket_of(host: str) -> str | None:
    """The bucket an S3 REST or website host name serves, if it is one."""
    match = _S3_HOST.match(host.lower().rstrip("."))
    return match.group("bucket") if match else None


class PolicyStatement(Strict):
    """One statement of a resource or identity policy, normalised to lists."""

    effect: Literal["Allow", "Deny"]
    principals: list[str] = Field(
        default_factory=list,
        description="`*` for anyone; else the principal values (accounts, ARNs, services).",
    )
    actions: list[str] = Field(default_factory=list)
    not_actions: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    conditions: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict, description="Operator -> condition key -> values."
    )


class SecretHit(Strict):
    """A secret found by its value; only the masked value is ever kept."""

    rule: str = Field(description="Rule id of the secret catalogue, e.g. stripe_live_secret.")
    label: str = Field(description="What it is, e.g. `Stripe live secret key`.")
    severity: Literal["critical", "high", "medium", "low", "info"]
    masked: str = Field(description="The value masked: first 8 characters, `…`, last 4.")
    where: str = Field(description="Variable name, or `path:line` inside the code archive.")


class LambdaLayer(Strict):
    arn: str = Field(description="Layer version ARN.")
    code_secrets: list[SecretHit] | None = Field(None, description=_NEW)
    unread: Unread = Field(default_factory=list, description=_UNREAD)


class LambdaFunction(Strict):
    name: str
    arn: str
    runtime: str | None = Field(None, description="Runtime id; none for container images.")
    memory_mb: int
    timeout_s: int
    code_size_bytes: int = 0
    last_modified: datetime | None = None
    version_count: int = Field(0, description="Published versions, $LATEST excluded.")
    aliases: list[str] = Field(default_factory=list)
    env_var_names: list[str] = Field(
        default_factory=list, description="Environment variable names; values are never read."
    )
    url_auth_type: Literal["NONE", "AWS_IAM"] | None = Field(
        None, description="AuthType of the function URL; none when it has no URL."
    )
    url: str | None = None
    url_cors_origins: list[str] | None = Field(None, description="Function URL CORS origins.")
    policy_statements: list[PolicyStatement] | None = Field(
        None, description="Resource policy; [] when it has none. " + _NEW
    )
    env_secrets: list[SecretHit] | None = Field(
        None, description="Environment values that are secrets, masked. " + _NEW
    )
    code_secrets: list[SecretHit] | None = Field(
        None, description="Secrets in the deployed code archive, masked. " + _NEW
    )
    layers: list[str] = Field(default_factory=list, description="Layer version ARNs.")
    tags: Tags = Field(default_factory=dict)
    unread: Unread = Field(default_factory=list, description=_UNREAD)


class PublicAccessBlock(Strict):
    block_public_acls: bool
    ignore_public_acls: bool
    block_public_policy: bool
    restrict_public_buckets: bool

    @property
    def complete(self) -> bool:
        """All four switches on: nothing in the bucket can be made public."""
        return all(
            (
                self.block_public_acls,
                self.ignore_public_acls,
                self.block_public_policy,
                self.restrict_public_buckets,
            )
        )


class S3Bucket(Strict):
    name: str
    region: str
    created_at: datetime | None = None
    public_access_block: PublicAccessBlock | None = Field(
        None, description="The bucket's own block; none when it has no configuration."
    )
    policy_public: bool = Field(False, description="Policy status IsPublic.")
    has_policy: bool = False
    acl_public: bool = Field(False, description="The ACL grants AllUsers or AuthenticatedUsers.")
    acl_public_permissions: list[str] | None = Field(
        None, description="Permissions the ACL grants AllUsers/AuthenticatedUsers. " + _NEW
    )
    policy_statements: list[PolicyStatement] | None = Field(
        None, description="The bucket policy; [] when it has none. " + _NEW
    )
    access_logging: bool | None = Field(None, description="Server access logging on. " + _NEW)
    versioning: Literal["Enabled", "Suspended", "Off"] = "Off"
    encryption: str | None = Field(None, description="Default SSE algorithm; none when unset.")
    lifecycle_rules: int = 0
    tags: Tags = Field(default_factory=dict)
    unread: Unread = Field(default_factory=list, description=_UNREAD)

    def is_public(self) -> bool:
        """Public through its policy or its ACL, unless its own block neutralises that."""
        block = self.public_access_block
        via_policy = self.policy_public and not (block and block.restrict_public_buckets)
        via_acl = self.acl_public and not (block and block.ignore_public_acls)
        return via_policy or via_acl


class DynamoTable(Strict):
    name: str
    arn: str
    status: str = "ACTIVE"
    billing_mode: Literal["PAY_PER_REQUEST", "PROVISIONED"] = "PROVISIONED"
    pitr: bool = Field(False, description="Point-in-time recovery enabled.")
    item_count: int = Field(0, description="DynamoDB's own estimate, refreshed about 6-hourly.")
    size_bytes: int = 0
    deletion_protection: bool | None = Field(None, description=_NEW)
    tags: Tags = Field(default_factory=dict)
    unread: Unread = Field(default_factory=list, description=_UNREAD)


class BackupSelection(Strict):
    """What one AWS Backup plan selection covers: resource ARN patterns and tag conditions."""

    plan: str
    name: str
    resources: list[str] = Field(default_factory=list, description="ARNs; `*` wildcards.")
    not_resources: list[str] = Field(default_factory=list)
    tags: list[tuple[str, str]] = Field(
        default_factory=list, description="(key, value) pairs; a resource with any is selected."
    )


class ApiRoute(Strict):
    id: str
    key: str = Field(description="`METHOD /path`, or a route key such as `$default`.")
    authorization_type: str = Field(description="NONE, AWS_IAM, JWT, CUSTOM, COGNITO_USER_POOLS.")
    authorizer_id: str | None = None
    api_key_required: bool = False

    @property
    def unauthenticated(self) -> bool:
        """Anyone may call it: no authorizer and no API key."""
        return self.authorization_type == "NONE" and not self.api_key_required


class ApiStage(Strict):
    name: str
    throttle_rate_limit: float | None = Field(None, description="Requests per second.")
    throttle_burst_limit: int | None = None
    web_acl_arn: str | None = None

    @property
    def throttled(self) -> bool:
        return self.throttle_rate_limit is not None or self.throttle_burst_limit is not None


class ApiGatewayApi(Strict):
    id: str
    name: str
    arn: str
    protocol: Literal["REST", "HTTP", "WEBSOCKET"]
    endpoint: str | None = None
    routes: list[ApiRoute] = Field(default_factory=list)
    stages: list[ApiStage] = Field(default_factory=list)
    tags: Tags = Field(default_factory=dict)
    unread: Unread = Field(default_factory=list, description=_UNREAD)


class SesIdentity(Strict):
    name: str
    kind: Literal["EMAIL_ADDRESS", "DOMAIN"]
    verification_status: str = Field(description="Success, Pending, Failed, TemporaryFailure.")
    dkim_enabled: bool = False
    dkim_status: str | None = None
    policy_statements: list[PolicyStatement] | None = Field(
        None, description="Sending authorization policies; [] when none. " + _NEW
    )


class SesAccount(Strict):
    sandbox: bool | None = Field(None, description="None when sesv2 GetAccount was unreadable.")
    sending_enabled: bool | None = None
    max_24h_send: float | None = None
    max_send_rate: float | None = None
    sent_last_24h: float | None = None
    receipt_rule_sets: list[str] = Field(default_factory=list)
    active_receipt_rule_set: str | None = None


class WebAcl(Strict):
    name: str
    id: str
    arn: str
    scope: Literal["REGIONAL", "CLOUDFRONT"]


class RegionInventory(Strict):
    lambda_functions: list[LambdaFunction] = Field(default_factory=list)
    dynamodb_tables: list[DynamoTable] = Field(default_factory=list)
    apis: list[ApiGatewayApi] = Field(default_factory=list)
    ses_identities: list[SesIdentity] = Field(default_factory=list)
    ses_account: SesAccount | None = None
    web_acls: list[WebAcl] = Field(default_factory=list)
    backup_selections: list[BackupSelection] | None = Field(None, description=_NEW)
    public_ips: list[str] | None = Field(
        None, description="Elastic IPs and network interface public IPs. " + _NEW
    )
    lambda_layers: list[LambdaLayer] = Field(
        default_factory=list, description="Layer versions the region's functions use."
    )


class CloudFrontOrigin(Strict):
    id: str
    domain_name: str
    s3: bool = Field(description="An S3 REST origin (not a website endpoint).")
    oac_id: str | None = Field(None, description="Origin access control id.")
    oai: str | None = Field(None, description="Legacy origin access identity.")


class CacheBehavior(Strict):
    path: str = Field(description="Path pattern; `*` is the default behavior.")
    viewer_protocol_policy: str


class CloudFrontDistribution(Strict):
    id: str
    arn: str
    domain_name: str
    aliases: list[str] = Field(default_factory=list)
    enabled: bool = True
    web_acl_id: str | None = Field(None, description="WAFv2 web ACL ARN or classic WAF id.")
    viewer_protocol_policy: str = Field(
        description="Of the default cache behavior: allow-all, redirect-to-https, https-only."
    )
    origins: list[str] = Field(default_factory=list, description="Origin domain names.")
    price_class: str | None = None
    origin_details: list[CloudFrontOrigin] | None = Field(None, description=_NEW)
    behaviors: list[CacheBehavior] | None = Field(
        None, description="Every cache behavior, the default one as `*`. " + _NEW
    )
    logging: bool | None = Field(None, description="Standard logging on. " + _NEW)
    tags: Tags = Field(default_factory=dict)
    unread: Unread = Field(default_factory=list, description=_UNREAD)


class DnsRecord(Strict):
    name: str
    type: str
    values: list[str] = Field(default_factory=list, description="Record values (not aliases).")
    alias: str | None = Field(None, description="Alias target DNS name.")


class HostedZone(Strict):
    id: str
    name: str
    private: bool = False
    record_count: int = 0
    records: list[DnsRecord] | None = Field(None, description="A, AAAA and CNAME records. " + _NEW)
    tags: Tags = Field(default_factory=dict)
    unread: Unread = Field(default_factory=list, description=_UNREAD)


class S3Account(Strict):
    public_access_block: PublicAccessBlock | None = Field(
        None, description="The account-level block; none when the account has none."
    )


class Domain(Strict):
    name: str
    transfer_lock: bool | None = None
    auto_renew: bool | None = None
    privacy: bool | None = Field(None, description="Registrant, admin and tech privacy all on.")
    expires: datetime | None = None


class AccessKey(Strict):
    slot: int = Field(description="1 or 2, as in the credential report.")
    active: bool
    last_rotated: datetime | None = None
    last_used: datetime | None = None


class IamPolicy(Strict):
    name: str
    arn: str = Field(description="Policy ARN; for an inline policy, its owner's ARN.")
    inline: bool = False
    attachments: int = Field(0, description="Attachments of a managed policy.")
    statements: list[PolicyStatement] = Field(default_factory=list)


class IamUser(Strict):
    name: str
    arn: str
    created_at: datetime | None = None
    password_enabled: bool | None = Field(None, description="Console password; from the report.")
    password_last_used: datetime | None = None
    mfa_active: bool | None = None
    access_keys: list[AccessKey] = Field(default_factory=list)
    managed_policies: list[str] = Field(default_factory=list, description="Attached ARNs.")
    inline_policies: list[IamPolicy] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)


class IamGroup(Strict):
    name: str
    arn: str
    managed_policies: list[str] = Field(default_factory=list)
    inline_policies: list[IamPolicy] = Field(default_factory=list)


class RootAccount(Strict):
    mfa_enabled: bool | None = None
    access_keys_present: bool | None = None
    password_last_used: datetime | None = None
    access_key_last_used: datetime | None = None


class IamAccount(Strict):
    root: RootAccount = Field(default_factory=RootAccount)
    users: list[IamUser] = Field(default_factory=list)
    groups: list[IamGroup] = Field(default_factory=list)
    policies: list[IamPolicy] = Field(
        default_factory=list, description="Customer-managed policies (default versions)."
    )
    password_policy: bool | None = Field(None, description="An account password policy is set.")
    unread: Unread = Field(default_factory=list, description=_UNREAD)


class GlobalInventory(Strict):
    s3_buckets: list[S3Bucket] = Field(
        default_factory=list, description="Every bucket of the account; each names its region."
    )
    cloudfront_distributions: list[CloudFrontDistribution] = Field(default_factory=list)
    cloudfront_web_acls: list[WebAcl] = Field(default_factory=list)
    route53_zones: list[HostedZone] = Field(default_factory=list)
    route53_domains: list[Domain] | None = Field(None, description=_NEW)
    s3_account: S3Account | None = Field(None, description=_NEW)
    iam: IamAccount | None = Field(None, description=_NEW)


class CostMonth(Strict):
    start: date
    end: date = Field(description="Exclusive, as Cost Explorer reports it.")
    total: float
    by_service: dict[str, float] = Field(default_factory=dict)
    by_entity: dict[str, float] = Field(
        default_factory=dict,
        description="Cost by value of the entity tag; the key '' holds untagged cost.",
    )
    estimated: bool = False


class CostForecast(Strict):
    """The current month's expected cost: actuals so far plus Cost Explorer's forecast."""

    start: date = Field(description="First day of the month.")
    end: date = Field(description="First day of the next month (exclusive).")
    month_to_date: float
    remaining: float = Field(description="Forecast from the snapshot day to the month's end.")
    amount: float = Field(description="month_to_date + remaining.")


class CostReport(Strict):
    currency: str = "USD"
    metric: Literal["UnblendedCost"] = "UnblendedCost"
    months: list[CostMonth] = Field(default_factory=list)
    forecast: CostForecast | None = None


class ItemCount(Strict):
    entity: str = Field(description="Value of the entity attribute; '' when the item has none.")
    status: str = Field(description="Value of the status attribute; '' when the item has none.")
    count: int


class ProjectTableCounts(Strict):
    table: str
    arn: str
    region: str
    entity_attribute: str
    status_attribute: str
    scanned_items: int
    truncated: bool = Field(description="The scan stopped at its bound before the table's end.")
    counts: list[ItemCount] = Field(default_factory=list)


Problem = Literal[
    "access_denied",
    "opt_in_required",
    "region_not_enabled",
    "unreachable",
    "unsupported_operation",
    "credentials",
    "error",
]


class SnapshotGap(Strict):
    """One kind of call that failed while the snapshot was taken."""

    service: str = Field(description="boto3 service name, e.g. ce, lambda, s3.")
    region: str = Field(description="Region, or `global` for account-wide services.")
    action: str = Field(description="The IAM action the call needs, e.g. ce:GetCostAndUsage.")
    problem: Problem
    message: str
    resource: str | None = Field(None, description="The first resource the call failed on.")
    count: int = Field(1, ge=1, description="How many calls failed this way.")


class AwsSnapshot(Strict):
    """One account's inventory at `taken_at`; the input of `snapshot_facts`."""

    schema_: Literal["execbrief.aws-snapshot/1"] = Field(AWS_SNAPSHOT_SCHEMA, alias="schema")
    account_id: str | None = None
    taken_at: datetime
    entity_tag: str = Field("entity", description="Tag key that names a resource's entity.")
    regions: dict[str, RegionInventory] = Field(default_factory=dict)
    global_: GlobalInventory = Field(default_factory=GlobalInventory, alias="global")
    cost: CostReport | None = None
    project_table: ProjectTableCounts | None = None
    gaps: list[SnapshotGap] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def write_snapshot(snapshot: AwsSnapshot, path: Path) -> None:
    """Write `snapshot` as indented JSON to `path`, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = snapshot.model_dump_json(by_alias=True, indent=2, exclude_none=False)
    path.write_text(text + "\n", encoding="utf-8")


def read_snapshot(path: Path) -> AwsSnapshot:
    """Load and validate a snapshot file; a missing or invalid one is a CollectorError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CollectorError(
            f"cannot read the AWS snapshot: {exc.strerror or exc}",
            collector=COLLECTOR,
            source=str(path),
            hint="fix sources.aws.snapshot, or drop it to read the live account",
        ) from exc
    try:
        return AwsSnapshot.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise CollectorError(
            f"not a valid {AWS_SNAPSHOT_SCHEMA} snapshot: {where}: {first['msg']}",
            collector=COLLECTOR,
            source=str(path),
            hint="write it again with `execbrief collect --aws-snapshot-out`",
        ) from exc
