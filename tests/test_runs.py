"""Run folders: ids, the latest link, atomic writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from execbrief.errors import ConfigError
from execbrief.files import write_atomic
from execbrief.runs import create_run, open_run

NOW = datetime(2026, 11, 25, 14, 15, 0, tzinfo=UTC)


def test_run_ids_are_utc_timestamps_with_a_suffix_on_collision(tmp_path: Path) -> None:
    first = create_run(tmp_path, NOW)
    second = create_run(tmp_path, NOW)

    assert first.run_id == "20261125T141500Z"
    assert second.run_id == "20261125T141500Z-2"
    assert (tmp_path / "latest").resolve() == second.path
    assert str((tmp_path / "latest").readlink()) == second.run_id  # relative, survives a move


def test_open_run_resolves_latest_and_names_missing_runs(tmp_path: Path) -> None:
    run = create_run(tmp_path, NOW)

    assert open_run(tmp_path).path == run.path
    with pytest.raises(ConfigError, match="no run 'nope'") as caught:
        open_run(tmp_path, "nope")
    assert caught.value.hint is not None and run.run_id in caught.value.hint


def test_atomic_write_leaves_no_temporary_file_and_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "report.json"
    write_atomic(target, "one")
    write_atomic(target, b"two")

    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    write_atomic(target, "old")

    with pytest.raises(TypeError):
        write_atomic(target, 42)  # type: ignore[arg-type]  # a wrong value must not truncate

    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
