"""End to end: `execbrief collect` against moto's HTTP server through AWS_ENDPOINT_URL.

boto3 talks to the server over the wire exactly as it would to AWS; the workspace has
only an `aws` source, so the bundle holds the inventory's facts and gaps alone.
"""

from __future__ import annotations

import io
import json
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from execbrief.collectors.aws.snapshot import read_snapshot
from execbrief.models import Bundle
from tests.conftest import Cli

pytestmark = pytest.mark.slow

REGION = "us-west-2"
# Built at run time so that no secret-shaped literal sits in the source.
CANARY = "sk_" + "live_E2ECANARY00value00never00leaves"
ITEM_CANARY = "crew-member-E2ECANARY@example.com"
WORKSPACE = """\
portfolio: Harbor Test
entities:
  - {id: queenofsandiego, name: QueenofSanDiego, aliases: [qosd]}
  - {id: jada, name: JADA, aliases: [jada charters]}
sources:
  aws: {regions: [us-west-2]}
"""
FINDINGS = {
    "aws.cloudfront.no_waf",
    "aws.s3.public",
    "aws.lambda.secret_in_env",
    "aws.dynamodb.no_pitr",
    "aws.lambda.url_no_auth",
    "aws.apigw.route_no_auth",
}


def _plant(server: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", "def handler(event, context):\n    return {}\n")
    role = boto3.client("iam").create_role(RoleName="exec", AssumeRolePolicyDocument="{}")
    functions = boto3.client("lambda", region_name=REGION)
    functions.create_function(
        FunctionName="qosd-ship-captain-crew",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="lambda_function.handler",
        Code={"ZipFile": buffer.getvalue()},
        Environment={"Variables": {"STRIPE_SECRET_KEY": CANARY}},
    )
    functions.create_function_url_config(FunctionName="qosd-ship-captain-crew", AuthType="NONE")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(
        Bucket="jada-charters-media", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    statement["Resource"] = "arn:aws:s3:::jada-charters-media/*"
    s3.put_bucket_policy(Bucket="jada-charters-media", Policy=json.dumps(policy))
    tables = boto3.client("dynamodb", region_name=REGION)
    tables.create_table(
        TableName="waivers",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    tables.put_item(TableName="waivers", Item={"pk": {"S": "w1"}, "signer": {"S": ITEM_CANARY}})
    boto3.client("cloudfront").create_distribution(DistributionConfig=_distribution())
    apis = boto3.client("apigatewayv2", region_name=REGION)
    api = apis.create_api(Name="ship-api", ProtocolType="HTTP")["ApiId"]
    apis.create_route(ApiId=api, RouteKey="POST /bookings", AuthorizationType="NONE")


def _distribution() -> dict[str, Any]:
    return {
        "CallerReference": "qosd",
        "Aliases": {"Quantity": 1, "Items": ["queenofsandiego.example.com"]},
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "frontend",
                    "DomainName": "qosd-frontend.s3.us-west-2.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "frontend",
            "ViewerProtocolPolicy": "allow-all",
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
        },
        "Comment": "ship captain crew",
        "Enabled": True,
    }


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "execbrief.yaml").write_text(WORKSPACE)
    return root


def _bundle(root: Path) -> tuple[Path, Bundle]:
    run = (root / "outputs" / "latest").resolve()
    return run, Bundle.model_validate_json((run / "bundle.json").read_bytes())


def _texts(*folders: Path) -> Iterator[str]:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                yield path.read_text(errors="replace")


def test_collect_against_moto_server_finds_planted_findings_and_no_canary(
    cli: Cli, moto_server: str, tmp_path: Path
) -> None:
    _plant(moto_server)
    root = _workspace(tmp_path)
    snapshot_file = tmp_path / "snapshots" / "inventory.json"

    result = cli("collect", "--workspace", root, "--aws-snapshot-out", snapshot_file)

    assert result.code == 0, result.err
    run, bundle = _bundle(root)
    assert {fact.kind for fact in bundle.facts} >= FINDINGS
    no_waf = next(fact for fact in bundle.facts if fact.kind == "aws.cloudfront.no_waf")
    assert no_waf.entity == "queenofsandiego" and "plain HTTP" in no_waf.detail
    assert read_snapshot(snapshot_file).account_id == "123456789012"
    for text in _texts(run, snapshot_file.parent):
        assert CANARY not in text and ITEM_CANARY not in text


def test_collect_with_cost_explorer_unreachable_still_finishes_with_a_gap(
    cli: Cli, moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plant(moto_server)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", f"http://127.0.0.1:{closed}")
    root = _workspace(tmp_path)

    result = cli("collect", "--workspace", root)

    assert result.code == 0, result.err
    _, bundle = _bundle(root)
    cost_gaps = [gap for gap in bundle.gaps if gap.source == "aws/global/ce"]
    assert len(cost_gaps) == 1 and "ce:GetCostAndUsage" in (cost_gaps[0].hint or "")
    assert {fact.kind for fact in bundle.facts} >= FINDINGS
