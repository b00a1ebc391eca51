"""Readers for compute and storage: Lambda, S3, DynamoDB (tables and the project table).

Readers keep names, settings and counts and drop everything else at once: a Lambda
function's environment becomes its variable names and the masked secrets among its
values, a project-table item becomes the values of its two count attributes. A setting
whose call fails is listed in the resource's `unread` (its gap is recorded by the calls),
so the facts never mistake "could not read" for "not configured".
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .calls import CallFailed, CallScope, Response, ServiceCalls, fan_out
from .lambda_code import (
    CodeUnavailable,
    Download,
    archive_secrets,
    download_code,
    env_secrets,
)
from .policies import parse_policy
from .snapshot import (
    BackupSelection,
    DynamoTable,
    ItemCount,
    LambdaFunction,
    LambdaLayer,
    PolicyStatement,
    ProjectTableCounts,
    PublicAccessBlock,
    S3Account,
    S3Bucket,
    SecretHit,
)

_PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


def parse_aws_time(text: str | None) -> datetime | None:
    """Lambda's `2024-05-01T12:00:00.000+0000` and moto's nanosecond variant, as UTC."""
    if not text:
        return None
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$", text)
    if match is None:
        return None
    stamp, fraction, zone = match.groups()
    offset = "+00:00" if zone in (None, "Z") else f"{zone[:3]}:{zone[-2:]}"
    micro = (fraction or "0")[:6].ljust(6, "0")
    return datetime.fromisoformat(f"{stamp}.{micro}{offset}").astimezone(UTC)


def tag_dict(pairs: Iterable[dict[str, str]]) -> dict[str, str]:
    """AWS's `[{Key, Value}]` tag lists as a mapping."""
    return {pair["Key"]: pair.get("Value", "") for pair in pairs}


# --- Lambda ---------------------------------------------------------------------------


def read_lambda(scope: CallScope, download: Download = download_code) -> list[LambdaFunction]:
    """Every function of the region: versions, aliases, URL, policy, tags, secrets."""
    calls = scope("lambda")
    configs = [
        config for page in calls.pages("list_functions") for config in page.get("Functions", [])
    ]
    functions = fan_out(lambda config: _lambda_function(calls, config, download), configs)
    return sorted(functions, key=lambda function: function.name)


def _lambda_function(calls: ServiceCalls, config: Response, download: Download) -> LambdaFunction:
    name, arn = config["FunctionName"], config["FunctionArn"]
    variables = config.get("Environment", {}).get("Variables", {})
    # Only the names and the masked secrets leave these lines; the values are dropped
    # with the response.
    env_names = sorted(variables)
    found_in_env = env_secrets(variables)
    versions = calls.attempt(
        lambda: sum(
            1
            for page in calls.pages("list_versions_by_function", FunctionName=name)
            for version in page.get("Versions", [])
            if version.get("Version") != "$LATEST"
        )
    )
    aliases = calls.attempt(
        lambda: sorted(
            alias["Name"]
            for page in calls.pages("list_aliases", FunctionName=name)
            for alias in page.get("Aliases", [])
        )
    )
    url = calls.attempt(
        lambda: calls.call(
            "get_function_url_config",
            absent=frozenset({"ResourceNotFoundException"}),
            FunctionName=name,
        )
    )
    tags = calls.attempt(lambda: calls.call("list_tags", Resource=arn).get("Tags", {}))
    policy = calls.attempt(_function_policy, calls, name)
    code = (
        None
        if config.get("PackageType") == "Image"
        else calls.attempt(_code_secrets, calls, name, download)
    )
    unread = [
        setting
        for setting, value in (
            ("versions", versions),
            ("aliases", aliases),
            ("url", url),
            ("tags", tags),
            ("policy", policy),
        )
        if value is None
    ] + (["code"] if code is None and config.get("PackageType") != "Image" else [])
    return LambdaFunction(
        name=name,
        arn=arn,
        runtime=config.get("Runtime"),
        memory_mb=config.get("MemorySize", 128),
        timeout_s=config.get("Timeout", 3),
        code_size_bytes=config.get("CodeSize", 0),
        last_modified=parse_aws_time(config.get("LastModified")),
        version_count=versions or 0,
        aliases=aliases or [],
        env_var_names=env_names,
        url_auth_type=(url or {}).get("AuthType"),
        url=(url or {}).get("FunctionUrl"),
        url_cors_origins=(url or {}).get("Cors", {}).get("AllowOrigins", []) if url else None,
        policy_statements=policy,
        env_secrets=found_in_env,
        code_secrets=code,
        layers=[layer["Arn"] for layer in config.get("Layers", [])],
        tags=tags or {},
        unread=unread,
    )


def _function_policy(calls: ServiceCalls, name: str) -> list[PolicyStatement]:
    response = calls.call(
        "get_policy", absent=frozenset({"ResourceNotFoundException"}), FunctionName=name
    )
    return parse_policy(response.get("Policy"))


def _scanned(
    calls: ServiceCalls, operation: str, location: str | None, download: Download
) -> list[SecretHit]:
    """The secrets of the archive at `location`; a failed download is the call's gap."""
    if not location:
        return []
    try:
        return archive_secrets(download(location, calls.endpoint_url))
    except (OSError, zipfile.BadZipFile, CodeUnavailable) as exc:
        calls.record(operation, exc)
        raise CallFailed(operation) from exc


def _code_secrets(calls: ServiceCalls, name: str, download: Download) -> list[SecretHit]:
    location = calls.call("get_function", FunctionName=name).get("Code", {}).get("Location")
    return _scanned(calls, "get_function", location, download)


def read_lambda_layers(scope: CallScope, download: Download = download_code) -> list[LambdaLayer]:
    """The latest version of each layer the account owns, its archive scanned for secrets."""
    calls = scope("lambda")
    latest = [
        layer["LatestMatchingVersion"]
        for page in calls.pages("list_layers")
        for layer in page.get("Layers", [])
        if layer.get("LatestMatchingVersion")
    ]

    def read(version: Response) -> LambdaLayer:
        arn = version["LayerVersionArn"]
        layer_name = arn.split(":")[6]
        secrets = calls.attempt(
            lambda: _scanned(
                calls,
                "get_layer_version",
                calls.call(
                    "get_layer_version", LayerName=layer_name, VersionNumber=version["Version"]
                )
                .get("Content", {})
                .get("Location"),
                download,
            )
        )
        return LambdaLayer(
            arn=arn, code_secrets=secrets, unread=[] if secrets is not None else ["code"]
        )

    return sorted(fan_out(read, latest), key=lambda layer: layer.arn)


# --- S3 -------------------------------------------------------------------------------


def read_s3(scope: CallScope) -> list[S3Bucket]:
    """Every bucket of the account with its exposure and hygiene settings."""
    calls = scope("s3")
    entries = [entry for page in calls.pages("list_buckets") for entry in page.get("Buckets", [])]
    buckets = fan_out(lambda entry: _bucket(calls, entry), entries)
    return sorted(buckets, key=lambda bucket: bucket.name)


def read_s3_account(scope: CallScope) -> S3Account:
    """The account-level S3 public access block (S3 Control)."""
    calls = scope("s3control")
    response = calls.call(
        "get_public_access_block", absent=frozenset({_NO_BLOCK}), AccountId=scope.account_id
    )
    config = response.get("PublicAccessBlockConfiguration")
    return S3Account(public_access_block=_public_access_block(config) if config else None)


def _bucket(calls: ServiceCalls, entry: Response) -> S3Bucket:
    name = entry["Name"]
    unread: list[str] = []

    def setting(label: str, operation: str, *absent: str) -> Response:
        response = calls.attempt(
            lambda: calls.call(operation, absent=frozenset(absent), Bucket=name)
        )
        if response is None:
            unread.append(label)
        return response or {}

    location = setting("region", "get_bucket_location")
    block = setting("public_access_block", "get_public_access_block", _NO_BLOCK)
    policy = setting("policy", "get_bucket_policy_status", "NoSuchBucketPolicy")
    acl = setting("acl", "get_bucket_acl")
    versioning = setting("versioning", "get_bucket_versioning")
    encryption = setting("encryption", "get_bucket_encryption", _NO_ENCRYPTION)
    lifecycle = setting("lifecycle", "get_bucket_lifecycle_configuration", _NO_LIFECYCLE)
    tagging = setting("tags", "get_bucket_tagging", "NoSuchTagSet")
    document = setting("policy_document", "get_bucket_policy", "NoSuchBucketPolicy")
    logging = setting("logging", "get_bucket_logging")
    public_grants = sorted(
        {
            str(grant.get("Permission"))
            for grant in acl.get("Grants", [])
            if grant.get("Grantee", {}).get("URI") in _PUBLIC_GRANTEES
        }
    )
    rules = encryption.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    block_config = block.get("PublicAccessBlockConfiguration")
    return S3Bucket(
        name=name,
        region=_bucket_region(location.get("LocationConstraint")),
        created_at=entry.get("CreationDate"),
        public_access_block=_public_access_block(block_config) if block_config else None,
        has_policy=bool(policy),
        policy_public=bool(policy.get("PolicyStatus", {}).get("IsPublic", False)),
        acl_public=bool(public_grants),
        acl_public_permissions=None if "acl" in unread else public_grants,
        policy_statements=None
        if "policy_document" in unread
        else parse_policy(document.get("Policy")),
        access_logging=None if "logging" in unread else "LoggingEnabled" in logging,
        versioning=versioning.get("Status", "Off"),
        encryption=rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        if rules
        else None,
        lifecycle_rules=len(lifecycle.get("Rules", [])),
        tags=tag_dict(tagging.get("TagSet", [])),
        unread=unread,
    )


_NO_BLOCK = "NoSuchPublicAccessBlockConfiguration"
_NO_ENCRYPTION = "ServerSideEncryptionConfigurationNotFoundError"
_NO_LIFECYCLE = "NoSuchLifecycleConfiguration"


def _bucket_region(constraint: str | None) -> str:
    # GetBucketLocation answers null for us-east-1 and the legacy `EU` for eu-west-1.
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint or "")


def _public_access_block(config: Response) -> PublicAccessBlock:
    return PublicAccessBlock(
        block_public_acls=config.get("BlockPublicAcls", False),
        ignore_public_acls=config.get("IgnorePublicAcls", False),
        block_public_policy=config.get("BlockPublicPolicy", False),
        restrict_public_buckets=config.get("RestrictPublicBuckets", False),
    )


# --- DynamoDB -------------------------------------------------------------------------


def read_dynamodb(scope: CallScope) -> list[DynamoTable]:
    """Every table of the region with billing mode, PITR, size and tags."""
    calls = scope("dynamodb")
    tables: list[DynamoTable] = []
    for page in calls.pages("list_tables"):
        for name in page.get("TableNames", []):
            table = calls.attempt(_table, calls, name)
            if table is not None:
                tables.append(table)
    return sorted(tables, key=lambda table: table.name)


def _table(calls: ServiceCalls, name: str) -> DynamoTable:
    description = calls.call("describe_table", TableName=name)["Table"]
    arn = description["TableArn"]
    backups = calls.attempt(lambda: calls.call("describe_continuous_backups", TableName=name))
    tags = calls.attempt(
        lambda: tag_dict(
            tag
            for page in calls.pages("list_tags_of_resource", ResourceArn=arn)
            for tag in page.get("Tags", [])
        )
    )
    pitr = (
        (backups or {})
        .get("ContinuousBackupsDescription", {})
        .get("PointInTimeRecoveryDescription", {})
        .get("PointInTimeRecoveryStatus")
    )
    return DynamoTable(
        name=name,
        arn=arn,
        status=description.get("TableStatus", "ACTIVE"),
        billing_mode=description.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
        pitr=pitr == "ENABLED",
        item_count=description.get("ItemCount", 0),
        size_bytes=description.get("TableSizeBytes", 0),
        deletion_protection=bool(description.get("DeletionProtectionEnabled", False)),
        tags=tags or {},
        unread=(["pitr"] if backups is None else []) + (["tags"] if tags is None else []),
    )


def read_backup_selections(scope: CallScope) -> list[BackupSelection]:
    """What the region's AWS Backup plans select: resource ARN patterns and tags."""
    calls = scope("backup")
    selections: list[BackupSelection] = []
    for page in calls.pages("list_backup_plans"):
        for plan in page.get("BackupPlansList", []):
            plan_id = plan["BackupPlanId"]
            for listing in calls.pages("list_backup_selections", BackupPlanId=plan_id):
                for entry in listing.get("BackupSelectionsList", []):
                    selection = calls.call(
                        "get_backup_selection",
                        BackupPlanId=plan_id,
                        SelectionId=entry["SelectionId"],
                    )["BackupSelection"]
                    equals = selection.get("Conditions", {}).get("StringEquals", [])
                    selections.append(
                        BackupSelection(
                            plan=plan.get("BackupPlanName", plan_id),
                            name=selection.get("SelectionName", entry["SelectionId"]),
                            resources=selection.get("Resources", []),
                            not_resources=selection.get("NotResources", []),
                            tags=[
                                (tag["ConditionKey"], tag["ConditionValue"])
                                for tag in selection.get("ListOfTags", [])
                                if tag.get("ConditionType") == "STRINGEQUALS"
                            ]
                            + [
                                (
                                    tag["ConditionKey"].removeprefix("aws:ResourceTag/"),
                                    tag["ConditionValue"],
                                )
                                for tag in equals
                            ],
                        )
                    )
    return selections


def read_project_table(
    scope: CallScope, table: str, entity_attribute: str, status_attribute: str, limit: int
) -> ProjectTableCounts:
    """Counts of a project table's items by entity and status, from a bounded scan.

    The projection asks DynamoDB for the two count attributes only, so no other item
    value is ever received, let alone stored.
    """
    calls = scope("dynamodb")
    counts: Counter[tuple[str, str]] = Counter()
    scanned, truncated = 0, False
    pages = calls.pages(
        "scan",
        TableName=table,
        ProjectionExpression="#entity, #status",
        ExpressionAttributeNames={"#entity": entity_attribute, "#status": status_attribute},
        PaginationConfig={"PageSize": min(limit, 1000)},
    )
    for page in pages:
        items = page.get("Items", [])
        room = limit - scanned
        if len(items) >= room and (len(items) > room or page.get("LastEvaluatedKey")):
            truncated = True
        for item in items[:room]:
            counts[(_scalar(item.get(entity_attribute)), _scalar(item.get(status_attribute)))] += 1
        scanned += min(len(items), room)
        if truncated:
            break
    return ProjectTableCounts(
        table=table,
        arn=f"arn:aws:dynamodb:{scope.region}:{scope.account_id}:table/{table}",
        region=scope.region,
        entity_attribute=entity_attribute,
        status_attribute=status_attribute,
        scanned_items=scanned,
        truncated=truncated,
        counts=[
            ItemCount(entity=entity, status=status, count=count)
            for (entity, status), count in sorted(counts.items())
        ],
    )


def _scalar(attribute: dict[str, Any] | None) -> str:
    if not attribute:
        return ""
    kind, value = next(iter(attribute.items()))
    return str(value) if kind in ("S", "N", "BOOL") else ""
