"""The AWS inventory collector: read the account into a snapshot, then judge the snapshot.

`take_snapshot` reads the live account (every service and region concurrently, every
failure a gap); `snapshot_facts` (in aws_facts) turns a snapshot into facts. The
collector replays `sources.aws.snapshot` when it is set, reads the account otherwise,
and makes no AWS call at all when the workspace has no `sources.aws`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError

from execbrief.config import AwsSource, CollectContext
from execbrief.errors import CollectorError
from execbrief.models import CollectResult, Gap

from . import cost, edge, iam, ownership, readers
from .calls import CallFailed, CallScope, ClientPool, ServiceCalls, classify
from .facts import snapshot_facts
from .lambda_code import Download, download_code
from .snapshot import (
    COLLECTOR,
    GLOBAL_REGION,
    AwsSnapshot,
    GlobalInventory,
    RegionInventory,
    SnapshotGap,
    WebAcl,
    read_snapshot,
    write_snapshot,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "AwsInventoryCollector",
    "read_snapshot",
    "snapshot_facts",
    "take_snapshot",
    "write_snapshot",
]

# CloudFront, Route53, Cost Explorer and CloudFront-scope WAF are served from us-east-1.
_US_EAST_1 = "us-east-1"


# Service reads run at once; bounded so a large account does not trip rate limits.
MAX_WORKERS = 8


@dataclass(frozen=True)
class _Task:
    """One independent read: the region it calls, the snapshot field and scope (a region
    or `global`) its result goes to, the service it reads, and how."""

    region: str
    field: str
    scope: str
    service: str
    read: Callable[[CallScope], Any]


def _tasks(regions: list[str], now: datetime, config: AwsSource, download: Download) -> list[_Task]:
    tasks: list[_Task] = []

    def functions(scope: CallScope) -> Any:
        return readers.read_lambda(scope, download)

    def layers(scope: CallScope) -> Any:
        return readers.read_lambda_layers(scope, download)

    for region in regions:
        tasks += [
            _Task(region, "lambda_functions", region, "lambda", functions),
            _Task(region, "lambda_layers", region, "lambda", layers),
            _Task(region, "backup_selections", region, "backup", readers.read_backup_selections),
            _Task(region, "public_ips", region, "ec2", ownership.read_public_ips),
            _Task(region, "dynamodb_tables", region, "dynamodb", readers.read_dynamodb),
            _Task(region, "http_apis", region, "apigatewayv2", edge.read_http_apis),
            _Task(region, "rest_apis", region, "apigateway", edge.read_rest_apis),
            _Task(region, "ses_identities", region, "ses", edge.read_ses_identities),
            _Task(region, "ses_account", region, "ses", edge.read_ses_account),
            _Task(region, "web_acls", region, "wafv2", _regional_acls),
        ]
    home = regions[0]
    tasks += [
        _Task(home, "s3_buckets", GLOBAL_REGION, "s3", readers.read_s3),
        _Task(home, "s3_account", GLOBAL_REGION, "s3control", readers.read_s3_account),
        _Task(_US_EAST_1, "iam", GLOBAL_REGION, "iam", iam.read_iam),
        _Task(
            _US_EAST_1, "route53_domains", GLOBAL_REGION, "route53domains", ownership.read_domains
        ),
        _Task(
            _US_EAST_1,
            "cloudfront_distributions",
            GLOBAL_REGION,
            "cloudfront",
            edge.read_cloudfront,
        ),
        _Task(_US_EAST_1, "cloudfront_web_acls", GLOBAL_REGION, "wafv2", _cloudfront_acls),
        _Task(_US_EAST_1, "route53_zones", GLOBAL_REGION, "route53", edge.read_route53),
        _Task(
            _US_EAST_1,
            "cost",
            GLOBAL_REGION,
            "ce",
            lambda scope: cost.read_cost(scope, now, config.cost_months, config.entity_tag),
        ),
    ]
    if config.project_table is not None:
        table = config.project_table
        tasks.append(
            _Task(
                home,
                "project_table",
                home,
                "dynamodb",
                lambda scope: readers.read_project_table(
                    scope,
                    table.name,
                    table.entity_attribute,
                    table.status_attribute,
                    table.scan_limit,
                ),
            )
        )
    return tasks


def _regional_acls(scope: CallScope) -> list[WebAcl]:
    return edge.read_web_acls(scope, "REGIONAL")


def _cloudfront_acls(scope: CallScope) -> list[WebAcl]:
    return edge.read_web_acls(scope, "CLOUDFRONT")


def _run(task: _Task, pool: ClientPool, account_id: str) -> tuple[Any, list[SnapshotGap]]:
    scope = CallScope(pool, task.region, task.scope, account_id)
    try:
        return task.read(scope), scope.gaps
    except CallFailed:
        return None, scope.gaps
    except Exception as exc:  # a reader's bug must not stop the other reads: it is a gap
        unexpected = SnapshotGap(
            service=task.service,
            region=task.scope,
            action=f"{task.service}:*",
            problem="error",
            message=f"reading {task.field} failed: {type(exc).__name__}: {exc}"[:300],
        )
        return None, [*scope.gaps, unexpected]


def _open_session(config: AwsSource, home: str) -> tuple[ClientPool, str] | list[SnapshotGap]:
    """A client pool on the configured (or assumed) identity, and its account id."""
    # AWS_PROFILE, the ecosystem's own setting, wins over the workspace's profile.
    profile = None if os.environ.get("AWS_PROFILE") else config.profile
    try:
        session = boto3.Session(profile_name=profile)
    except BotoCoreError as exc:
        problem, message = classify(exc)
        gap = SnapshotGap(
            service="sts",
            region=GLOBAL_REGION,
            action="sts:GetCallerIdentity",
            problem=problem,
            message=message,
        )
        return [gap]
    pool = ClientPool(session)
    if config.role_arn:
        sts = ServiceCalls(pool, "sts", home, GLOBAL_REGION)
        try:
            credentials = sts.call(
                "assume_role", RoleArn=config.role_arn, RoleSessionName="execbrief-inventory"
            )["Credentials"]
        except CallFailed:
            return sts.gaps
        pool = ClientPool(
            boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
        )
    # GetCallerIdentity needs no permission: failing here means no usable credentials
    # or no endpoint, and every other call would fail the same way.
    sts = ServiceCalls(pool, "sts", home, GLOBAL_REGION)
    try:
        return pool, str(sts.call("get_caller_identity")["Account"])
    except CallFailed:
        return sts.gaps


def take_snapshot(
    config: AwsSource, now: datetime, download: Download = download_code
) -> AwsSnapshot:
    """Read the live account into a snapshot; what cannot be read is a gap inside it.

    `download` fetches a Lambda archive from its pre-signed location (tests serve it).
    """
    regions = config.regions or ["us-west-2"]
    empty = AwsSnapshot(taken_at=now, entity_tag=config.entity_tag)
    opened = _open_session(config, regions[0])
    if isinstance(opened, list):
        return empty.model_copy(update={"gaps": opened})
    pool, account_id = opened
    tasks = _tasks(regions, now, config, download)
    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as executor:
        outcomes = list(executor.map(lambda task: _run(task, pool, account_id), tasks))
    fields: dict[str, dict[str, Any]] = {scope: {} for scope in [*regions, GLOBAL_REGION]}
    gaps: list[SnapshotGap] = []
    for task, (value, task_gaps) in zip(tasks, outcomes, strict=True):
        gaps += task_gaps
        if value is not None:
            fields[task.scope][task.field] = value
    top = fields.pop(GLOBAL_REGION)
    for region_fields in fields.values():
        apis = region_fields.pop("rest_apis", []) + region_fields.pop("http_apis", [])
        region_fields["apis"] = sorted(apis, key=lambda api: (api.name, api.id))
    project = next(
        (
            region_fields.pop("project_table")
            for region_fields in fields.values()
            if "project_table" in region_fields
        ),
        None,
    )
    return AwsSnapshot(
        account_id=account_id,
        taken_at=now,
        entity_tag=config.entity_tag,
        regions={region: RegionInventory(**values) for region, values in fields.items()},
        global_=GlobalInventory(**{key: value for key, value in top.items() if key != "cost"}),
        cost=top.get("cost"),
        project_table=project,
        gaps=sorted(gaps, key=lambda gap: (gap.region, gap.service, gap.action, gap.problem)),
    )


class AwsInventoryCollector:
    """Facts about the AWS account, from a replayed snapshot or the live account."""

    name = COLLECTOR

    def __init__(self, snapshot_out: Path | None = None) -> None:
        self.snapshot_out = snapshot_out

    def with_snapshot_out(self, path: Path) -> AwsInventoryCollector:
        """The SnapshotWriter capability: this collector, also saving the snapshot it reads."""
        return AwsInventoryCollector(snapshot_out=path)

    def collect(self, ctx: CollectContext) -> CollectResult:
        """Replay `sources.aws.snapshot`, or read the live account; nothing without `aws`."""
        source = ctx.config.sources.aws
        if source is None:
            return CollectResult()
        if source.snapshot is None:
            snapshot = take_snapshot(source, ctx.now)
        else:
            try:
                snapshot = read_snapshot(ctx.root / source.snapshot)
            except CollectorError as exc:
                return CollectResult(gaps=[_gap(exc)])
        result = snapshot_facts(snapshot, ctx.config.entities, ctx.now)
        if self.snapshot_out is not None:
            try:
                write_snapshot(snapshot, self.snapshot_out)
            except OSError as exc:
                failure = CollectorError(
                    f"cannot write the AWS snapshot: {exc.strerror or exc}",
                    collector=self.name,
                    source=str(self.snapshot_out),
                    hint="choose a writable --aws-snapshot-out path",
                )
                result.gaps.append(_gap(failure))
        return result


def _gap(exc: CollectorError) -> Gap:
    return Gap(collector=exc.collector, source=exc.source, reason=exc.message, hint=exc.hint)
