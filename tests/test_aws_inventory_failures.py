"""What the AWS inventory does when it cannot read: gaps, never exceptions, and no call
at all when the workspace names no AWS source."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication

from execbrief import pipeline
from execbrief.collectors.aws.collector import (
    AwsInventoryCollector,
    take_snapshot,
)
from execbrief.config import AwsSource, CollectContext, Sources, Workspace, WorkspaceConfig
from execbrief.errors import ConfigError
from execbrief.models import CollectResult, Entity, Gap

REGION = "us-west-2"
NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
ENTITIES = [Entity(id="jada", name="JADA")]


def _config(aws: AwsSource | None) -> WorkspaceConfig:
    return WorkspaceConfig(portfolio="Test", entities=ENTITIES, sources=Sources(aws=aws))


def _collect(root: Path, aws: AwsSource | None) -> CollectResult:
    return AwsInventoryCollector().collect(CollectContext(root=root, config=_config(aws), now=NOW))


@pytest.fixture
def moto_account() -> Iterator[None]:
    with mock_aws():
        yield


def _closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_cost_explorer_denied_by_iam_is_a_gap_and_other_services_are_still_read(
    moto_account: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = boto3.client("iam")
    iam.create_user(UserName="auditor")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "ce:*", "Resource": "*"},
        ],
    }
    iam.put_user_policy(UserName="auditor", PolicyName="no-cost", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="jada-charters-media", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])

    with enable_iam_authentication():
        snapshot = take_snapshot(AwsSource(regions=[REGION]), NOW)

    cost = next(gap for gap in snapshot.gaps if gap.service == "ce")
    assert (cost.action, cost.problem) == ("ce:GetCostAndUsage", "access_denied")
    assert cost.message.endswith("is not authorized to perform: ce:GetCostAndUsage")
    assert [bucket.name for bucket in snapshot.global_.s3_buckets] == ["jada-charters-media"]
    assert snapshot.cost is None


def test_unreachable_cost_explorer_endpoint_is_a_gap_naming_the_action(
    moto_account: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = _closed_loopback_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL_COST_EXPLORER", f"http://127.0.0.1:{port}")

    result = _collect(tmp_path, AwsSource(regions=[REGION]))

    assert [gap.source for gap in result.gaps] == ["aws/global/ce", f"aws/{REGION}/sesv2"]
    cost = result.gaps[0]
    assert cost.reason.startswith("endpoint unreachable on ce:GetCostAndUsage")
    assert "AWS_ENDPOINT_URL" in (cost.hint or "") and "ce:GetCostAndUsage" in (cost.hint or "")


def test_no_aws_call_is_made_without_sources_aws(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")

        result = _collect(tmp_path, None)

        assert result == CollectResult()
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever connected


def test_a_missing_snapshot_file_is_a_gap(tmp_path: Path) -> None:
    result = _collect(tmp_path, AwsSource(snapshot=Path("aws/inventory.json")))

    assert result.facts == []
    assert result.gaps == [
        Gap(
            collector="aws_inventory",
            source=str(tmp_path / "aws" / "inventory.json"),
            reason="cannot read the AWS snapshot: No such file or directory",
            hint="fix sources.aws.snapshot, or drop it to read the live account",
        )
    ]


def test_a_snapshot_of_another_schema_is_a_gap(tmp_path: Path) -> None:
    (tmp_path / "inventory.json").write_text(json.dumps({"schema": "other/2", "taken_at": "x"}))

    result = _collect(tmp_path, AwsSource(snapshot=Path("inventory.json")))

    assert len(result.gaps) == 1
    assert "not a valid execbrief.aws-snapshot/1 snapshot: schema" in result.gaps[0].reason


def test_an_unknown_profile_is_one_credentials_gap_and_no_service_is_called(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config").write_text("[default]\nregion = us-west-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))

    snapshot = take_snapshot(AwsSource(regions=[REGION], profile="charters-audit"), NOW)

    assert [(gap.service, gap.problem) for gap in snapshot.gaps] == [("sts", "credentials")]
    assert "charters-audit" in snapshot.gaps[0].message
    assert snapshot.regions == {} and snapshot.account_id is None


def test_a_configured_role_is_assumed_and_its_account_is_read(moto_account: None) -> None:
    role = "arn:aws:iam::210987654321:role/execbrief-audit"
    assumed = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="plant")["Credentials"]
    boto3.Session(
        aws_access_key_id=assumed["AccessKeyId"],
        aws_secret_access_key=assumed["SecretAccessKey"],
        aws_session_token=assumed["SessionToken"],
    ).client("s3", region_name=REGION).create_bucket(
        Bucket="audited-account-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="caller-account-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )

    snapshot = take_snapshot(AwsSource(regions=[REGION], role_arn=role), NOW)

    assert snapshot.account_id == "210987654321"
    assert [bucket.name for bucket in snapshot.global_.s3_buckets] == ["audited-account-bucket"]


@pytest.mark.parametrize(
    ("aws", "why"),
    [(None, "has no sources.aws"), (AwsSource(snapshot=Path("a.json")), "replays")],
)
def test_saving_a_live_snapshot_is_refused_without_a_live_source(
    tmp_path: Path, aws: AwsSource | None, why: str
) -> None:
    workspace = Workspace(root=tmp_path, config=_config(aws))

    with pytest.raises(ConfigError, match=why):
        pipeline.collect(workspace, aws_snapshot_out=tmp_path / "out.json")

    assert not (tmp_path / "out.json").exists()
