"""End to end: the security checks of issue 17 on a planted account served by moto.

`execbrief collect` reads the account of tests/aws_planted.py over HTTP through
AWS_ENDPOINT_URL; every planted problem must be found exactly once, its clean twin must
raise nothing, and no planted key value may appear in any output. What moto cannot plant
is listed in tests/aws_planted.py and covered in tests/test_aws_security_facts.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication

from execbrief.collectors.aws.collector import take_snapshot
from execbrief.collectors.aws.facts import snapshot_facts
from execbrief.config import AwsSource
from execbrief.models import Bundle, Entity, Fact
from tests.aws_planted import (
    CANARIES,
    CLEAN_ZIP,
    CODE_ZIP,
    LAYER_ZIP,
    REGION,
    Planted,
    plant,
)
from tests.conftest import Cli

pytestmark = pytest.mark.slow

WORKSPACE = """\
portfolio: Harbor Test
entities:
  - {id: queenofsandiego, name: QueenofSanDiego, aliases: [qosd]}
  - {id: jada, name: JADA}
sources:
  aws: {regions: [us-west-2]}
"""
# Every kind the checks of issue 17 emit: a fact of one of them that no planted problem
# explains is a false positive on a clean twin.
SECURITY_KINDS = {
    "aws.iam.root_no_mfa",
    "aws.iam.root_access_keys",
    "aws.iam.root_used",
    "aws.iam.no_password_policy",
    "aws.iam.user_admin",
    "aws.iam.user_no_mfa",
    "aws.iam.user_two_active_keys",
    "aws.iam.access_key_old",
    "aws.iam.unused_credentials",
    "aws.iam.privilege_escalation",
    "aws.s3.account_public_access_block_off",
    "aws.s3.public_write",
    "aws.s3.public_list",
    "aws.s3.no_secure_transport",
    "aws.s3.no_access_logging",
    "aws.lambda.secret_in_env",
    "aws.lambda.secret_in_code",
    "aws.lambda.secret_in_layer",
    "aws.lambda.public_policy",
    "aws.lambda.url_cors_wildcard",
    "aws.cloudfront.plain_http",
    "aws.cloudfront.s3_origin_no_oac",
    "aws.cloudfront.origin_bucket_missing",
    "aws.cloudfront.no_logging",
    "aws.dynamodb.no_deletion_protection",
    "aws.dynamodb.no_backup_plan",
    "aws.route53.dangling_record",
    "aws.route53.domain_no_transfer_lock",
    "aws.route53.domain_no_privacy",
    "aws.ses.identity_public_send",
}


def _matches(planted: Planted, fact: Fact) -> bool:
    return planted.raised_by(fact.kind, fact.source.resource, fact.source.section)


def assert_found_once(planted: list[Planted], facts: list[Fact]) -> None:
    """Each planted problem raises exactly one fact, and no security fact is unexplained."""
    security = [fact for fact in facts if fact.kind in SECURITY_KINDS]
    for problem in planted:
        hits = [fact for fact in security if _matches(problem, fact)]
        assert len(hits) == 1, (problem, [f.title for f in hits])
    unexplained = [f.title for f in security if not any(_matches(p, f) for p in planted)]
    assert unexplained == []


def _texts(*folders: Path) -> Iterator[str]:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                yield path.read_text(errors="replace")


def test_every_planted_problem_is_found_once_and_clean_twins_raise_nothing(
    cli: Cli, moto_server: str, tmp_path: Path
) -> None:
    planted = plant()
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "execbrief.yaml").write_text(WORKSPACE)
    snapshot_file = tmp_path / "snapshots" / "inventory.json"

    result = cli("collect", "--workspace", root, "--aws-snapshot-out", snapshot_file)

    assert result.code == 0, result.err
    run = (root / "outputs" / "latest").resolve()
    bundle = Bundle.model_validate_json((run / "bundle.json").read_bytes())
    assert_found_once([p for p in planted if not p.code], bundle.facts)
    # moto's Code.Location names an AWS host it does not serve: a gap, not a call to AWS.
    code_gaps = [gap for gap in bundle.gaps if "lambda:GetFunction" in gap.reason]
    assert len(code_gaps) == 1 and "not supported" in code_gaps[0].reason
    admin = next(fact for fact in bundle.facts if fact.kind == "aws.iam.user_admin")
    assert admin.severity == "critical" and "steals this user's access key" in admin.detail
    env = next(fact for fact in bundle.facts if fact.kind == "aws.lambda.secret_in_env")
    assert env.source.section == "env:TOKEN_A" and "sk_live_…" in env.detail
    for text in _texts(run, snapshot_file.parent):
        assert not any(canary in text for canary in CANARIES)
    for canary in CANARIES:
        assert canary not in result.out + result.err


def _served(location: str, endpoint: str) -> bytes:
    """The archives moto keeps but does not serve, by the function named in the location."""
    if location == "s3://":  # moto's layer location
        return LAYER_ZIP
    return CODE_ZIP if "qosd-payments" in location else CLEAN_ZIP


@pytest.fixture
def moto_account() -> Iterator[None]:
    with mock_aws():
        yield


def test_secrets_in_deployed_code_and_layers_are_found_masked_and_never_kept(
    moto_account: None,
) -> None:
    planted = plant()
    now = datetime.now(UTC)

    snapshot = take_snapshot(AwsSource(regions=[REGION]), now, download=_served)
    result = snapshot_facts(snapshot, [Entity(id="queenofsandiego", name="QOSD")], now)

    assert_found_once(planted, result.facts)
    code = next(fact for fact in result.facts if fact.kind == "aws.lambda.secret_in_code")
    assert code.source.section == "code:lambda_function.py:1"
    assert code.severity == "critical" and "sk_live_…" in code.detail
    layer = next(fact for fact in result.facts if fact.kind == "aws.lambda.secret_in_layer")
    assert "qosd-payments" in layer.detail
    for text in (snapshot.model_dump_json(by_alias=True), result.model_dump_json()):
        assert not any(canary in text for canary in CANARIES)


def test_denied_reads_become_gaps_naming_each_action(
    moto_account: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    plant()
    iam = boto3.client("iam")
    iam.create_user(UserName="scanner")
    # moto enforces IAM for these services only; the others answer whatever is denied.
    denied = [
        "iam:GetAccountAuthorizationDetails",
        "iam:GenerateCredentialReport",
        "s3:GetBucketPolicy",
        "s3:GetBucketLogging",
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": denied, "Resource": "*"},
        ],
    }
    iam.put_user_policy(UserName="scanner", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="scanner")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    now = datetime.now(UTC)

    with enable_iam_authentication():
        snapshot = take_snapshot(AwsSource(regions=[REGION]), now, download=_served)

    gaps = {gap.action for gap in snapshot.gaps if gap.problem == "access_denied"}
    assert gaps >= set(denied)
    facts = snapshot_facts(snapshot, [], now).facts
    kinds = {fact.kind for fact in facts}
    # A check whose input was denied raises nothing rather than a false "missing".
    assert kinds.isdisjoint(
        {
            "aws.iam.user_admin",
            "aws.iam.user_no_mfa",
            "aws.iam.privilege_escalation",
            "aws.s3.no_secure_transport",
            "aws.s3.no_access_logging",
        }
    )
    # The ACLs were still readable: their findings stand; the policy's is unknown.
    writable = {f.source.resource for f in facts if f.kind == "aws.s3.public_write"}
    assert writable == {"arn:aws:s3:::qdn-acl-write"}
    assert "aws.s3.public_list" in kinds
