"""Facts about AWS resources: attribution to entities, and one builder per resource kind.

`FactMaker` is the single place a fact is made (collector, entity matcher and collection
time filled in); the builders below judge one resource each: its inventory fact and
the findings it warrants.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from fnmatch import fnmatchcase

from execbrief.models import Entity, Fact, Severity, Source
from execbrief.secrets.rules import is_secret_name as is_secret_name

from .snapshot import (
    COLLECTOR,
    AwsSnapshot,
    BackupSelection,
    CloudFrontDistribution,
    DynamoTable,
    HostedZone,
    LambdaFunction,
    ProjectTableCounts,
    S3Bucket,
)

INVENTORY = ["inventory", "infra"]

# Deprecation dates from AWS's Lambda runtime support policy: after them a runtime gets
# no security patches, and creating or updating functions on it is blocked later.
DEPRECATED_RUNTIMES: dict[str, date] = {
    "nodejs": date(2016, 10, 31),
    "nodejs4.3": date(2020, 3, 5),
    "nodejs6.10": date(2019, 8, 12),
    "nodejs8.10": date(2020, 3, 6),
    "nodejs10.x": date(2021, 7, 30),
    "nodejs12.x": date(2023, 3, 31),
    "nodejs14.x": date(2023, 12, 4),
    "nodejs16.x": date(2024, 6, 12),
    "nodejs18.x": date(2025, 9, 1),
    "nodejs20.x": date(2026, 4, 30),
    "nodejs22.x": date(2027, 4, 30),
    "python2.7": date(2021, 7, 15),
    "python3.6": date(2022, 7, 18),
    "python3.7": date(2023, 12, 4),
    "python3.8": date(2024, 10, 14),
    "python3.9": date(2025, 12, 15),
    "python3.10": date(2026, 6, 30),
    "python3.11": date(2026, 6, 30),
    "python3.12": date(2028, 10, 31),
    "java8": date(2024, 1, 8),
    "java8.al2": date(2026, 6, 30),
    "java11": date(2026, 6, 30),
    "java17": date(2026, 6, 30),
    "dotnetcore1.0": date(2019, 7, 27),
    "dotnetcore2.0": date(2019, 5, 30),
    "dotnetcore2.1": date(2022, 1, 5),
    "dotnetcore3.1": date(2023, 4, 3),
    "dotnet5.0": date(2022, 5, 10),
    "dotnet6": date(2024, 11, 12),
    "dotnet7": date(2024, 5, 14),
    "dotnet8": date(2026, 11, 10),
    "ruby2.5": date(2021, 7, 30),
    "ruby2.7": date(2023, 11, 27),
    "ruby3.2": date(2026, 3, 31),
    "go1.x": date(2024, 1, 8),
    "provided": date(2024, 1, 8),
    "provided.al2": date(2026, 6, 30),
}


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


class EntityMatcher:
    """Attributes a resource to a workspace entity: by its entity tag, else by its name."""

    def __init__(self, entities: list[Entity], tag_key: str) -> None:
        self._tag_key = tag_key
        self._labels = [
            (entity.id, _words(label))
            for entity in entities
            for label in (entity.id, entity.name, *entity.aliases)
            if _words(label)
        ]

    def resolve(self, name: str, tags: dict[str, str] | None = None) -> str | None:
        """The entity id for a resource called `name` with `tags`, if any matches."""
        tagged = (tags or {}).get(self._tag_key)
        if tagged:
            label = _words(tagged)
            for entity_id, candidate in self._labels:
                if label in (candidate, candidate.replace(" ", "")):
                    return entity_id
        return self.in_name(name)

    def in_name(self, name: str) -> str | None:
        """The entity whose longest id, name or alias appears in `name`; first one on a tie."""
        words = _words(name)
        compact = words.replace(" ", "")
        best: tuple[int, str] | None = None
        for entity_id, candidate in self._labels:
            joined = candidate.replace(" ", "")
            hit = f" {candidate} " in f" {words} " or (len(joined) >= 6 and joined in compact)
            if hit and (best is None or len(joined) > best[0]):
                best = (len(joined), entity_id)
        return best[1] if best else None


def slug(text: str) -> str:
    return _words(text).replace(" ", "_") or "other"


def usd(amount: float) -> str:
    return f"${amount:,.2f}"


class FactMaker:
    """Builds facts with the collector, entity matcher and collection time filled in."""

    def __init__(self, snapshot: AwsSnapshot, entities: list[Entity], now: datetime) -> None:
        self.snapshot = snapshot
        self.now = now
        self.match = EntityMatcher(entities, snapshot.entity_tag)
        self.account = snapshot.account_id or "unknown-account"

    def fact(
        self,
        kind: str,
        source: Source,
        title: str,
        *,
        severity: Severity = Severity.INFO,
        detail: str = "",
        entity: str | None = None,
        metrics: dict[str, float] | None = None,
        tags: list[str],
    ) -> Fact:
        return Fact.create(
            collector=COLLECTOR,
            kind=kind,
            source=source,
            severity=severity,
            title=title,
            detail=detail,
            entity=entity,
            metrics=metrics or {},
            tags=tags,
            observed_at=self.now,
        )

    def about(self, resource: str, entity: str | None = None) -> ResourceFacts:
        """A maker for the findings about one resource: its ARN and entity filled in."""
        return ResourceFacts(self, resource, entity)


@dataclass(frozen=True)
class ResourceFacts:
    """Findings about one resource, each at a section of it (`mfa`, `env:KEY`, `logging`)."""

    make: FactMaker
    resource: str
    entity: str | None

    def finding(
        self,
        kind: str,
        section: str | None,
        title: str,
        *,
        severity: Severity,
        detail: str,
        metrics: dict[str, float] | None = None,
        tags: list[str],
    ) -> Fact:
        return self.make.fact(
            kind,
            Source(resource=self.resource, section=section),
            title,
            severity=severity,
            detail=detail,
            entity=self.entity,
            metrics=metrics,
            tags=tags,
        )


# --- Lambda ---------------------------------------------------------------------------


def lambda_facts(make: FactMaker, fn: LambdaFunction, region: str) -> Iterator[Fact]:
    entity = make.match.resolve(fn.name, fn.tags)
    about = make.about(fn.arn, entity)
    where = Source(resource=fn.arn)
    runtime = fn.runtime or "container image"
    modified = fn.last_modified.date().isoformat() if fn.last_modified else "unknown"
    metrics: dict[str, float] = {
        "memory_mb": fn.memory_mb,
        "timeout_s": fn.timeout_s,
        "version_count": fn.version_count,
        "code_size_bytes": fn.code_size_bytes,
        "env_var_count": len(fn.env_var_names),
    }
    if fn.last_modified:
        metrics["days_since_modified"] = (make.now - fn.last_modified).days
    yield make.fact(
        "aws.lambda.function",
        where,
        f"Lambda {fn.name} ({runtime}, {fn.memory_mb} MB) in {region}",
        detail=(
            f"Runtime {runtime}; {fn.memory_mb} MB memory, {fn.timeout_s} s timeout; "
            f"last modified {modified}; {fn.version_count} published versions; "
            f"aliases: {', '.join(fn.aliases) or 'none'}; "
            f"environment variable names: {', '.join(fn.env_var_names) or 'none'}; "
            f"function URL: {fn.url_auth_type or 'none'}."
        ),
        entity=entity,
        metrics=metrics,
        tags=INVENTORY,
    )
    ends = DEPRECATED_RUNTIMES.get(fn.runtime or "")
    if ends is not None and ends <= make.now.date():
        yield make.fact(
            "aws.lambda.deprecated_runtime",
            where,
            f"Lambda {fn.name} runs on deprecated runtime {fn.runtime}",
            severity=Severity.HIGH,
            detail=(
                f"AWS deprecated {fn.runtime} on {ends.isoformat()}: it gets no security "
                "patches, and creating or updating functions on it is blocked afterwards."
            ),
            entity=entity,
            metrics={"days_since_deprecation": (make.now.date() - ends).days},
            tags=["security", "infra"],
        )
    # A variable whose value was found to be a secret has its own, stronger fact.
    by_value = {hit.where for hit in fn.env_secrets or []}
    for name in fn.env_var_names:
        if is_secret_name(name) and name not in by_value:
            yield about.finding(
                "aws.lambda.secret_env_name",
                f"env:{name}",
                f"Lambda {fn.name} keeps a secret in environment variable {name}",
                severity=Severity.HIGH,
                detail=(
                    f"{name} is stored in plain text in the function configuration, readable "
                    "by anyone allowed lambda:GetFunctionConfiguration; execbrief read its name "
                    "only. Move it to Secrets Manager or an SSM SecureString parameter."
                ),
                tags=["security", "secrets"],
            )
    if fn.url_auth_type == "NONE":
        yield about.finding(
            "aws.lambda.url_no_auth",
            "function-url",
            f"Lambda {fn.name} has a public function URL (AuthType NONE)",
            severity=Severity.HIGH,
            detail=(
                f"{fn.url or 'Its function URL'} accepts calls from anyone on the internet; "
                "any check happens in the function's own code, with no rate limit in front."
            ),
            tags=["security", "auth"],
        )


# --- S3 -------------------------------------------------------------------------------


def bucket_facts(
    make: FactMaker, bucket: S3Bucket, distributions: list[CloudFrontDistribution]
) -> Iterator[Fact]:
    entity = make.match.resolve(bucket.name, bucket.tags)
    where = Source(resource=f"arn:aws:s3:::{bucket.name}")
    served_by = [
        d.id for d in distributions if any(o.startswith(f"{bucket.name}.s3") for o in d.origins)
    ]
    block = bucket.public_access_block
    policy = "public" if bucket.policy_public else "present" if bucket.has_policy else "none"
    settings = [
        f"region {bucket.region}",
        "public access block: "
        + ("all on" if block and block.complete else "partial" if block else "none"),
        f"policy: {policy}",
        f"versioning {bucket.versioning}",
        f"encryption {bucket.encryption or 'none'}",
        f"{bucket.lifecycle_rules} lifecycle rules",
    ]
    if served_by:
        settings.append(f"origin of CloudFront {', '.join(served_by)}")
    yield make.fact(
        "aws.s3.bucket",
        where,
        f"S3 bucket {bucket.name}",
        detail="; ".join(settings) + ".",
        entity=entity,
        metrics={"lifecycle_rules": bucket.lifecycle_rules},
        tags=INVENTORY,
    )
    read = {"public_access_block", "policy", "acl"}.isdisjoint(bucket.unread)
    if read and bucket.is_public():
        through = " and ".join(
            part
            for part, on in (
                ("its bucket policy", bucket.policy_public),
                ("its ACL", bucket.acl_public),
            )
            if on
        )
        advice = (
            f" CloudFront {', '.join(served_by)} serves it; with origin access control the "
            "bucket could stay private."
            if served_by
            else ""
        )
        yield make.fact(
            "aws.s3.public",
            where,
            f"S3 bucket {bucket.name} is public",
            severity=Severity.HIGH,
            detail=f"Anyone on the internet can read it through {through}.{advice}",
            entity=entity,
            tags=["security"],
        )
    hygiene = [
        ("versioning", bucket.versioning != "Enabled", "aws.s3.no_versioning", Severity.LOW,
         f"S3 bucket {bucket.name} has no versioning",
         "An overwrite or delete cannot be undone."),
        ("encryption", bucket.encryption is None, "aws.s3.no_encryption", Severity.MEDIUM,
         f"S3 bucket {bucket.name} has no default encryption",
         "Objects are stored without a default server-side encryption rule."),
        ("lifecycle", bucket.lifecycle_rules == 0, "aws.s3.no_lifecycle", Severity.LOW,
         f"S3 bucket {bucket.name} has no lifecycle rules",
         "Old objects and versions stay in S3 Standard forever; tiering or expiry cuts cost."),
    ]  # fmt: skip
    for setting, missing, kind, severity, title, detail in hygiene:
        if missing and setting not in bucket.unread:
            yield make.fact(
                kind, where, title, severity=severity, detail=detail, entity=entity,
                tags=["infra", "cost"],
            )  # fmt: skip


# --- DynamoDB -------------------------------------------------------------------------


def table_facts(make: FactMaker, table: DynamoTable, region: str) -> Iterator[Fact]:
    entity = make.match.resolve(table.name, table.tags)
    where = Source(resource=table.arn)
    mode = "on-demand" if table.billing_mode == "PAY_PER_REQUEST" else "provisioned"
    yield make.fact(
        "aws.dynamodb.table",
        where,
        f"DynamoDB table {table.name} ({mode}) in {region}",
        detail=(
            f"{table.item_count} items, {table.size_bytes} bytes (DynamoDB's estimate); "
            f"billing {mode}; point-in-time recovery {'on' if table.pitr else 'off'}."
        ),
        entity=entity,
        metrics={"item_count": table.item_count, "size_bytes": table.size_bytes},
        tags=INVENTORY,
    )
    if not table.pitr and "pitr" not in table.unread:
        yield make.fact(
            "aws.dynamodb.no_pitr",
            where,
            f"DynamoDB table {table.name} has no point-in-time recovery",
            severity=Severity.MEDIUM,
            detail="A bad write or delete cannot be rolled back to an earlier second.",
            entity=entity,
            tags=["infra", "resilience"],
        )


def _selected(table: DynamoTable, selection: BackupSelection) -> bool:
    if any(fnmatchcase(table.arn, pattern) for pattern in selection.not_resources):
        return False
    by_arn = any(fnmatchcase(table.arn, pattern) for pattern in selection.resources)
    by_tag = any(table.tags.get(key) == value for key, value in selection.tags)
    return by_arn or by_tag


def table_protection_facts(
    make: FactMaker, table: DynamoTable, selections: list[BackupSelection] | None
) -> Iterator[Fact]:
    """Deletion protection and AWS Backup coverage of one table."""
    entity = make.match.resolve(table.name, table.tags)
    about = make.about(table.arn, entity)
    if table.deletion_protection is False:
        yield about.finding(
            "aws.dynamodb.no_deletion_protection",
            "deletion-protection",
            f"DynamoDB table {table.name} can be deleted in one call",
            severity=Severity.MEDIUM,
            detail=(
                "No deletion protection: one wrong command or script wipes the table and every "
                "record in it; turn deletion protection on."
            ),
            tags=["infra", "resilience"],
        )
    if selections is not None and not any(_selected(table, s) for s in selections):
        yield about.finding(
            "aws.dynamodb.no_backup_plan",
            "backup-plan",
            f"DynamoDB table {table.name} is in no AWS Backup plan",
            severity=Severity.MEDIUM,
            detail=(
                "No scheduled backup is kept apart from the table, so a deleted table or a bad "
                "migration past the recovery window is gone for good."
            ),
            tags=["infra", "resilience"],
        )


def project_facts(make: FactMaker, project: ProjectTableCounts) -> Iterator[Fact]:
    by_entity: dict[str, dict[str, int]] = {}
    for row in project.counts:
        statuses = by_entity.setdefault(row.entity, {})
        statuses[row.status] = statuses.get(row.status, 0) + row.count
    scope = f"a scan of {project.scanned_items} items" + (
        " that stopped at its bound (counts are a floor)" if project.truncated else ""
    )
    for value, statuses in sorted(by_entity.items()):
        total = sum(statuses.values())
        listing = ", ".join(f"{status or '(none)'} {n}" for status, n in sorted(statuses.items()))
        metrics: dict[str, float] = {"total": total}
        metrics |= {f"status_{slug(status or 'none')}": n for status, n in statuses.items()}
        yield make.fact(
            "aws.dynamodb.items",
            Source(resource=project.arn, section=f"{project.entity_attribute}={value}"),
            f"{project.table}: {total} items for {value or '(no entity)'}",
            detail=f"By {project.status_attribute}: {listing}; from {scope}.",
            entity=make.match.resolve(value, {make.snapshot.entity_tag: value}) if value else None,
            metrics=metrics,
            tags=["bookings", "sales"],
        )


# --- CloudFront, Route53 --------------------------------------------------------------


def distribution_facts(
    make: FactMaker, distribution: CloudFrontDistribution, web_acls: set[str]
) -> Iterator[Fact]:
    names = " ".join([*distribution.aliases, *distribution.origins])
    entity = make.match.resolve(names, distribution.tags)
    where = Source(resource=distribution.arn)
    label = ", ".join(distribution.aliases) or distribution.domain_name
    acl = distribution.web_acl_id
    waf = "none" if not acl else acl.rsplit("/", 2)[-2] if acl in web_acls else acl
    yield make.fact(
        "aws.cloudfront.distribution",
        where,
        f"CloudFront {distribution.id} ({label})",
        detail=(
            f"Origins: {', '.join(distribution.origins) or 'none'}; viewer protocol policy "
            f"{distribution.viewer_protocol_policy}; web ACL {waf}; "
            f"{'enabled' if distribution.enabled else 'disabled'}."
        ),
        entity=entity,
        metrics={"origin_count": len(distribution.origins)},
        tags=INVENTORY,
    )
    if not acl:
        plain_http = distribution.viewer_protocol_policy == "allow-all"
        yield make.fact(
            "aws.cloudfront.no_waf",
            where,
            f"CloudFront {distribution.id} ({label}) has no WAF web ACL",
            severity=Severity.MEDIUM,
            detail=(
                "Requests reach the origins with no rate limiting, bot or injection filtering."
                + (" It also still serves plain HTTP (allow-all)." if plain_http else "")
            ),
            entity=entity,
            tags=["security"],
        )


def zone_fact(make: FactMaker, zone: HostedZone) -> Fact:
    return make.fact(
        "aws.route53.zone",
        Source(resource=f"arn:aws:route53:::hostedzone/{zone.id}"),
        f"Route53 zone {zone.name.rstrip('.')} ({zone.record_count} records)",
        detail=f"{'Private' if zone.private else 'Public'} hosted zone {zone.id}.",
        entity=make.match.resolve(zone.name, zone.tags),
        metrics={"record_count": zone.record_count},
        tags=["inventory", "domains"],
    )
