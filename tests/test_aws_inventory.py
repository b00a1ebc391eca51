"""The AWS inventory read from a planted moto account (in-process), service by service.

One account is planted per module with a positive and a negative case for each finding;
the snapshot is taken once and every test reads its facts. Canary values sit in a
Lambda environment variable and a DynamoDB item and must never come out.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from execbrief.collectors.aws.collector import (
    AwsInventoryCollector,
    take_snapshot,
)
from execbrief.collectors.aws.cost import cost_window
from execbrief.collectors.aws.facts import snapshot_facts
from execbrief.collectors.aws.snapshot import AwsSnapshot, read_snapshot
from execbrief.config import AwsProjectTable, AwsSource, CollectContext, Sources, WorkspaceConfig
from execbrief.models import CollectResult, Entity, Fact

REGION = "us-west-2"
# Built at run time so that no secret-shaped literal sits in the source.
LAMBDA_CANARY = "sk_" + "live_CANARY0lambda0env0value0x9f2a"
ITEM_CANARY = "guest-CANARY-item-value@example.com"
NOW = datetime.now(UTC)
ENTITIES = [
    Entity(id="jada", name="JADA", aliases=["jada charters"]),
    Entity(id="queenofsandiego", name="QueenofSanDiego", aliases=["qosd", "ship captain crew"]),
    Entity(id="quickdumpnow", name="QuickDumpNow", aliases=["qdn"]),
]
SOURCE = AwsSource(regions=[REGION], project_table=AwsProjectTable(name="bookings"))


def _zip(body: str = "{}") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", f"def handler(event, context):\n    return {body}\n")
    return buffer.getvalue()


def _plant_lambda() -> None:
    role = boto3.client("iam").create_role(RoleName="lambda-exec", AssumeRolePolicyDocument="{}")
    client = boto3.client("lambda", region_name=REGION)
    common = {"Role": role["Role"]["Arn"], "Handler": "lambda_function.handler"}
    client.create_function(
        FunctionName="qosd-ship-captain-crew",
        Runtime="python3.12",
        MemorySize=1024,
        Timeout=30,
        Code={"ZipFile": _zip()},
        Environment={
            "Variables": {
                "STRIPE_SECRET_KEY": LAMBDA_CANARY,
                "JWT_SECRET": LAMBDA_CANARY + "-jwt",
                "BOOKINGS_TABLE_NAME": "bookings",
            }
        },
        Tags={"entity": "queenofsandiego"},
        **common,
    )
    for deploy in ("1", "2"):  # two hand-zipped deploys, each published
        client.update_function_code(FunctionName="qosd-ship-captain-crew", ZipFile=_zip(deploy))
        client.publish_version(FunctionName="qosd-ship-captain-crew")
    client.create_alias(FunctionName="qosd-ship-captain-crew", Name="live", FunctionVersion="2")
    client.create_function_url_config(FunctionName="qosd-ship-captain-crew", AuthType="NONE")
    client.create_function(
        FunctionName="jada-charters-magic-link",
        Runtime="python3.8",
        Code={"ZipFile": _zip()},
        Environment={"Variables": {"STRIPE_SECRET_ARN": "arn:aws:secretsmanager:x"}},
        **common,
    )
    client.create_function_url_config(FunctionName="jada-charters-magic-link", AuthType="AWS_IAM")


def _plant_s3() -> None:
    client = boto3.client("s3", region_name=REGION)
    where = {"CreateBucketConfiguration": {"LocationConstraint": REGION}}
    for name in ("qosd-frontend", "jada-charters-public-media", "qosd-uploads"):
        client.create_bucket(Bucket=name, **where)
    client.put_public_access_block(
        Bucket="qosd-frontend",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    client.put_bucket_versioning(
        Bucket="qosd-frontend", VersioningConfiguration={"Status": "Enabled"}
    )
    client.put_bucket_encryption(
        Bucket="qosd-frontend",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    client.put_bucket_lifecycle_configuration(
        Bucket="qosd-frontend",
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "old-versions",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                }
            ]
        },
    )
    client.put_bucket_tagging(
        Bucket="qosd-frontend", Tagging={"TagSet": [{"Key": "entity", "Value": "queenofsandiego"}]}
    )
    public_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::jada-charters-public-media/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket="jada-charters-public-media", Policy=json.dumps(public_read))


def _plant_dynamodb() -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    for name in ("bookings", "crew", "waivers"):
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=[{"Key": "entity", "Value": "queenofsandiego"}],
        )
    for name in ("bookings", "crew"):
        client.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    rows = [("jada", "confirmed")] * 3 + [("jada", "pending"), ("quick dump now", "confirmed")]
    for index, (entity, status) in enumerate(rows):
        client.put_item(
            TableName="bookings",
            Item={
                "pk": {"S": f"booking-{index}"},
                "entity": {"S": entity},
                "status": {"S": status},
                "guest_email": {"S": ITEM_CANARY},
            },
        )


def _distribution(reference: str, alias: str, origin: str, web_acl: str) -> dict[str, Any]:
    return {
        "CallerReference": reference,
        "Aliases": {"Quantity": 1, "Items": [alias]},
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "origin",
                    "DomainName": origin,
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin",
            "ViewerProtocolPolicy": "redirect-to-https",
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
        },
        "Comment": alias,
        "Enabled": True,
        "WebACLId": web_acl,
    }


def _plant_edge() -> None:
    visibility = {
        "SampledRequestsEnabled": False,
        "CloudWatchMetricsEnabled": False,
        "MetricName": "acl",
    }
    edge_acl = boto3.client("wafv2", region_name="us-east-1").create_web_acl(
        Name="jada-edge",
        Scope="CLOUDFRONT",
        DefaultAction={"Allow": {}},
        VisibilityConfig=visibility,
    )
    boto3.client("wafv2", region_name=REGION).create_web_acl(
        Name="api-acl", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=visibility
    )
    cloudfront = boto3.client("cloudfront")
    cloudfront.create_distribution(
        DistributionConfig=_distribution(
            "qosd", "queenofsandiego.example.com", "qosd-frontend.s3.us-west-2.amazonaws.com", ""
        )
    )
    cloudfront.create_distribution(
        DistributionConfig=_distribution(
            "jada",
            "jada-charters.example.com",
            "jada-charters-public-media.s3.us-west-2.amazonaws.com",
            edge_acl["Summary"]["ARN"],
        )
    )
    route53 = boto3.client("route53")
    for zone in ("queenofsandiego.example.com.", "jada-charters.example.com."):
        route53.create_hosted_zone(Name=zone, CallerReference=zone)


def _plant_ses() -> None:
    client = boto3.client("ses", region_name=REGION)
    client.verify_email_identity(EmailAddress="briefs@example.com")
    client.verify_domain_identity(Domain="queenofsandiego.example.com")
    client.verify_domain_dkim(Domain="queenofsandiego.example.com")
    client.create_receipt_rule_set(RuleSetName="inbound-crew")


def _plant_apis() -> None:
    http = boto3.client("apigatewayv2", region_name=REGION)
    api = http.create_api(Name="ship-api", ProtocolType="HTTP")["ApiId"]
    http.create_route(ApiId=api, RouteKey="POST /bookings", AuthorizationType="NONE")
    authorizer = http.create_authorizer(
        ApiId=api,
        Name="crew-jwt",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Audience": ["crew"], "Issuer": "https://auth.example.com"},
    )["AuthorizerId"]
    http.create_route(
        ApiId=api, RouteKey="GET /crew", AuthorizationType="JWT", AuthorizerId=authorizer
    )
    http.create_stage(ApiId=api, StageName="$default")
    http.create_stage(
        ApiId=api,
        StageName="prod",
        DefaultRouteSettings={"ThrottlingBurstLimit": 20, "ThrottlingRateLimit": 10.0},
    )
    rest = boto3.client("apigateway", region_name=REGION)
    rest_id = rest.create_rest_api(name="waivers-api")["id"]
    root = rest.get_resources(restApiId=rest_id)["items"][0]["id"]
    resource = rest.create_resource(restApiId=rest_id, parentId=root, pathPart="waivers")["id"]
    for verb, auth in (("POST", "NONE"), ("GET", "AWS_IAM"), ("OPTIONS", "NONE")):
        rest.put_method(
            restApiId=rest_id, resourceId=resource, httpMethod=verb, authorizationType=auth
        )
        rest.put_integration(restApiId=rest_id, resourceId=resource, httpMethod=verb, type="MOCK")
    rest.create_deployment(restApiId=rest_id, stageName="prod")


def _cost_result(group_keys: dict[str, float]) -> dict[str, Any]:
    start, _ = cost_window(NOW, 3)
    months = []
    for offset in range(3):
        first = start.replace(month=(start.month - 1 + offset) % 12 + 1)
        if start.month + offset > 12:
            first = first.replace(year=start.year + 1)
        after = first.replace(month=first.month % 12 + 1, year=first.year + first.month // 12)
        months.append(
            {
                "TimePeriod": {"Start": first.isoformat(), "End": after.isoformat()},
                "Total": {},
                "Groups": [
                    {
                        "Keys": [key],
                        "Metrics": {"UnblendedCost": {"Amount": str(amount), "Unit": "USD"}},
                    }
                    for key, amount in group_keys.items()
                ],
                "Estimated": False,
            }
        )
    return {"ResultsByTime": months}


def queue_cost_results(base_url: str) -> None:
    """Queue Cost Explorer answers in the order the reader asks: by service, then by tag."""
    results = [
        _cost_result({"AWS Lambda": 21.5, "Amazon CloudFront": 12.25, "Amazon S3": 8.0}),
        _cost_result({"entity$queenofsandiego": 30.0, "entity$": 11.75}),
    ]
    response = requests.post(
        f"{base_url}/moto-api/static/ce/cost-and-usage-results",
        json={"results": results},
        timeout=5,
    )
    assert response.status_code == 201


@pytest.fixture(scope="module")
def planted() -> Iterator[tuple[AwsSnapshot, CollectResult]]:
    """The planted account, its snapshot and its facts; moto stays active for the module."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            _plant_lambda()
            _plant_s3()
            _plant_dynamodb()
            _plant_edge()
            _plant_ses()
            _plant_apis()
            queue_cost_results("http://motoapi.amazonaws.com")
            snapshot = take_snapshot(SOURCE, NOW)
            yield snapshot, snapshot_facts(snapshot, ENTITIES, NOW)


def _facts(result: CollectResult, kind: str) -> list[Fact]:
    return [fact for fact in result.facts if fact.kind == kind]


def _titles(result: CollectResult, kind: str) -> set[str]:
    return {fact.title for fact in _facts(result, kind)}


def test_lambda_functions_are_inventoried_with_versions_aliases_and_env_names(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    snapshot, result = planted
    ship = snapshot.regions[REGION].lambda_functions[1]

    assert ship.name == "qosd-ship-captain-crew"
    assert (ship.runtime, ship.memory_mb, ship.timeout_s) == ("python3.12", 1024, 30)
    assert (ship.version_count, ship.aliases, ship.url_auth_type) == (2, ["live"], "NONE")
    assert ship.env_var_names == ["BOOKINGS_TABLE_NAME", "JWT_SECRET", "STRIPE_SECRET_KEY"]
    fact = next(f for f in _facts(result, "aws.lambda.function") if "ship" in f.title)
    assert fact.entity == "queenofsandiego"
    assert fact.source.resource == ship.arn
    assert fact.metrics["memory_mb"] == 1024


def test_secret_env_vars_are_flagged_once_by_value_and_references_are_not(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    _, result = planted

    by_name = {fact.source.section for fact in _facts(result, "aws.lambda.secret_env_name")}
    by_value = {fact.source.section for fact in _facts(result, "aws.lambda.secret_in_env")}

    # Both values are live-shaped Stripe keys: the value fact replaces the name fact.
    assert by_value == {"env:STRIPE_SECRET_KEY", "env:JWT_SECRET"}
    assert by_name == set()


def test_deprecated_runtime_and_public_function_url_are_findings(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    _, result = planted

    assert _titles(result, "aws.lambda.deprecated_runtime") == {
        "Lambda jada-charters-magic-link runs on deprecated runtime python3.8"
    }
    assert _titles(result, "aws.lambda.url_no_auth") == {
        "Lambda qosd-ship-captain-crew has a public function URL (AuthType NONE)"
    }


def test_canary_values_appear_in_neither_snapshot_nor_facts(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    snapshot, result = planted

    for text in (snapshot.model_dump_json(by_alias=True), result.model_dump_json()):
        assert LAMBDA_CANARY not in text
        assert ITEM_CANARY not in text
        assert "guest_email" not in text


def test_public_bucket_is_flagged_and_locked_down_bucket_is_clean(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    _, result = planted
    public = _facts(result, "aws.s3.public")

    assert [fact.title for fact in public] == ["S3 bucket jada-charters-public-media is public"]
    assert "CloudFront" in public[0].detail and public[0].entity == "jada"
    frontend = {
        fact.kind for fact in result.facts if fact.source.resource == "arn:aws:s3:::qosd-frontend"
    }
    assert "aws.s3.bucket" in frontend
    assert frontend.isdisjoint({"aws.s3.public", "aws.s3.public_write", "aws.s3.public_list"})
    assert "S3 bucket qosd-uploads has no versioning" in _titles(result, "aws.s3.no_versioning")


def test_table_without_pitr_is_flagged_and_the_others_are_not(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    _, result = planted

    assert _titles(result, "aws.dynamodb.no_pitr") == {
        "DynamoDB table waivers has no point-in-time recovery"
    }
    tables = _facts(result, "aws.dynamodb.table")
    assert {fact.entity for fact in tables} == {"queenofsandiego"}
    bookings = next(fact for fact in tables if "bookings" in fact.title)
    assert bookings.metrics["item_count"] == 5


def test_project_table_is_counted_by_entity_and_status(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    _, result = planted

    counts = {fact.entity: fact.metrics for fact in _facts(result, "aws.dynamodb.items")}

    assert counts == {
        "jada": {"total": 4, "status_confirmed": 3, "status_pending": 1},
        "quickdumpnow": {"total": 1, "status_confirmed": 1},
    }


def test_cloudfront_without_waf_is_flagged_and_with_waf_is_not(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    snapshot, result = planted

    no_waf = _facts(result, "aws.cloudfront.no_waf")

    assert [fact.entity for fact in no_waf] == ["queenofsandiego"]
    assert "queenofsandiego.example.com" in no_waf[0].title
    guarded = next(f for f in _facts(result, "aws.cloudfront.distribution") if f.entity == "jada")
    assert "web ACL jada-edge" in guarded.detail
    assert [acl.name for acl in snapshot.global_.cloudfront_web_acls] == ["jada-edge"]
    assert [acl.name for acl in snapshot.regions[REGION].web_acls] == ["api-acl"]


def test_route53_zones_carry_record_counts_and_entities(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    _, result = planted

    zones = _facts(result, "aws.route53.zone")

    assert {fact.entity: fact.metrics["record_count"] for fact in zones} == {
        "jada": 2,
        "queenofsandiego": 2,
    }


def test_ses_identities_quota_and_rule_sets_are_read(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    snapshot, result = planted
    ses = snapshot.regions[REGION]

    assert {(i.name, i.kind) for i in ses.ses_identities} == {
        ("briefs@example.com", "EMAIL_ADDRESS"),
        ("queenofsandiego.example.com", "DOMAIN"),
    }
    assert ses.ses_account is not None
    assert ses.ses_account.receipt_rule_sets == ["inbound-crew"]
    assert ses.ses_account.max_send_rate is not None
    domain = next(f for f in _facts(result, "aws.ses.identity") if "domain" in f.title)
    assert domain.entity == "queenofsandiego"


def test_routes_without_authorizer_and_unthrottled_stages_are_flagged(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    _, result = planted

    assert _titles(result, "aws.apigw.route_no_auth") == {
        "HTTP API ship-api: POST /bookings has no authorizer",
        "REST API waivers-api: POST /waivers has no authorizer",
    }
    assert _titles(result, "aws.apigw.no_throttle") == {
        "HTTP API ship-api: stage $default has no throttling",
        "REST API waivers-api: stage prod has no throttling",
    }


def test_cost_by_service_and_by_entity_tag_for_three_full_months(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    snapshot, result = planted
    assert snapshot.cost is not None

    months = [f for f in _facts(result, "aws.cost.monthly") if "by_entity" not in f.tags]
    tagged = [f for f in _facts(result, "aws.cost.monthly") if "by_entity" in f.tags]

    assert len(months) == 3
    assert months[0].metrics["total_usd"] == 41.75
    assert months[0].metrics["aws_lambda_usd"] == 21.5
    assert months[0].metrics["untagged_usd"] == 11.75
    assert {(f.entity, f.metrics["total_usd"]) for f in tagged} == {("queenofsandiego", 30.0)}


def test_unimplemented_calls_become_gaps_naming_the_iam_action(
    planted: tuple[AwsSnapshot, CollectResult],
) -> None:
    _, result = planted

    hints = {gap.source: gap.hint or "" for gap in result.gaps}

    # moto implements neither Cost Explorer forecasts nor sesv2 GetAccount.
    assert "ce:GetCostForecast" in hints["aws/global/ce"]
    assert "ses:GetAccount" in hints[f"aws/{REGION}/sesv2"]
    assert _facts(result, "aws.cost.forecast") == []


def test_live_snapshot_written_then_replayed_gives_the_same_facts(
    planted: tuple[AwsSnapshot, CollectResult], tmp_path: Path
) -> None:
    out = tmp_path / "aws" / "inventory.json"
    live_config = WorkspaceConfig(portfolio="Test", entities=ENTITIES, sources=Sources(aws=SOURCE))
    live = AwsInventoryCollector(snapshot_out=out).collect(
        CollectContext(root=tmp_path, config=live_config, now=NOW)
    )
    replay_config = live_config.model_copy(
        update={"sources": Sources(aws=AwsSource(snapshot=Path("aws/inventory.json")))}
    )

    replayed = AwsInventoryCollector().collect(
        CollectContext(root=tmp_path, config=replay_config, now=NOW)
    )

    assert replayed == live
    assert read_snapshot(out).account_id == "123456789012"
    assert LAMBDA_CANARY not in out.read_text() and ITEM_CANARY not in out.read_text()
