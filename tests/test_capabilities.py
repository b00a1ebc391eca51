"""Optional collector capabilities: declared on protocols, found by entry-point name."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from execbrief import pipeline
from execbrief.bundle import (
    Auditor,
    SnapshotWriter,
    as_auditor,
    as_snapshot_writer,
    installed_collector,
)
from execbrief.collectors.aws import AwsInventoryCollector
from execbrief.collectors.code_audit import CodeAuditCollector
from execbrief.config import AwsSource, CollectContext, Sources, Workspace, WorkspaceConfig
from execbrief.errors import ConfigError
from execbrief.models import CollectResult, Entity

NOW = datetime(2026, 11, 2, tzinfo=UTC)


class PlainCollector:
    """A third-party collector with neither capability."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ran = False

    def collect(self, ctx: CollectContext) -> CollectResult:
        self.ran = True
        return CollectResult()


def test_the_built_in_collectors_declare_their_capabilities() -> None:
    # Checked by mypy: each built-in satisfies its capability's protocol.
    writer: SnapshotWriter = AwsInventoryCollector()
    auditor: Auditor = CodeAuditCollector()

    assert isinstance(writer, SnapshotWriter) and isinstance(auditor, Auditor)
    assert not isinstance(CodeAuditCollector(), SnapshotWriter)
    assert not isinstance(AwsInventoryCollector(), Auditor)


def test_capabilities_are_found_through_the_entry_points(tmp_path: Path) -> None:
    writer = as_snapshot_writer(installed_collector("aws_inventory", "x"), "x")
    saving = writer.with_snapshot_out(tmp_path / "snap.json")
    assert isinstance(saving, AwsInventoryCollector)
    assert saving.snapshot_out == tmp_path / "snap.json"
    assert isinstance(writer, AwsInventoryCollector)
    assert writer.snapshot_out is None  # the installed one is left as it was

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "keys.py").write_text('TOKEN = "ghp_' + "A1b2C3d4E5f6G7h8I9j0" * 2 + '"\n')
    auditor = as_auditor(installed_collector("code_audit", "execbrief audit"), "execbrief audit")
    result = auditor.audit([repo], {"secrets"}, NOW, "re", False)

    assert [f.kind for f in result.facts] == ["secret.hardcoded"]
    assert result.facts[0].entity is None


def test_a_collector_without_the_capability_is_refused_with_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        as_auditor(PlainCollector("code_audit"), "execbrief audit")

    assert str(caught.value.message) == (
        "collector 'code_audit' has no Auditor capability, which execbrief audit needs"
    )
    assert caught.value.hint and "'code_audit'" in caught.value.hint

    with pytest.raises(ConfigError, match="no SnapshotWriter capability"):
        as_snapshot_writer(PlainCollector("aws_inventory"), "--aws-snapshot-out")


def test_a_name_no_entry_point_registers_is_refused_listing_the_installed() -> None:
    with pytest.raises(ConfigError, match="no collector 'nope' is installed") as caught:
        installed_collector("nope", "execbrief audit", {"a": lambda: PlainCollector("a")})

    assert caught.value.hint == "reinstall execbrief; installed collectors: a"


def _live_aws_workspace(root: Path) -> Workspace:
    config = WorkspaceConfig(
        portfolio="Test",
        entities=[Entity(id="acme", name="Acme")],
        sources=Sources(aws=AwsSource(regions=["us-west-2"])),
    )
    return Workspace(root=root, config=config)


def test_snapshot_out_with_an_aws_collector_that_cannot_write_is_refused(tmp_path: Path) -> None:
    workspace = _live_aws_workspace(tmp_path)
    stand_in = PlainCollector("aws_inventory")

    with pytest.raises(ConfigError, match="'aws_inventory' has no SnapshotWriter capability"):
        pipeline.collect(workspace, collectors=[stand_in], aws_snapshot_out=tmp_path / "o.json")

    assert not stand_in.ran
    assert not (tmp_path / "o.json").exists()


def test_other_collectors_pass_through_snapshot_out_untouched(tmp_path: Path) -> None:
    workspace = _live_aws_workspace(tmp_path)
    other = PlainCollector("third_party")

    pipeline.collect(workspace, collectors=[other], aws_snapshot_out=tmp_path / "o.json", now=NOW)

    assert other.ran
