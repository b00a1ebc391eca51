"""Judging AWS snapshots without AWS: the example inventory, attribution, and edge cases."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from execbrief.collectors.aws.collector import AwsInventoryCollector
from execbrief.collectors.aws.facts import snapshot_facts
from execbrief.collectors.aws.resource_facts import EntityMatcher, is_secret_name
from execbrief.collectors.aws.snapshot import (
    AwsSnapshot,
    CostMonth,
    CostReport,
    DynamoTable,
    GlobalInventory,
    LambdaFunction,
    PublicAccessBlock,
    RegionInventory,
    S3Bucket,
    SnapshotGap,
    read_snapshot,
    write_snapshot,
)
from execbrief.config import CollectContext, load_workspace
from execbrief.models import CollectResult, Entity, Gap

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "portfolio"
NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
TAKEN = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
ENTITIES = [
    Entity(id="jada", name="JADA", aliases=["jada charters"]),
    Entity(id="queenofsandiego", name="QueenofSanDiego", aliases=["qosd", "ship captain crew"]),
    Entity(id="dangerouscentaur", name="DangerousCentaur", aliases=["dc consulting"]),
    Entity(id="dc_client_portfolio", name="DC client portfolio", aliases=["client portfolio"]),
]
ALL_ON = PublicAccessBlock(
    block_public_acls=True,
    ignore_public_acls=True,
    block_public_policy=True,
    restrict_public_buckets=True,
)


def _snapshot(**parts: object) -> AwsSnapshot:
    return AwsSnapshot.model_validate({"account_id": "123456789012", "taken_at": TAKEN, **parts})


def _kinds(result: CollectResult) -> list[str]:
    return [fact.kind for fact in result.facts]


def _example() -> CollectResult:
    entities = load_workspace(EXAMPLE).config.entities
    return snapshot_facts(read_snapshot(EXAMPLE / "aws" / "inventory.json"), entities, NOW)


def test_example_inventory_carries_the_reference_findings() -> None:
    result = _example()
    titles = {fact.title for fact in result.facts}

    assert result.gaps == []
    assert {
        "CloudFront E2QOSDEXAMPLE01 (queenofsandiego.example.com) has no WAF web ACL",
        "Lambda qosd-ship-captain-crew keeps a secret in environment variable STRIPE_SECRET_KEY",
        "Lambda qosd-ship-captain-crew keeps a secret in environment variable JWT_SECRET",
        "Lambda qosd-ship-captain-crew has a public function URL (AuthType NONE)",
        "Lambda jada-charter-reminders runs on deprecated runtime python3.8",
        "DynamoDB table qosd-waivers has no point-in-time recovery",
        "S3 bucket quickdumpnow-site is public",
        "S3 bucket qosd-waiver-uploads has no versioning",
        "HTTP API qdn-quote-api: POST /quote has no authorizer",
        "SES in us-west-2 is in the sandbox",
    } <= titles
    zones = {f.entity for f in result.facts if f.kind == "aws.route53.zone"}
    assert zones == {
        "jada",
        "queenofsandiego",
        "quickdumpnow",
        "dangerouscentaur",
        "expert_yacht_delivery",
    }


def test_example_cost_is_50_to_84_dollars_a_month_with_a_forecast() -> None:
    facts = _example().facts
    monthly = [f for f in facts if f.kind == "aws.cost.monthly" and "by_entity" not in f.tags]
    forecast = next(f for f in facts if f.kind == "aws.cost.forecast")

    assert [f.metrics["total_usd"] for f in monthly] == [52.41, 67.18, 83.62]
    assert all(50 <= f.metrics["total_usd"] <= 84 for f in monthly)
    assert forecast.metrics["forecast_usd"] == 82.05
    assert forecast.metrics["average_prior_usd"] == 67.74


def test_the_example_workspace_replays_its_snapshot(example_workspace: Path) -> None:
    workspace = load_workspace(example_workspace)
    context = CollectContext(root=workspace.root, config=workspace.config, now=NOW)

    result = AwsInventoryCollector().collect(context)

    assert result == _example()


def test_a_snapshot_survives_a_write_and_read_unchanged(tmp_path: Path) -> None:
    snapshot = read_snapshot(EXAMPLE / "aws" / "inventory.json")

    write_snapshot(snapshot, tmp_path / "deep" / "copy.json")

    assert read_snapshot(tmp_path / "deep" / "copy.json") == snapshot
    document = json.loads((tmp_path / "deep" / "copy.json").read_text())
    assert document["schema"] == "execbrief.aws-snapshot/1" and "global" in document


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("STRIPE_SECRET_KEY", True),
        ("JWT_SECRET", True),
        ("DB_PASSWORD", True),
        ("GITHUB_TOKEN", True),
        ("SENDGRID_API_KEY", True),
        ("stripe_secret_key", True),
        ("STRIPE_SECRET_ARN", False),
        ("TWILIO_AUTH_TOKEN_PARAM", False),
        ("STRIPE_PUBLISHABLE_KEY", False),
        ("BOOKINGS_TABLE", False),
        ("TOKEN_TTL", False),
        ("KEYBOARD_LAYOUT", False),
    ],
)
def test_secret_names_are_told_from_references_and_public_values(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def _function(runtime: str) -> LambdaFunction:
    return LambdaFunction(
        name="reminders",
        arn="arn:aws:lambda:us-west-2:123456789012:function:reminders",
        runtime=runtime,
        memory_mb=128,
        timeout_s=3,
    )


@pytest.mark.parametrize(
    ("judged", "deprecated"), [(date(2026, 4, 29), False), (date(2026, 5, 1), True)]
)
def test_a_runtime_is_deprecated_from_its_deprecation_date_on(
    judged: date, deprecated: bool
) -> None:
    snapshot = _snapshot(
        regions={"us-west-2": RegionInventory(lambda_functions=[_function("nodejs20.x")])}
    )
    at = datetime(judged.year, judged.month, judged.day, tzinfo=UTC)

    kinds = _kinds(snapshot_facts(snapshot, ENTITIES, at))

    assert ("aws.lambda.deprecated_runtime" in kinds) is deprecated


def test_an_entity_tag_wins_over_the_name_and_unknown_tags_fall_back_to_the_name() -> None:
    match = EntityMatcher(ENTITIES, "entity")

    assert match.resolve("qosd-frontend", {"entity": "JADA"}) == "jada"
    assert match.resolve("qosd-frontend", {"entity": "Queen of San Diego LLC"}) == "queenofsandiego"
    assert match.resolve("jada-charters-media", {}) == "jada"
    assert match.resolve("queenofsandiego.example.com.") == "queenofsandiego"
    assert match.resolve("dc-consulting-site") == "dangerouscentaur"
    assert match.resolve("misc-logs") is None


def test_the_longest_matching_alias_wins() -> None:
    match = EntityMatcher(ENTITIES, "entity")

    assert match.in_name("dangerouscentaur-client-portfolio-invoices") == "dangerouscentaur"
    assert match.in_name("client-portfolio-reports") == "dc_client_portfolio"


def test_settings_that_could_not_be_read_are_never_reported_missing() -> None:
    bucket = S3Bucket(
        name="qosd-logs",
        region="us-west-2",
        policy_public=True,
        unread=["policy", "versioning", "encryption", "lifecycle"],
    )
    table = DynamoTable(
        name="qosd-crew", arn="arn:aws:dynamodb:us-west-2:1:table/qosd-crew", unread=["pitr"]
    )
    snapshot = _snapshot(
        regions={"us-west-2": RegionInventory(dynamodb_tables=[table])},
        **{"global": GlobalInventory(s3_buckets=[bucket])},
    )
    assert _kinds(snapshot_facts(snapshot, ENTITIES, NOW)) == [
        "aws.dynamodb.table",
        "aws.s3.bucket",
    ]


def test_a_bucket_own_public_access_block_neutralises_a_public_policy() -> None:
    blocked = S3Bucket(
        name="qosd-site-frontend",
        region="us-west-2",
        public_access_block=ALL_ON,
        has_policy=True,
        policy_public=True,
        versioning="Enabled",
        encryption="AES256",
        lifecycle_rules=1,
    )
    snapshot = _snapshot(**{"global": GlobalInventory(s3_buckets=[blocked])})

    assert _kinds(snapshot_facts(snapshot, ENTITIES, NOW)) == ["aws.s3.bucket"]


def test_snapshot_gaps_become_gaps_that_name_the_iam_action() -> None:
    gap = SnapshotGap(
        service="s3",
        region="global",
        action="s3:GetBucketPolicyStatus",
        problem="access_denied",
        message="AccessDenied: Access Denied",
        resource="qosd-site-frontend",
        count=3,
    )

    result = snapshot_facts(_snapshot(gaps=[gap]), ENTITIES, NOW)

    assert result.gaps == [
        Gap(
            collector="aws_inventory",
            source="aws/global/s3",
            reason="access denied on s3:GetBucketPolicyStatus: AccessDenied: Access Denied "
            "(3 calls failed this way) (first on qosd-site-frontend)",
            hint="grant s3:GetBucketPolicyStatus to the identity execbrief runs as",
        )
    ]


def test_cost_without_the_entity_tag_says_the_tag_may_not_be_activated() -> None:
    month = CostMonth(
        start=date(2026, 10, 1),
        end=date(2026, 11, 1),
        total=83.62,
        by_service={"AWS Lambda": 83.62},
        by_entity={"": 83.62},
    )
    snapshot = _snapshot(cost=CostReport(months=[month]))

    facts = snapshot_facts(snapshot, ENTITIES, NOW).facts

    assert [f.kind for f in facts] == ["aws.cost.monthly"]
    assert "cost allocation tag" in facts[0].detail
    assert facts[0].metrics == {"total_usd": 83.62, "untagged_usd": 83.62, "aws_lambda_usd": 83.62}
