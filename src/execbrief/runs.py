"""Run folders: ids, atomic writes, the manifest and the `latest` link."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from execbrief.errors import ConfigError
from execbrief.models import Bundle, Manifest, Report

LATEST = "latest"


def write_atomic(path: Path, content: bytes | str) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it.

    A killed process leaves either the old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


def append_jsonl(path: Path, record: BaseModel) -> None:
    """Append one JSON line and fsync it, so a crash never loses an acknowledged record."""
    line = record.model_dump_json() + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class RunFolder:
    """One run's folder under the workspace's outputs."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def bundle_path(self) -> Path:
        return self.path / "bundle.json"

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def ledger_path(self) -> Path:
        return self.path / "send-ledger.jsonl"

    @property
    def events_path(self) -> Path:
        """SES delivery events of this run's messages (`execbrief events`)."""
        return self.path / "delivery-events.jsonl"

    @property
    def outbox(self) -> Path:
        return self.path / "outbox"

    def persona_dir(self, persona_id: str) -> Path:
        return self.path / persona_id

    def read_bundle(self) -> Bundle:
        if not self.bundle_path.is_file():
            raise ConfigError(
                "this run has no bundle.json", path=self.path, hint="run `execbrief collect` first"
            )
        return Bundle.model_validate_json(self.bundle_path.read_bytes())

    def write_bundle(self, bundle: Bundle) -> None:
        write_atomic(self.bundle_path, bundle.model_dump_json(indent=2, by_alias=True))

    def read_manifest(self) -> Manifest:
        return Manifest.model_validate_json(self.manifest_path.read_bytes())

    def write_manifest(self, manifest: Manifest) -> None:
        write_atomic(self.manifest_path, manifest.model_dump_json(indent=2, by_alias=True))

    def report_path(self, persona_id: str) -> Path:
        return self.persona_dir(persona_id) / "report.json"

    def read_report(self, persona_id: str) -> Report:
        path = self.report_path(persona_id)
        if not path.is_file():
            raise ConfigError(
                f"persona {persona_id!r} has no report in this run",
                path=path,
                hint=f"run `execbrief generate --persona {persona_id}`",
            )
        return Report.model_validate_json(path.read_bytes())


def new_run_id(outputs: Path, now: datetime | None = None) -> str:
    """A UTC timestamp id, with a suffix when a run with that id already exists."""
    base = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    candidate, n = base, 1
    while (outputs / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def create_run(outputs: Path, now: datetime | None = None) -> RunFolder:
    """Make a new run folder and point `latest` at it."""
    outputs.mkdir(parents=True, exist_ok=True)
    while True:
        run_id = new_run_id(outputs, now)
        try:
            (outputs / run_id).mkdir()
            break
        except FileExistsError:
            continue
    _point_latest(outputs, run_id)
    return RunFolder(outputs / run_id)


def _point_latest(outputs: Path, run_id: str) -> None:
    link = outputs / LATEST
    tmp = outputs / f".{LATEST}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_id, target_is_directory=True)
    tmp.replace(link)


def previous_run(outputs: Path, run: RunFolder) -> RunFolder | None:
    """The newest run before `run` that has a bundle, if any."""
    earlier = sorted(
        p for p in outputs.iterdir() if p.is_dir() and not p.is_symlink() and p.name < run.run_id
    )
    for path in reversed(earlier):
        if (path / "bundle.json").is_file():
            return RunFolder(path)
    return None


def open_run(outputs: Path, run: str = LATEST) -> RunFolder:
    """The run named `run` (an id or `latest`) under `outputs`."""
    path = outputs / run
    if not path.is_dir():
        hint = "run `execbrief collect` or `execbrief run` first"
        if run != LATEST:
            existing = sorted(p.name for p in outputs.glob("2*") if p.is_dir())[-3:]
            hint = "recent runs: " + ", ".join(existing) if existing else hint
        raise ConfigError(f"no run {run!r}", path=outputs, hint=hint)
    return RunFolder(path.resolve())
