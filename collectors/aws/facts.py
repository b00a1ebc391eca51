"""Judging an AWS snapshot: facts and gaps from one snapshot, as of one moment.

Pure: a snapshot, the workspace's entities and the collection time in; facts and gaps
out. The same snapshot and time always give the same facts, so a replayed snapshot
yields exactly the facts of the live read that wrote it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from execbrief.models import CollectResult, Entity, Fact, Gap, Severity, Source

from .exposure_facts import (
    bucket_exposure_facts,
    distribution_exposure_facts,
    lambda_exposure_facts,
    layer_facts,
    s3_account_facts,
    ses_exposure_facts,
)
from .iam_facts import iam_facts
from .resource_facts import (
    FactMaker,
    bucket_facts,
    distribution_facts,
    lambda_facts,
    project_facts,
    slug,
    table_facts,
    table_protection_facts,
    usd,
    zone_fact,
)
from .snapshot import (
    COLLECTOR,
    ApiGatewayApi,
    AwsSnapshot,
    CostReport,
    Problem,
    SesAccount,
    SesIdentity,
    SnapshotGap,
)
from .takeover_facts import domain_facts, origin_takeover_facts, record_takeover_facts

_PROBLEM_LABELS: dict[Problem, str] = {
    "access_denied": "access denied",
    "opt_in_required": "opt-in required",
    "region_not_enabled": "region not enabled",
    "unreachable": "endpoint unreachable",
    "unsupported_operation": "operation not supported by the endpoint",
    "credentials": "credentials missing or rejected",
    "error": "call failed",
}
_HINTS: dict[Problem, str] = {
    "access_denied": "grant {action} to the identity execbrief runs as",
    "opt_in_required": "opt the account in to {service} in {region}; it needs {action}",
    "region_not_enabled": "enable {region} for the account or drop it from sources.aws.regions",
    "unreachable": "check the network, the region and any AWS_ENDPOINT_URL for {service}",
    "unsupported_operation": "the endpoint does not implement {action}",
    "credentials": "check the AWS credentials execbrief uses: sources.aws.profile, AWS_PROFILE, "
    "or the standard credential chain",
    "error": "see the reason; the call needs {action}",
}


def snapshot_facts(snapshot: AwsSnapshot, entities: list[Entity], now: datetime) -> CollectResult:
    """Facts and gaps from one snapshot, judged as of `now`."""
    make = FactMaker(snapshot, entities, now)
    facts: list[Fact] = []
    web_acls = {acl.arn for acl in snapshot.global_.cloudfront_web_acls}
    public_ips: set[str] | None = None
    for region, inventory in sorted(snapshot.regions.items()):
        for function in inventory.lambda_functions:
            facts += lambda_facts(make, function, region)
            facts += lambda_exposure_facts(make, function)
        for layer in inventory.lambda_layers:
            users = [fn.name for fn in inventory.lambda_functions if layer.arn in fn.layers]
            facts += layer_facts(make, layer, users)
        for table in inventory.dynamodb_tables:
            facts += table_facts(make, table, region)
            facts += table_protection_facts(make, table, inventory.backup_selections)
        for api in inventory.apis:
            facts += _api_facts(make, api, region)
        for identity in inventory.ses_identities:
            facts.append(_ses_identity_fact(make, identity, region))
            facts += ses_exposure_facts(make, identity, region)
        if inventory.public_ips is not None:
            public_ips = (public_ips or set()) | set(inventory.public_ips)
        if inventory.ses_account is not None and inventory.ses_account.sandbox is not None:
            facts.append(_ses_account_fact(make, inventory.ses_account, region))
        web_acls |= {acl.arn for acl in inventory.web_acls}
    top = snapshot.global_
    distributions = top.cloudfront_distributions
    buckets = {bucket.name for bucket in top.s3_buckets}
    account_block = top.s3_account.public_access_block if top.s3_account else None
    if top.iam is not None:
        facts += iam_facts(make, top.iam)
    if top.s3_account is not None:
        facts += s3_account_facts(make, top.s3_account)
    for bucket in top.s3_buckets:
        facts += bucket_facts(make, bucket, distributions)
        facts += bucket_exposure_facts(make, bucket, account_block)
    for distribution in distributions:
        facts += distribution_facts(make, distribution, web_acls)
        facts += distribution_exposure_facts(make, distribution)
        facts += origin_takeover_facts(make, distribution, buckets)
    for zone in top.route53_zones:
        facts.append(zone_fact(make, zone))
        facts += record_takeover_facts(make, zone, buckets, distributions, public_ips)
    for domain in top.route53_domains or []:
        facts += domain_facts(make, domain)
    if snapshot.project_table is not None:
        facts += project_facts(make, snapshot.project_table)
    if snapshot.cost is not None:
        facts += _cost_facts(make, snapshot.cost)
    return CollectResult(facts=facts, gaps=[_gap(gap) for gap in snapshot.gaps])


def _gap(gap: SnapshotGap) -> Gap:
    where = f"aws/{gap.region}/{gap.service}"
    reason = f"{_PROBLEM_LABELS[gap.problem]} on {gap.action}: {gap.message}"
    if gap.count > 1:
        reason += f" ({gap.count} calls failed this way)"
    if gap.resource:
        reason += f" (first on {gap.resource})"
    hint = _HINTS[gap.problem].format(action=gap.action, service=gap.service, region=gap.region)
    if gap.action not in hint:
        hint += f" (the call needs {gap.action})"
    return Gap(collector=COLLECTOR, source=where, reason=reason, hint=hint)


# --- SES ------------------------------------------------------------------------------


def _ses_identity_fact(make: FactMaker, identity: SesIdentity, region: str) -> Fact:
    verified = identity.verification_status == "Success"
    dkim_ok = identity.dkim_enabled and identity.dkim_status == "Success"
    severity = Severity.INFO
    if not verified:
        failed = identity.verification_status in ("Failed", "TemporaryFailure")
        severity = Severity.MEDIUM if failed else Severity.LOW
    elif identity.kind == "DOMAIN" and not dkim_ok:
        severity = Severity.LOW
    kind = "domain" if identity.kind == "DOMAIN" else "address"
    dkim = f"DKIM {identity.dkim_status or 'not set up'}" + (
        "" if identity.dkim_enabled else " (signing off)"
    )
    return make.fact(
        "aws.ses.identity",
        Source(resource=f"arn:aws:ses:{region}:{make.account}:identity/{identity.name}"),
        f"SES {kind} {identity.name}: verification {identity.verification_status}",
        severity=severity,
        detail=f"Verification {identity.verification_status}; {dkim}; region {region}.",
        entity=make.match.in_name(identity.name),
        tags=["inventory", "email"],
    )


def _ses_account_fact(make: FactMaker, account: SesAccount, region: str) -> Fact:
    quota = {
        "max_24h_send": account.max_24h_send,
        "max_send_rate": account.max_send_rate,
        "sent_last_24h": account.sent_last_24h,
    }
    metrics = {name: value for name, value in quota.items() if value is not None}
    metrics["receipt_rule_sets"] = len(account.receipt_rule_sets)
    rules = ", ".join(account.receipt_rule_sets) or "none"
    detail = (
        f"Send quota {account.max_24h_send or 0:g} a day at {account.max_send_rate or 0:g}/s; "
        f"receipt rule sets: {rules} (active: {account.active_receipt_rule_set or 'none'})."
    )
    if account.sandbox:
        title = f"SES in {region} is in the sandbox"
        detail = "It can send only to verified addresses. " + detail
    else:
        title = f"SES in {region} has production access"
    return make.fact(
        "aws.ses.sandbox",
        Source(resource=f"arn:aws:ses:{region}:{make.account}:account"),
        title,
        severity=Severity.MEDIUM if account.sandbox else Severity.INFO,
        detail=detail,
        metrics=metrics,
        tags=["email"],
    )


# --- API Gateway ----------------------------------------------------------------------


def _api_facts(make: FactMaker, api: ApiGatewayApi, region: str) -> Iterator[Fact]:
    entity = make.match.resolve(api.name, api.tags)
    for route in api.routes:
        if route.unauthenticated:
            yield make.fact(
                "aws.apigw.route_no_auth",
                Source(resource=f"{api.arn}/routes/{route.id}", section=route.key),
                f"{api.protocol} API {api.name}: {route.key} has no authorizer",
                severity=Severity.MEDIUM,
                detail=(
                    f"Anyone can call {route.key} on {api.endpoint or api.id} ({region}): no "
                    "authorizer, IAM auth or API key; any check is left to the backend."
                ),
                entity=entity,
                tags=["security", "auth"],
            )
    for stage in api.stages:
        if not stage.throttled:
            yield make.fact(
                "aws.apigw.no_throttle",
                Source(resource=f"{api.arn}/stages/{stage.name}"),
                f"{api.protocol} API {api.name}: stage {stage.name} has no throttling",
                severity=Severity.MEDIUM,
                detail=(
                    "Only the account-wide default limit applies, so one caller can run up "
                    "Lambda and DynamoDB cost or starve other APIs."
                ),
                entity=entity,
                tags=["security"],
            )


# --- Cost -----------------------------------------------------------------------------


def _cost_facts(make: FactMaker, cost: CostReport) -> Iterator[Fact]:
    resource = f"cost-explorer:{make.account}"
    for month in cost.months:
        label = month.start.strftime("%Y-%m")
        ranked = sorted(month.by_service.items(), key=lambda item: (-item[1], item[0]))
        listing = ", ".join(f"{service} {usd(amount)}" for service, amount in ranked)
        untagged = month.by_entity.get("", 0.0)
        metrics: dict[str, float] = {"total_usd": month.total, "untagged_usd": untagged}
        metrics |= {f"{slug(service)}_usd": amount for service, amount in ranked}
        tagged = {value: amount for value, amount in month.by_entity.items() if value}
        note = (
            ""
            if tagged
            else (
                f" No cost carries the `{make.snapshot.entity_tag}` tag (is it activated as a "
                "cost allocation tag?)."
            )
        )
        yield make.fact(
            "aws.cost.monthly",
            Source(resource=resource, section=label),
            f"AWS cost {label}: {usd(month.total)}" + (" (estimated)" if month.estimated else ""),
            detail=f"{cost.metric} by service: {listing or 'none'}.{note}",
            metrics=metrics,
            tags=["cost"],
        )
        for value, amount in sorted(tagged.items()):
            yield make.fact(
                "aws.cost.monthly",
                Source(resource=resource, section=f"{label} {make.snapshot.entity_tag}={value}"),
                f"AWS cost {label} tagged {value}: {usd(amount)}",
                detail=(
                    f"{cost.metric} of resources tagged {make.snapshot.entity_tag}={value}, "
                    f"of {usd(month.total)} for the account."
                ),
                entity=make.match.resolve(value, {make.snapshot.entity_tag: value}),
                metrics={"total_usd": amount, "account_total_usd": month.total},
                tags=["cost", "by_entity"],
            )
    if cost.forecast is not None:
        forecast = cost.forecast
        label = forecast.start.strftime("%Y-%m")
        metrics = {
            "forecast_usd": forecast.amount,
            "month_to_date_usd": forecast.month_to_date,
            "remaining_usd": forecast.remaining,
        }
        history = [month.total for month in cost.months]
        if history:
            metrics["average_prior_usd"] = round(sum(history) / len(history), 2)
        yield make.fact(
            "aws.cost.forecast",
            Source(resource=resource, section=f"{label} forecast"),
            f"AWS cost forecast {label}: {usd(forecast.amount)}",
            detail=(
                f"{usd(forecast.month_to_date)} so far plus {usd(forecast.remaining)} forecast "
                f"by Cost Explorer to the end of the month ({forecast.end.isoformat()})."
            ),
            metrics=metrics,
            tags=["cost"],
        )
